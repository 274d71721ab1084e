//! The check-in pipeline: broker link → open envelope → parse → inspect photo → gather history →
//! verify → store (durable) → reply. A reply is published only after the check-in is committed,
//! so a reply with a receipt means the record survives a crash. A tablet that gets no reply
//! re-sends the same envelope (same nonce); the gateway then answers with the stored reply.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hadir_config::Config;
use jiff::tz::TimeZone;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::Notification;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};
use x25519_dalek::StaticSecret;

use super::envelope::{self, TabletKey};
use super::payload;
use super::recent_photos::RecentPhotos;
use super::timing::{self, Stage};
use crate::store::{
    CheckinHistory, CheckinOutcome, CheckinRecord, HistoryQuery, Store, StoreError, TabletRow,
};
use crate::verify::{
    self, photo, CheckIn, Context, Location, Mode, PhotoSeen, PreviousFix, TravelOrder,
};

/// Photo hashes remembered for near-duplicate detection.
pub(crate) const DHASH_WINDOW: usize = 50_000;
/// Photos up to this size are inspected on the async worker; larger ones on the blocking pool.
const INLINE_PHOTO_BYTES: usize = 16 << 10;
/// Radius around a registered home that counts as "at home", metres.
const HOME_RADIUS_M: f64 = 150.0;

/// Keys of the registered, unrevoked tablets.
#[derive(Clone, Default)]
pub struct TabletKeys(Arc<RwLock<HashMap<String, TabletKey>>>);

impl TabletKeys {
    /// Derives the key of every unrevoked tablet.
    pub fn load(&self, gateway: &StaticSecret, tablets: &[TabletRow]) {
        let map = tablets
            .iter()
            .filter(|t| t.revoked_utc.is_none())
            .filter_map(|t| {
                let public = envelope::parse_public(&t.public_key)?;
                Some((t.id.clone(), TabletKey::derive(gateway, &public, &t.id)))
            })
            .collect();
        if let Ok(mut m) = self.0.write() {
            *m = map;
        }
    }

    fn get(&self, id: &str) -> Option<TabletKey> {
        self.0.read().ok()?.get(id).cloned()
    }
}

/// One reason in a reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyReason {
    /// Stable reason code.
    pub code: String,
    /// `info`, `review` or `reject`.
    pub severity: String,
    /// Bahasa Indonesia.
    pub id: String,
    /// English.
    pub en: String,
}

/// What the tablet is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    /// Protocol version.
    pub v: u32,
    /// The nonce of the check-in answered (absent when it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `accepted`, `needs-review`, `rejected`, or `error` (nothing stored).
    pub verdict: String,
    /// The stored record's id; present only when the check-in was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// Whether it counts towards today's attendance (false for a repeat within the window).
    pub counted: bool,
    /// One-line summary, Bahasa Indonesia.
    pub message_id: String,
    /// One-line summary, English.
    pub message_en: String,
    /// The reasons behind the verdict.
    pub reasons: Vec<ReplyReason>,
    /// Gateway clock (UTC).
    pub server_time: String,
}

impl Reply {
    fn error(nonce: Option<String>, code: &str, id: String, en: String) -> Reply {
        Reply {
            v: 1,
            nonce,
            verdict: "error".into(),
            receipt: None,
            counted: false,
            message_id: id.clone(),
            message_en: en.clone(),
            reasons: vec![ReplyReason {
                code: code.into(),
                severity: "reject".into(),
                id,
                en,
            }],
            server_time: jiff::Timestamp::now().to_string(),
        }
    }
}

/// The pipeline's shared state.
pub struct Intake {
    pub(crate) store: Store,
    pub(crate) config: Arc<Config>,
    pub(crate) tz: TimeZone,
    pub(crate) keys: TabletKeys,
    pub(crate) qr_secret: Arc<Vec<u8>>,
    /// Perceptual hashes of recent selfies (near-duplicate search), updated by the writer.
    pub(crate) recent_photos: Arc<Mutex<RecentPhotos>>,
    pub(crate) link_tx: Mutex<LinkTx>,
    /// The face-check pool (`None` = not configured: "not performed").
    pub(crate) face: Option<crate::face::FacePool>,
}

