//! Receiving batches over MQTT: subscribe to every gateway's batch topic, check each batch's
//! signature and hashes as it arrives (several at once), store the batches waiting in one
//! durable commit, then publish each one's ack on its gateway's ack topic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hadir_upstream::{Ack, AckStatus, Batch, VerifyError, VERSION};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

use crate::http::Behaviour;
use crate::ReceiverDb;

/// Topic filter for every gateway's batches.
pub const BATCH_FILTER: &str = "hadir/v1/+/batch";

/// The ack topic of a gateway.
pub fn ack_topic(gateway: &str) -> String {
    format!("hadir/v1/{gateway}/ack")
}

/// Connection settings for the broker.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Username and password, if the broker requires them.
    pub credentials: Option<(String, String)>,
    /// MQTT client id (a persistent session is kept under it).
    pub client_id: String,
}

/// Serves until the connection fails permanently (it retries every second meanwhile).
/// `ready` is called once the subscription is acknowledged.
pub async fn serve(
    db: Arc<Mutex<ReceiverDb>>,
    settings: BrokerSettings,
    behaviour: Behaviour,
    ready: impl FnOnce() + Send,
) -> anyhow::Result<()> {
    let mut opts = MqttOptions::new(
        settings.client_id.clone(),
        settings.host.clone(),
        settings.port,
    );
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(15));
    opts.set_max_packet_size(64 << 20, 64 << 20);
    if let Some((u, p)) = &settings.credentials {
        opts.set_credentials(u.clone(), p.clone());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    // Acks and PUBACKs are small writes that must not wait for Nagle's algorithm (up to a
    // delayed-ACK timeout, 40 ms on Linux, per exchange).
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let (work_tx, mut work_rx) = mpsc::channel::<(String, Vec<u8>)>(64);
    let (checked_tx, mut checked_rx) =
        mpsc::channel::<tokio::task::JoinHandle<Option<Checked>>>(64);

    // Parsing and signature/hash checks run on the blocking pool, several batches at once,
    // while the store commits earlier ones; the handles keep arrival order.
    let checker = tokio::spawn(async move {
        while let Some((topic, payload)) = work_rx.recv().await {
            let handle = tokio::task::spawn_blocking(move || check(&topic, &payload));
            if checked_tx.send(handle).await.is_err() {
                break;
            }
        }
    });

    let worker_client = client.clone();
    let worker = tokio::spawn(async move {
        while let Some(first) = checked_rx.recv().await {
            // Everything already waiting goes into one transaction: one durable commit.
            let mut checked = Vec::new();
            let mut records = 0;
            let mut next = Some(first);
            while let Some(handle) = next.take() {
                match handle.await {
                    Ok(Some(c)) => {
                        records += c.records();
                        checked.push(c);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "batch check panicked"),
                }
                if behaviour.delay.is_zero()
                    && checked.len() < MAX_GROUP_BATCHES
                    && records < MAX_GROUP_RECORDS
                {
                    next = checked_rx.try_recv().ok();
                }
            }
            let db = db.clone();
            let behaviour = behaviour.clone();
            let acks =
                tokio::task::spawn_blocking(move || store_checked(&db, &behaviour, checked)).await;
            let acks = match acks {
                Ok(acks) => acks,
                Err(e) => {
                    tracing::error!(error = %e, "batch handler panicked");
                    continue;
                }
            };
            for (gateway, ack) in acks {
                let Ok(body) = serde_json::to_vec(&ack) else {
                    continue;
                };
                if let Err(e) = worker_client
                    .publish(ack_topic(&gateway), QoS::AtLeastOnce, false, body)
                    .await
                {
                    tracing::warn!(error = %e, "cannot queue ack");
                }
            }
        }
    });

    let mut ready = Some(ready);
    let mut subscribed = false;
    loop {
        match eventloop.poll().await {
            // Subscribe whenever the broker has no session for us: the first time, and after a
            // broker restart that lost its persistence (a SIGKILL between autosaves).
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if !subscribed || !ack.session_present {
                    client.subscribe(BATCH_FILTER, QoS::AtLeastOnce).await?;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                subscribed = true;
                if let Some(r) = ready.take() {
                    r();
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if work_tx
                    .send((p.topic.clone(), p.payload.to_vec()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "broker connection lost; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    checker.abort();
    worker.abort();
    Ok(())
}

/// Most batches committed together.
const MAX_GROUP_BATCHES: usize = 64;
/// Stop adding batches to a group past this many records.
const MAX_GROUP_RECORDS: usize = 20_000;

/// A received message after parsing and checking: its gateway (from the topic) and either the
/// batch with the verdict of [`Batch::verify`] or why it is not a batch.
struct Checked {
    gateway: String,
    batch: Result<(Batch, Result<(), VerifyError>), String>,
}

impl Checked {
    fn records(&self) -> usize {
        self.batch.as_ref().map_or(0, |(b, _)| b.records.len())
    }
}

/// Parses and verifies one message; `None` when its topic names no gateway.
fn check(topic: &str, payload: &[u8]) -> Option<Checked> {
    let gateway = topic.split('/').nth(2)?.to_string();
    let batch = match serde_json::from_slice::<Batch>(payload) {
        Ok(batch) => {
            let verdict = batch.verify();
            Ok((batch, verdict))
        }
        Err(e) => {
            tracing::warn!(%gateway, error = %e, "unparseable batch");
            Err(format!("not a batch: {e}"))
        }
    };
    Some(Checked { gateway, batch })
}

/// Stores the checked batches in one transaction and returns each one's ack with the gateway
/// to send it to, in order.
fn store_checked(
    db: &Mutex<ReceiverDb>,
    behaviour: &Behaviour,
    checked: Vec<Checked>,
) -> Vec<(String, Ack)> {
    let mut batches = Vec::with_capacity(checked.len());
    for c in &checked {
        if let Ok((batch, verdict)) = &c.batch {
            batches.push((batch, verdict.clone()));
        }
    }
    let started = std::time::Instant::now();
    let count = batches.len();
    let mut acks = behaviour.handle_checked(db, batches).into_iter();
    tracing::debug!(
        batches = count,
        ms = started.elapsed().as_millis() as u64,
        "group committed"
    );
    checked
        .into_iter()
        .filter_map(|c| {
            let ack = match c.batch {
                Ok(_) => acks.next()?,
                Err(reason) => Ack {
                    v: VERSION,
                    batch_id: String::new(),
                    status: AckStatus::Rejected,
                    stored: 0,
                    duplicates: 0,
                    reason: Some(reason),
                },
            };
            Some((c.gateway, ack))
        })
        .collect()
}
