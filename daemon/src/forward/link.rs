//! The two ways to reach the provincial server. Both deliver acks on one channel, so the
//! forwarder's logic does not depend on the transport.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hadir_config::{SecretString, Upstream, UpstreamMode};
use hadir_upstream::{Ack, AckStatus, Batch, VERSION};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::{mpsc, Notify};

use super::{ForwardError, ForwardStatus};

/// A connection to the provincial server.
pub(crate) enum Link {
    /// MQTT: batches published QoS 1; acks arrive on the ack topic.
    Mqtt {
        client: AsyncClient,
        batch_topic: String,
        status: Arc<Mutex<ForwardStatus>>,
        /// Signalled when the subscription to the ack topic is confirmed.
        connected: Arc<Notify>,
        task: tokio::task::JoinHandle<()>,
    },
    /// HTTPS: one POST per batch; the answer is the ack.
    Https {
        client: reqwest::Client,
        url: String,
        credentials: Option<(String, SecretString)>,
        acks: mpsc::Sender<Ack>,
    },
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Link::Mqtt { task, .. } = self {
            task.abort();
        }
    }
}

impl Link {
    /// Sets up the link; MQTT connects in the background and reconnects by itself.
    pub(crate) fn open(
        cfg: &Upstream,
        gateway: &str,
        password: Option<SecretString>,
        acks: mpsc::Sender<Ack>,
        status: Arc<Mutex<ForwardStatus>>,
    ) -> Result<Link, ForwardError> {
        match cfg.mode {
            UpstreamMode::None => Err(ForwardError::Config("upstream.mode is none".into())),
            UpstreamMode::Mqtt => open_mqtt(cfg, gateway, password, acks, status),
            UpstreamMode::Https => {
                let mut builder = reqwest::Client::builder()
                    .timeout(Duration::from_secs(cfg.ack_timeout_s.max(5)))
                    .connect_timeout(Duration::from_secs(10))
                    .user_agent(concat!("hadir/", env!("CARGO_PKG_VERSION")));
                if let Some(ca) = &cfg.ca_file {
                    let pem = read(ca)?;
                    let cert = reqwest::Certificate::from_pem(&pem)
                        .map_err(|e| ForwardError::Config(format!("upstream.ca_file: {e}")))?;
                    builder = builder.add_root_certificate(cert);
                }
                if let (Some(cert), Some(key)) = (&cfg.client_cert_file, &cfg.client_key_file) {
                    let mut pem = read(cert)?;
                    pem.extend(read(key)?);
                    let id = reqwest::Identity::from_pem(&pem)
                        .map_err(|e| ForwardError::Config(format!("client certificate: {e}")))?;
                    builder = builder.identity(id);
                }
                let client = builder
                    .build()
                    .map_err(|e| ForwardError::Config(format!("HTTPS client: {e}")))?;
                let credentials = (!cfg.username.is_empty()).then(|| {
                    (
                        cfg.username.clone(),
                        password.unwrap_or_else(|| SecretString::new("")),
                    )
                });
                if let Ok(mut s) = status.lock() {
                    s.connected = true;
                }
                Ok(Link::Https {
                    client,
                    url: cfg.url.clone(),
                    credentials,
                    acks,
                })
            }
        }
    }

    /// Whether a batch can be sent now.
    pub(crate) fn ready(&self) -> bool {
        match self {
            Link::Mqtt { status, .. } => status.lock().map(|s| s.connected).unwrap_or(false),
            Link::Https { .. } => true,
        }
    }

    /// Resolves when the link has (re)connected since the last call; never for HTTPS, which is
    /// always ready.
    pub(crate) async fn connected(&self) {
        match self {
            Link::Mqtt { connected, .. } => connected.notified().await,
            Link::Https { .. } => std::future::pending().await,
        }
    }