impl Intake {
    /// Reads check-ins from the broker link and handles up to `concurrency` at a time, until
    /// shutdown. Check-ins in progress at shutdown finish (or are dropped unanswered, and the
    /// tablet re-sends).
    pub async fn run(
        self: Arc<Self>,
        mut link_rx: LinkRx,
        concurrency: usize,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let next = tokio::select! {
                n = link_rx.next() => n,
                _ = shutdown.changed() => break,
            };
            let notification = match next {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "lost the link to the tablet broker; check-ins stop");
                    break;
                }
            };
            let forward = match notification {
                Notification::Forward(forward) => forward,
                // The router stopped feeding this link because its buffer was full (a backlog
                // of more than ~200 check-ins). It feeds it again only when asked: without this,
                // a burst left the gateway answering a few check-ins a second.
                Notification::Unschedule => {
                    if let Err(e) = link_rx.wake().await {
                        tracing::error!(error = %e, "lost the link to the tablet broker; check-ins stop");
                        break;
                    }
                    continue;
                }
                _ => continue,
            };
            let topic = String::from_utf8_lossy(&forward.publish.topic).to_string();
            let payload = forward.publish.payload;
            let arrived = std::time::Instant::now();
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let me = self.clone();
            running.spawn(async move {
                let _permit = permit;
                timing::lap(Stage::Queue, arrived);
                if let Some((tablet, reply)) = me.handle(&topic, &payload).await {
                    me.publish_reply(&tablet, reply);
                }
            });
        }
        while running.join_next().await.is_some() {}
    }

    fn publish_reply(&self, tablet: &str, mut body: Vec<u8>) {
        let topic = envelope::reply_topic(tablet);
        // The broker keeps the last replies of every tablet in its reply-topic log; without
        // this each kept reply also keeps the spare capacity its serializer grew (about 2×).
        body.shrink_to_fit();
        match self.link_tx.lock() {
            Ok(mut tx) => {
                if let Err(e) = tx.publish(topic, body) {
                    tracing::warn!(tablet, error = %e, "cannot publish reply; the tablet will retry and get the stored reply");
                }
            }
            Err(_) => tracing::error!("reply link poisoned"),
        }
    }

    /// Handles one message; returns the tablet and the reply bytes to publish.
    pub async fn handle(&self, topic: &str, payload: &[u8]) -> Option<(String, Vec<u8>)> {
        let started = std::time::Instant::now();
        let parts: Vec<&str> = topic.split('/').collect();
        let tablet = match parts.as_slice() {
            ["hadir", "tablet", id, "checkin"] if !id.is_empty() => id.to_string(),
            _ => return None,
        };
        let plain = |r: Reply| serde_json::to_vec(&r).ok();
        let Some(key) = self.keys.get(&tablet) else {
            tracing::warn!(tablet, "check-in from an unknown or revoked tablet");
            let r = Reply::error(
                None,
                "input.unknown-tablet",
                "Tablet tidak terdaftar atau dicabut".into(),
                "Tablet is not registered or was revoked".into(),
            );
            return plain(r).map(|b| (tablet, b));
        };
        let reply_topic = envelope::reply_topic(&tablet);
        let sealed = |r: &Reply| {
            serde_json::to_vec(r)
                .map(|b| key.seal(&reply_topic, &b))
                .ok()
        };
        let opened = match key.open(topic, payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(tablet, error = %e, "check-in from tablet {tablet} refused: {e}");
                let r = Reply::error(
                    None,
                    "input.envelope",
                    format!("Pesan ditolak: {e}"),
                    format!("Message refused: {e}"),
                );
                return plain(r).map(|b| (tablet, b));
            }
        };
        let photo_max = self.config.verification.photo_max_kb as usize * 1024;
        let checkin = match payload::parse(&opened, photo_max) {
            Ok(c) => c,
            Err(e) => {
                let r = Reply::error(
                    None,
                    "input.payload",
                    format!("Data check-in tidak valid: {e}"),
                    format!("Invalid check-in: {e}"),
                );
                return sealed(&r).map(|b| (tablet, b));
            }
        };
        let nonce = checkin.fields.nonce.clone();
        if checkin.fields.tablet != tablet {
            let r = Reply::error(
                Some(nonce),
                "input.tablet-mismatch",
                "ID tablet tidak sesuai topik".into(),
                "Tablet id does not match the topic".into(),
            );
            return sealed(&r).map(|b| (tablet, b));
        }
        let parsed = timing::lap(Stage::Parse, started);
        let outcome = self.process(&tablet, checkin, parsed).await;
        timing::handled();
        match outcome {
            Ok(reply) => sealed(&reply).map(|b| (tablet, b)),
            Err(r) => sealed(&r).map(|b| (tablet, b)),
        }
    }

    async fn process(
        &self,
        tablet: &str,
        c: payload::Checkin,
        started: std::time::Instant,
    ) -> Result<Reply, Reply> {
        let nonce = c.fields.nonce.clone();
        let store_err = |e: StoreError| {
            let (code, id, en) = match &e {
                StoreError::Full(_) => (
                    "storage.full",
                    "Penyimpanan gateway penuh; coba lagi nanti",
                    "Gateway storage is full; try again later",
                ),
                _ => (
                    "storage.error",
                    "Gateway sedang bermasalah; coba lagi",
                    "Gateway error; try again",
                ),
            };
            tracing::warn!(error = %e, "check-in not stored: {e}");
            Reply::error(Some(nonce.clone()), code, id.into(), en.into())
        };
        let received = jiff::Timestamp::now();
        let received_local = received.to_zoned(self.tz.clone()).datetime();
        let mode = match c.fields.mode.as_str() {
            "wfh" => Mode::Wfh,
            "dinas-luar" => Mode::DinasLuar,
            _ => Mode::Regular,
        };
        let policy = &self.config.verification;
        let max_bytes = policy.photo_max_kb as usize * 1024;
        // Small photos decode in microseconds (the hash needs only a reduced-scale decode); only
        // larger ones go to the blocking pool.
        let inspected = if c.photo.len() <= INLINE_PHOTO_BYTES {
            Ok(photo::inspect(&c.photo, max_bytes))
        } else {
            let jpeg = c.photo.clone();
            tokio::task::spawn_blocking(move || photo::inspect(&jpeg, max_bytes)).await
        };
        let info = match inspected {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => {
                return Err(Reply::error(
                    Some(nonce),
                    e.code(),
                    e.message_id(),
                    e.message_en(),
                ))
            }
            Err(_) => {
                return Err(Reply::error(
                    Some(nonce),
                    "photo.corrupt",
                    "Foto tidak dapat dibaca".into(),
                    "Photo could not be read".into(),
                ))
            }
        };
        let mut lap = timing::lap(Stage::Photo, started);
        // The writer answers a retry of a stored check-in with its stored reply; with a face
        // model configured, look first, so a retry does not wait for another face check.
        if self.face.is_some() {
            if let Some(r) = self.stored_reply(tablet, &nonce).await {
                return Ok(r);
            }
        }
        // The face check runs on its own bounded pool; a busy pool answers at once (review).
        let face =
            crate::face::outcome(self.face.as_ref(), &self.store, &c.fields.nip, &c.photo).await;
        lap = timing::lap(Stage::Face, lap);
        let repeat_since =
            received - jiff::SignedDuration::from_mins(i64::from(policy.repeat_window_min));
        let query = HistoryQuery {
            tablet: tablet.to_string(),
            nonce: nonce.clone(),
            nip: c.fields.nip.clone(),
            mode: mode.as_str().to_string(),
            day: received_local.date().to_string(),
            coords: c.fields.location.as_ref().map(|l| (l.lat, l.lon)),
            photo_sha256: info.sha256.clone(),
            repeat_since_utc: repeat_since.to_string(),
        };
        let indexed = Arc::new(AtomicBool::new(false));
        let decision = Decision {
            config: self.config.clone(),
            tz: self.tz.clone(),
            qr_secret: self.qr_secret.clone(),
            office: self.store.office().to_string(),
            recent_photos: self.recent_photos.clone(),
            indexed: indexed.clone(),
            tablet: tablet.to_string(),
            checkin: c,
            mode,
            received,
            received_local,
            info,
            face,
        };
        let dhash = decision.info.dhash;
        let stored = self
            .store
            .decide_and_store_checkin(query, move |history| decision.decide(history))
            .await;
        match stored {
            Ok(CheckinOutcome::Stored((reply, in_writer))) => {
                let waited = lap.elapsed().saturating_sub(in_writer);
                timing::add(Stage::Store, waited);
                Ok(reply)
            }
            // A retry of a check-in already stored: answer with the stored reply.
            Ok(CheckinOutcome::Earlier(earlier)) => {
                timing::lap(Stage::Store, lap);
                earlier_reply(&earlier).ok_or_else(|| {
                    store_err(StoreError::Invalid("the stored reply is unreadable".into()))
                })
            }
            Err(e) => {
                if indexed.load(Ordering::Acquire) {
                    if let Ok(mut recent) = self.recent_photos.lock() {
                        recent.forget(dhash);
                    }
                }
                // Storage full still answers a retry of a check-in stored before it filled.
                if matches!(e, StoreError::Full(_)) {
                    if let Some(r) = self.stored_reply(tablet, &nonce).await {
                        return Ok(r);
                    }
                }
                Err(store_err(e))
            }
        }
    }

    /// The reply stored for this check-in when it was stored before (read on a reader).
    async fn stored_reply(&self, tablet: &str, nonce: &str) -> Option<Reply> {
        let earlier = self.store.checkin_reply(tablet, nonce).await.ok()??;
        earlier_reply(&earlier)
    }
}

