//! Receiving batches over MQTT: subscribe to every gateway's batch topic, store, then publish
//! the ack on that gateway's ack topic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hadir_upstream::{Ack, AckStatus, Batch, VERSION};
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
    let (work_tx, mut work_rx) = mpsc::channel::<(String, Vec<u8>)>(64);

    let worker_client = client.clone();
    let worker = tokio::spawn(async move {
        while let Some((topic, payload)) = work_rx.recv().await {
            let Some(gateway) = topic.split('/').nth(2).map(str::to_string) else {
                continue;
            };
            let ack = match serde_json::from_slice::<Batch>(&payload) {
                Ok(batch) => {
                    let db = db.clone();
                    let behaviour = behaviour.clone();
                    match tokio::task::spawn_blocking(move || behaviour.handle(&db, &batch)).await {
                        Ok(ack) => ack,
                        Err(e) => {
                            tracing::error!(error = %e, "batch handler panicked");
                            continue;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(%gateway, error = %e, "unparseable batch");
                    Ack {
                        v: VERSION,
                        batch_id: String::new(),
                        status: AckStatus::Rejected,
                        stored: 0,
                        duplicates: 0,
                        reason: Some(format!("not a batch: {e}")),
                    }
                }
            };
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
    worker.abort();
    Ok(())
}
