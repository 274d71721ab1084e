//! A simulated check-in tablet: connects to the embedded broker with its provisioned
//! credentials, seals check-ins with the documented envelope and opens the replies. Used by
//! `hadir demo` and the soak runner; it speaks exactly what a real tablet app must speak.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot};

use crate::tablets::envelope::{self, TabletKey};
use crate::tablets::intake::Reply;
use crate::tablets::provision::Provisioning;

/// Replies a tablet buffers before its event loop waits for the caller.
const REPLY_QUEUE: usize = 16;

/// A connected, simulated tablet.
pub struct SimTablet {
    id: String,
    key: TabletKey,
    client: AsyncClient,
    replies: mpsc::Receiver<Vec<u8>>,
}

impl SimTablet {
    /// Connects to the broker at `addr` as the provisioned tablet and subscribes to its replies.
    pub async fn connect(addr: SocketAddr, p: &Provisioning) -> anyhow::Result<SimTablet> {
        let secret = envelope::parse_secret(&p.secret_key).context("tablet secret key")?;
        let gateway = envelope::parse_public(&p.gateway_key).context("gateway public key")?;
        let key = TabletKey::derive(&secret, &gateway, &p.tablet);
        let mut opts = MqttOptions::new(&p.tablet, addr.ip().to_string(), addr.port());
        opts.set_credentials(&p.tablet, &p.password);
        opts.set_max_packet_size(2 << 20, 2 << 20);
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = AsyncClient::new(opts, 16);
        let reply_topic = envelope::reply_topic(&p.tablet);
        client
            .subscribe(reply_topic.clone(), QoS::AtLeastOnce)
            .await
            .context("queueing the reply subscription")?;
        let (tx, replies) = mpsc::channel(REPLY_QUEUE);
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        let resubscriber = client.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Ok(()));
                        }
                    }
                    // A clean session forgets subscriptions: subscribe again after a reconnect.
                    Ok(Event::Incoming(Packet::ConnAck(_))) if ready.is_none() => {
                        let _ = resubscriber.try_subscribe(reply_topic.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::Publish(m))) if m.topic == reply_topic => {
                        if tx.send(m.payload.to_vec()).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(e.to_string()));
                            return;
                        }
                        if tx.is_closed() {
                            return;
                        }
                        // The gateway restarts in the soak; reconnect as a real app would.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(10), ready_rx).await {
            Ok(Ok(Ok(()))) => Ok(SimTablet {
                id: p.tablet.clone(),
                key,
                client,
                replies,
            }),
            Ok(Ok(Err(e))) => anyhow::bail!("broker refused tablet {}: {e}", p.tablet),
            Ok(Err(_)) | Err(_) => anyhow::bail!("tablet {}: no SUBACK within 10 s", p.tablet),
        }
    }

    /// The tablet id (MQTT client id and username).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals and publishes a check-in, then waits up to `within` for the gateway's reply.
    pub async fn check_in(
        &mut self,
        payload: &serde_json::Value,
        within: Duration,
    ) -> anyhow::Result<Reply> {
        while self.replies.try_recv().is_ok() {}
        let topic = envelope::checkin_topic(&self.id);
        let mut payload = payload.clone();
        payload["tablet"] = self.id.clone().into();
        let sealed = self.key.seal(&topic, payload.to_string().as_bytes());
        self.client
            .publish(topic, QoS::AtLeastOnce, false, sealed)
            .await
            .context("queueing the check-in")?;
        let nonce = payload["nonce"].as_str().unwrap_or_default().to_string();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let bytes = tokio::time::timeout_at(deadline, self.replies.recv())
                .await
                .map_err(|_| anyhow::anyhow!("no reply within {} s", within.as_secs()))?
                .context("the tablet's connection task ended")?;
            let topic = envelope::reply_topic(&self.id);
            let plain = self.key.open(&topic, &bytes).unwrap_or(bytes);
            let reply: Reply = serde_json::from_slice(&plain).context("reply is not JSON")?;
            // A late reply to an earlier (timed-out) check-in is skipped.
            if reply.nonce.as_deref().is_none_or(|n| n == nonce) {
                return Ok(reply);
            }
        }
    }

    /// Disconnects politely.
    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}

/// A check-in as a tablet app sends it (`docs/tablet-protocol.md`, version 1), before the
/// envelope: what the demo, the soak runner and the tests submit.
#[derive(Clone, Debug)]
pub struct Checkin<'a> {
    /// The employee's NIP.
    pub nip: &'a str,
    /// `regular`, `wfh` or `dinas-luar`.
    pub mode: &'a str,
    /// Latitude and longitude, degrees.
    pub at: (f64, f64),
    /// The fix's reported accuracy, metres.
    pub accuracy_m: f64,
    /// The office QR code scanned at the door.
    pub qr: &'a str,
    /// The selfie (JPEG bytes).
    pub photo: &'a [u8],
    /// Unique per check-in.
    pub nonce: String,
    /// The tablet's UTC offset for `client_time`, hours (WITA: 8).
    pub utc_offset_h: i8,
}

impl Checkin<'_> {
    /// The payload as JSON, `client_time` now; an honest GPS fix (provider `gps`, not mocked).
    pub fn to_json(&self) -> serde_json::Value {
        use base64::Engine as _;
        let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(self.utc_offset_h));
        serde_json::json!({
            "v": 1,
            "nip": self.nip,
            "client_time": jiff::Timestamp::now().to_zoned(zone).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "mode": self.mode,
            "location": {
                "lat": self.at.0, "lon": self.at.1, "accuracy_m": self.accuracy_m,
                "provider": "gps", "mock": false
            },
            "qr": self.qr,
            "photo": base64::engine::general_purpose::STANDARD.encode(self.photo),
            "nonce": self.nonce,
        })
    }
}

/// A small, unique JPEG "selfie" (a block pattern derived from `seed`). Different seeds give
/// photos far apart in perceptual hash, so only a deliberate replay looks like one.
pub fn selfie(seed: u64) -> Vec<u8> {
    let (w, h) = (96u16, 128u16);
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut blocks = [0u8; 64];
    for b in blocks.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x & 0xff) as u8;
    }
    let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for yy in 0..usize::from(h) {
        for xx in 0..usize::from(w) {
            let v = blocks[(yy * 8 / usize::from(h)) * 8 + xx * 8 / usize::from(w)];
            pixels.extend_from_slice(&[v, v.wrapping_add(40), 255 - v]);
        }
    }
    let mut out = Vec::new();
    // Encoding a fixed-size RGB buffer into memory cannot fail; an empty photo would simply
    // be refused by the gateway with a reason.
    let _ = jpeg_encoder::Encoder::new(&mut out, 85).encode(
        &pixels,
        w,
        h,
        jpeg_encoder::ColorType::Rgb,
    );
    out
}