/// A stored reply, re-sent with the current gateway time.
fn earlier_reply(json: &str) -> Option<Reply> {
    let mut r = serde_json::from_str::<Reply>(json).ok()?;
    r.server_time = jiff::Timestamp::now().to_string();
    Some(r)
}

/// Everything the rules need about one check-in except its history, which the writer reads in
/// the same transaction that stores the outcome: the rules see every check-in stored before this
/// one, including those committed together with it.
struct Decision {
    config: Arc<Config>,
    tz: TimeZone,
    qr_secret: Arc<Vec<u8>>,
    office: String,
    recent_photos: Arc<Mutex<RecentPhotos>>,
    /// Set once this check-in's photo hash is in `recent_photos` (to take it out again if the
    /// commit fails).
    indexed: Arc<AtomicBool>,
    tablet: String,
    checkin: payload::Checkin,
    mode: Mode,
    received: jiff::Timestamp,
    received_local: jiff::civil::DateTime,
    info: photo::PhotoInfo,
    face: verify::FaceOutcome,
}

impl Decision {
    /// Runs the rules on the check-in and its history (on the writer thread); returns the record
    /// to store, the reply to send once it is committed, and the time spent here.
    fn decide(self, history: CheckinHistory) -> (CheckinRecord, (Reply, Duration)) {
        let started = Instant::now();
        timing::add(Stage::History, history.read_in);
        let Decision {
            config,
            tz,
            qr_secret,
            office,
            recent_photos,
            indexed,
            tablet,
            checkin: c,
            mode,
            received,
            received_local,
            info,
            face,
        } = self;
        let policy = &config.verification;
        let nonce = c.fields.nonce.clone();
        let nearest = match recent_photos.lock() {
            Ok(mut recent) => {
                let nearest = (!history.photo_seen)
                    .then(|| recent.nearest(info.dhash))
                    .flatten();
                recent.insert(info.dhash);
                indexed.store(true, Ordering::Release);
                nearest
            }
            Err(_) => None,
        };
        let photo_seen = match (history.photo_seen, nearest) {
            (true, _) => PhotoSeen::ExactDuplicate,
            (false, Some(distance)) => PhotoSeen::NearDuplicate { distance },
            (false, None) => PhotoSeen::None,
        };
        let travel_orders: Vec<TravelOrder> = history
            .travel_orders
            .iter()
            .filter_map(|t| {
                Some(TravelOrder {
                    spt_number: t.spt_number.clone(),
                    from: t.date_from.parse().ok()?,
                    to: t.date_to.parse().ok()?,
                })
            })
            .collect();
        let check = CheckIn {
            tablet: tablet.clone(),
            nip: c.fields.nip.clone(),
            mode,
            client_time: c.client_time,
            received,
            location: c.fields.location.as_ref().map(|l| Location {
                lat: l.lat,
                lon: l.lon,
                accuracy_m: l.accuracy_m,
                provider: l.provider.clone(),
                mock: l.mock,
                speed_mps: l.speed_mps,
                altitude_m: l.altitude_m,
                fix_time: c.fix_time,
            }),
            bssid: c.fields.bssid.clone(),
            qr: c.fields.qr.clone(),
            photo_sha256: info.sha256.clone(),
            photo_dhash: info.dhash,
            client_ip: None,
        };
        let ctx = Context {
            policy,
            sites: &config.office.sites,
            office_tz: &tz,
            home: history
                .employee
                .as_ref()
                .and_then(|e| Some((e.home_lat?, e.home_lon?))),
            home_radius_m: HOME_RADIUS_M,
            travel_orders: &travel_orders,
            previous_fix: history.previous_fix.as_ref().and_then(|(lat, lon, at)| {
                Some(PreviousFix {
                    lat: *lat,
                    lon: *lon,
                    at: at.parse().ok()?,
                })
            }),
            coords_seen_other_day: history.coords_seen_other_day,
            photo_seen,
            qr_secret: &qr_secret,
            employee_known: history.employee.is_some(),
            face,
        };
        let outcome = verify::verify(&check, &ctx);
        let counted = outcome.verdict != verify::Verdict::Rejected && !history.recent_counted;
        let record_id = checkin_record_id(&office, &tablet, &nonce, received);
        let mut reasons: Vec<ReplyReason> = outcome
            .reasons()
            .map(|f| ReplyReason {
                code: f.code.to_string(),
                severity: format!("{:?}", f.severity).to_lowercase(),
                id: f.id.clone(),
                en: f.en.clone(),
            })
            .collect();
        if history.recent_counted && outcome.verdict != verify::Verdict::Rejected {
            reasons.push(ReplyReason {
                code: "repeat.within-window".into(),
                severity: "info".into(),
                id: format!(
                    "Sudah tercatat dalam {} menit terakhir; tidak dihitung dua kali",
                    policy.repeat_window_min
                ),
                en: format!(
                    "Already recorded in the last {} minutes; not counted twice",
                    policy.repeat_window_min
                ),
            });
        }
        let (message_id, message_en) = match outcome.verdict {
            verify::Verdict::Accepted => (
                "Presensi diterima".to_string(),
                "Check-in accepted".to_string(),
            ),
            verify::Verdict::NeedsReview => (
                "Presensi tercatat, menunggu pemeriksaan operator".to_string(),
                "Check-in recorded, waiting for operator review".to_string(),
            ),
            verify::Verdict::Rejected => (
                "Presensi ditolak".to_string(),
                "Check-in rejected".to_string(),
            ),
        };
        let reply = Reply {
            v: 1,
            nonce: Some(nonce.clone()),
            verdict: outcome.verdict.as_str().to_string(),
            receipt: Some(record_id.clone()),
            counted,
            message_id,
            message_en,
            reasons,
            server_time: received.to_string(),
        };
        let findings = serde_json::to_string(&outcome.findings).unwrap_or_else(|_| "[]".into());
        let reply_json = serde_json::to_string(&reply).unwrap_or_default();
        let mut raw_fields = serde_json::to_value(RawView::from(&c.fields)).unwrap_or_default();
        raw_fields["photo_sha256"] = serde_json::Value::String(info.sha256.clone());
        let body = serde_json::json!({
            "type": "checkin",
            "record_id": record_id,
            "office": office,
            "tablet": tablet,
            "employee": check.nip,
            "mode": mode.as_str(),
            "occurred_utc": received.to_string(),
            "occurred_local": received_local.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            "client_time": c.fields.client_time,
            "location": c.fields.location.as_ref().map(|l| serde_json::json!({"lat": l.lat, "lon": l.lon, "accuracy_m": l.accuracy_m, "mock": l.mock})),
            "verdict": outcome.verdict.as_str(),
            "counted": counted,
            "findings": outcome.findings,
            "photo_sha256": info.sha256,
            "photo_dhash": format!("{:016x}", info.dhash),
        })
        .to_string();
        // Selfie retention (UU PDP): rejected and review items `photo_retention_days`, accepted
        // ones `photo_retention_accepted_days` (default 0: not kept).
        let keep_days = if outcome.verdict == verify::Verdict::Accepted {
            config.storage.photo_retention_accepted_days
        } else {
            config.storage.photo_retention_days
        };
        let keep_photo = keep_days > 0;
        let keep_until =
            (received + jiff::SignedDuration::from_hours(24 * i64::from(keep_days))).to_string();
        let record = CheckinRecord {
            record_id,
            tablet,
            nonce,
            nip: check.nip.clone(),
            mode: mode.as_str().to_string(),
            client_time_utc: c.client_time.to_string(),
            received_utc: received.to_string(),
            received_local: received_local.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            location: c
                .fields
                .location
                .as_ref()
                .map(|l| (l.lat, l.lon, l.accuracy_m)),
            photo_sha256: info.sha256.clone(),
            photo_dhash: info.dhash,
            verdict: outcome.verdict.as_str().to_string(),
            findings,
            reply: reply_json,
            counted,
            raw: serde_json::to_vec(&raw_fields).unwrap_or_default(),
            photo: keep_photo.then_some((c.photo, keep_until)),
            body,
        };
        let spent = started.elapsed();
        timing::add(Stage::Verify, spent);
        (record, (reply, spent + history.read_in))
    }
}