    /// Sends one batch. For HTTPS the ack is on the channel when this returns.
    pub(crate) async fn send(&self, batch: &Batch, body: Vec<u8>) -> Result<(), ForwardError> {
        match self {
            Link::Mqtt {
                client,
                batch_topic,
                ..
            } => {
                let publish = client.publish(batch_topic.clone(), QoS::AtLeastOnce, false, body);
                match tokio::time::timeout(Duration::from_secs(10), publish).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(ForwardError::Transport(format!("MQTT publish: {e}"))),
                    Err(_) => Err(ForwardError::Transport("MQTT publish queue stalled".into())),
                }
            }
            Link::Https {
                client,
                url,
                credentials,
                acks,
            } => {
                let mut req = client
                    .post(url)
                    .header("Idempotency-Key", &batch.batch_id)
                    .header("Content-Type", "application/json")
                    .body(body);
                if let Some((user, pass)) = credentials {
                    req = req.basic_auth(user, Some(pass.expose()));
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| ForwardError::Transport(format!("HTTPS POST: {e}")))?;
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                let parsed: Option<Ack> = serde_json::from_str(&text).ok();
                let ack = if status.is_success() {
                    parsed.unwrap_or(Ack {
                        v: VERSION,
                        batch_id: batch.batch_id.clone(),
                        status: AckStatus::Stored,
                        stored: 0,
                        duplicates: 0,
                        reason: None,
                    })
                } else if status.is_client_error()
                    && status.as_u16() != 401
                    && status.as_u16() != 429
                {
                    Ack {
                        v: VERSION,
                        batch_id: batch.batch_id.clone(),
                        status: AckStatus::Rejected,
                        stored: 0,
                        duplicates: 0,
                        reason: Some(
                            parsed
                                .and_then(|a| a.reason)
                                .unwrap_or_else(|| format!("HTTP {status}")),
                        ),
                    }
                } else {
                    return Err(ForwardError::Transport(format!(
                        "server answered HTTP {status}"
                    )));
                };
                acks.send(ack)
                    .await
                    .map_err(|_| ForwardError::Transport("ack channel closed".into()))
            }
        }
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, ForwardError> {
    std::fs::read(path)
        .map_err(|e| ForwardError::Config(format!("cannot read {}: {e}", path.display())))
}

fn open_mqtt(
    cfg: &Upstream,
    gateway: &str,
    password: Option<SecretString>,
    acks: mpsc::Sender<Ack>,
    status: Arc<Mutex<ForwardStatus>>,
) -> Result<Link, ForwardError> {
    let (tls, rest) = if let Some(r) = cfg.url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = cfg.url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        return Err(ForwardError::Config(format!(
            "upstream.url {:?} is not mqtt:// or mqtts://",
            cfg.url
        )));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>().map_err(|_| {
                ForwardError::Config(format!("bad port in upstream.url {:?}", cfg.url))
            })?,
        ),
        None => (rest.to_string(), if tls { 8883 } else { 1883 }),
    };
    let mut opts = MqttOptions::new(format!("hadir-{gateway}"), host, port);
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(64 << 20, 64 << 20);
    if !cfg.username.is_empty() {
        let pass = password.map(|p| p.expose().to_string()).unwrap_or_default();
        opts.set_credentials(cfg.username.clone(), pass);
    }
    if tls {
        opts.set_transport(Transport::tls_with_config(tls_config(cfg)?));
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    // Acks and PUBACKs are small writes that must not wait for Nagle's algorithm (up to a
    // delayed-ACK timeout, 40 ms on Linux, per exchange).
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let ack_topic = format!("{}/{gateway}/ack", cfg.topic_prefix);
    let batch_topic = format!("{}/{gateway}/batch", cfg.topic_prefix);
    let sub_client = client.clone();
    let task_status = status.clone();
    let connected = Arc::new(Notify::new());
    let task_connected = connected.clone();
    let task = tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    delay = Duration::from_millis(500);
                    if let Err(e) = sub_client
                        .subscribe(ack_topic.clone(), QoS::AtLeastOnce)
                        .await
                    {
                        tracing::warn!(error = %e, "cannot subscribe to the ack topic");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Ok(mut s) = task_status.lock() {
                        if !s.connected {
                            tracing::info!("connected to the provincial broker");
                        }
                        s.connected = true;
                        s.last_error = None;
                    }
                    task_connected.notify_one();
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ack_topic => {
                    match serde_json::from_slice::<Ack>(&p.payload) {
                        Ok(ack) => {
                            if acks.try_send(ack).is_err() {
                                tracing::warn!(
                                    "ack queue full; the batch will be re-sent and de-duplicated"
                                );
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable ack from the provincial server")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if let Ok(mut s) = task_status.lock() {
                        if s.connected {
                            tracing::warn!(error = %e, "lost the provincial broker ({e}); records stay queued");
                        }
                        s.connected = false;
                        s.last_error = Some(e.to_string());
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    });
    Ok(Link::Mqtt {
        client,
        batch_topic,
        status,
        connected,
        task,
    })
}

fn tls_config(cfg: &Upstream) -> Result<TlsConfiguration, ForwardError> {
    let client_auth = match (&cfg.client_cert_file, &cfg.client_key_file) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        _ => None,
    };
    if let Some(ca) = &cfg.ca_file {
        return Ok(TlsConfiguration::Simple {
            ca: read(ca)?,
            alpn: None,
            client_auth,
        });
    }
    if client_auth.is_some() {
        return Err(ForwardError::Config(
            "a client certificate over mqtts:// needs upstream.ca_file".into(),
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for cert in loaded.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(ForwardError::Config(
            "no system CA certificates found (install ca-certificates or set upstream.ca_file)"
                .into(),
        ));
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}