/// The payload as kept in `raw_events`: everything received except the photo bytes.
#[derive(Serialize)]
struct RawView<'a> {
    v: u32,
    tablet: &'a str,
    nip: &'a str,
    client_time: &'a str,
    mode: &'a str,
    location: Option<serde_json::Value>,
    bssid: Option<&'a str>,
    qr: Option<&'a str>,
    nonce: &'a str,
}

impl<'a> From<&'a payload::CheckinIn> for RawView<'a> {
    fn from(c: &'a payload::CheckinIn) -> Self {
        RawView {
            v: c.v,
            tablet: &c.tablet,
            nip: &c.nip,
            client_time: &c.client_time,
            mode: &c.mode,
            location: c.location.as_ref().map(|l| {
                serde_json::json!({"lat": l.lat, "lon": l.lon, "accuracy_m": l.accuracy_m, "provider": l.provider,
                    "mock": l.mock, "speed_mps": l.speed_mps, "altitude_m": l.altitude_m, "fix_time": l.fix_time})
            }),
            bssid: c.bssid.as_deref(),
            qr: c.qr.as_deref(),
            nonce: &c.nonce,
        }
    }
}

/// The record id of a tablet check-in, fixed when it is stored (a retry with the same nonce is
/// answered from the store, with the same id): the gateway time of receipt in milliseconds
/// since 1970 (12 hex digits), then the first 20 hex digits of the stable id over office, tablet
/// and nonce. Ids in time order make each check-in's three record-id index entries (attendance,
/// evidence, outbox) appends to the end of their indexes instead of writes to random pages.
pub fn checkin_record_id(
    office: &str,
    tablet: &str,
    nonce: &str,
    received: jiff::Timestamp,
) -> String {
    let millis = u64::try_from(received.as_millisecond()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let hash = crate::record::stable_id(&["hadir-checkin-v1", office, tablet, nonce]);
    format!("{millis:012x}{}", &hash[..20])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_in_record_ids_sort_in_the_order_the_check_ins_were_received() {
        let t0: jiff::Timestamp = "2026-12-07T00:30:00Z".parse().unwrap();
        let ids: Vec<String> = (0..50)
            .map(|i| {
                let at = t0 + jiff::SignedDuration::from_millis(i * 7);
                // Nonces in the opposite order, so only the time can sort them.
                checkin_record_id("kantor", "tab-1", &format!("n{}", 100 - i), at)
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    }

    #[test]
    fn check_ins_received_in_the_same_millisecond_get_different_ids() {
        let at: jiff::Timestamp = "2026-12-07T00:30:00Z".parse().unwrap();
        let a = checkin_record_id("kantor", "tab-1", "n1", at);
        let b = checkin_record_id("kantor", "tab-1", "n2", at);
        let c = checkin_record_id("kantor", "tab-2", "n1", at);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a[..12], b[..12]);
        assert_eq!(a, checkin_record_id("kantor", "tab-1", "n1", at));
    }
}
