//! The push-mode (ADMS / iclock) listener: readers upload punches, users and fingerprints over
//! HTTP and poll for commands. A separate listener from the admin server (readers expect their
//! own port and send no credentials; they identify by serial number only).
//!
//! - `GET /iclock/cdata?SN=..&options=all` — handshake: the options the gateway chooses.
//! - `POST /iclock/cdata?SN=..&table=ATTLOG&Stamp=..` — punches; `OPERLOG`, `USERINFO`,
//!   `FINGERTMP` — users and fingerprint templates. Answered `OK: <n>` only after the lines
//!   committed; malformed lines are logged with their reason and skipped, the rest kept.
//! - `GET /iclock/getrequest?SN=..` — queued commands as `C:<id>:<command>` lines, or `OK`.
//! - `POST /iclock/devicecmd?SN=..` — command results `ID=..&Return=..&CMD=..`.
//!
//! Only serials in the config (kind `zk-push`) or approved by an operator are served; others are
//! refused with 403, logged and listed for approval (bounded).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hadir_config::{Config, DeviceKind};
use hadir_drivers::zk::push::{self, ColumnOrder, OperLine, ServerOptions};
use hadir_drivers::zk::ZkDateTime;
use jiff::tz::TimeZone;
use tokio::sync::Notify;

use crate::record::{NewPunch, Source};
use crate::store::{DeviceStatus, Store, StoreError};

/// Environment variable (tests only): wait this many milliseconds after an upload committed and
/// before answering `OK`, so a test can kill the gateway in between.
pub const ACK_DELAY_ENV: &str = "HADIR_TEST_PUSH_ACK_DELAY_MS";
/// Commands handed out per poll, at most.
const COMMANDS_PER_POLL: usize = 16;
/// A command sent without a result is sent again after this many seconds.
const RESEND_AFTER_S: i64 = 300;
/// Reader status is written at most this often per reader (polls come every few seconds).
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// A push reader the gateway serves.
#[derive(Debug, Clone)]
struct Registered {
    name: String,
    max_drift_s: i64,
}

/// Shared state of the push listener.
#[derive(Clone)]
pub struct PushState {
    store: Store,
    configured: Arc<HashMap<String, Registered>>,
    tz: TimeZone,
    opts: hadir_config::Push,
    /// Woken when users or templates arrive, so the roster sync copies them at once.
    sync_wake: Arc<Notify>,
    ack_delay: Option<Duration>,
    status_written: Arc<Mutex<HashMap<String, Instant>>>,
}

impl PushState {
    /// Builds the listener's state from the config.
    pub fn new(config: &Config, store: Store, sync_wake: Arc<Notify>) -> anyhow::Result<Self> {
        let tz = TimeZone::get(&config.office.timezone)?;
        let configured = config
            .devices
            .iter()
            .filter(|d| d.kind == DeviceKind::ZkPush)
            .filter_map(|d| {
                d.serial.clone().map(|s| {
                    (
                        s,
                        Registered {
                            name: d.name.clone(),
                            max_drift_s: d.max_drift_s as i64,
                        },
                    )
                })
            })
            .collect();
        let ack_delay = std::env::var(ACK_DELAY_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
        if let Some(d) = ack_delay {
            tracing::warn!(
                delay_ms = d.as_millis() as u64,
                "{ACK_DELAY_ENV} is set: push uploads are answered late (test setting)"
            );
        }
        Ok(PushState {
            store,
            configured: Arc::new(configured),
            tz,
            opts: config.push.clone(),
            sync_wake,
            ack_delay,
            status_written: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

/// The push router (mounted on its own listener).
pub fn router(state: PushState) -> Router {
    let limit = state.opts.max_body_kb as usize * 1024;
    Router::new()
        .route("/iclock/cdata", get(handshake).post(upload))
        .route("/iclock/cdata.aspx", get(handshake).post(upload))
        .route("/iclock/getrequest", get(getrequest))
        .route("/iclock/getrequest.aspx", get(getrequest))
        .route("/iclock/devicecmd", axum::routing::post(devicecmd))
        .route("/iclock/devicecmd.aspx", axum::routing::post(devicecmd))
        .route(
            "/iclock/ping",
            get(|| async { text(StatusCode::OK, "OK".into()) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

type Params = Query<HashMap<String, String>>;

fn param<'a>(q: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn store_failed(serial: &str, e: StoreError) -> Response {
    tracing::error!(serial, error = %e, "push upload not stored; the reader will send it again");
    let status = match e {
        StoreError::Full(_) | StoreError::Closed => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, "ERROR: not stored, send again\n".into())
}

/// Resolves the caller to a served reader: (serial, name). Unknown serials are recorded and
/// refused.
async fn admit(
    st: &PushState,
    q: &HashMap<String, String>,
    peer: SocketAddr,
) -> Result<(String, Registered), Response> {
    let serial = param(q, "SN").unwrap_or("").trim();
    if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(text(StatusCode::BAD_REQUEST, "missing or bad SN\n".into()));
    }
    if let Some(r) = st.configured.get(serial) {
        return Ok((serial.to_string(), r.clone()));
    }
    match st.store.push_approved(serial.to_string()).await {
        Ok(true) => {
            return Ok((
                serial.to_string(),
                Registered {
                    name: serial.to_string(),
                    max_drift_s: 30,
                },
            ))
        }
        Ok(false) => {}
        Err(e) => return Err(store_failed(serial, e)),
    }
    tracing::warn!(serial, %peer, "push request from an unknown reader serial refused; approve it in the UI or add it to devices[]");
    if let Err(e) = st
        .store
        .record_unknown_reader(
            serial.to_string(),
            peer.ip().to_string(),
            st.opts.max_unknown,
        )
        .await
    {
        tracing::warn!(error = %e, "cannot record the unknown reader");
    }
    Err(text(StatusCode::FORBIDDEN, "Unknown device\n".into()))
}

/// Writes the reader's status at most every [`STATUS_EVERY`] unless `force`.
async fn touch(
    st: &PushState,
    serial: &str,
    reg: &Registered,
    mut status: DeviceStatus,
    force: bool,
) {
    {
        let Ok(mut seen) = st.status_written.lock() else {
            return;
        };
        if !force && seen.get(serial).is_some_and(|t| t.elapsed() < STATUS_EVERY) {
            return;
        }
        seen.insert(serial.to_string(), Instant::now());
    }
    status.name = reg.name.clone();
    status.kind = "zk-push".into();
    status.serial = Some(serial.to_string());
    status.online = true;
    status.last_seen_utc = Some(jiff::Timestamp::now().to_string());
    if let Err(e) = st.store.update_device(status).await {
        tracing::warn!(serial, error = %e, "cannot record reader status");
    }
}

async fn handshake(
    State(st): State<PushState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Params,
) -> Response {
    let (serial, reg) = match admit(&st, &q, peer).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if param(&q, "options").is_none() {
        // Some firmware checks the server with a bare GET before uploading.
        return text(StatusCode::OK, "OK\n".into());
    }
    let (att, op) = match st.store.push_stamps(serial.clone()).await {
        Ok(s) => s,
        Err(e) => return store_failed(&serial, e),
    };
    let offset = st.tz.to_offset(jiff::Timestamp::now()).seconds();
    let body = ServerOptions {
        attlog_stamp: att,
        operlog_stamp: op,
        error_delay_s: st.opts.error_delay_s,
        delay_s: st.opts.delay_s,
        trans_interval_min: st.opts.trans_interval_min,
        realtime: st.opts.realtime,
        timezone_hours: offset / 3600,
        server_version: format!("hadir-{}", env!("CARGO_PKG_VERSION")),
    }
    .to_body(&serial);
    let status = DeviceStatus {
        firmware: param(&q, "pushver").map(|v| format!("push {v}")),
        last_error: None,
        ..Default::default()
    };
    touch(&st, &serial, &reg, status, true).await;
    tracing::info!(serial, device = %reg.name, "push reader handshake");
    text(StatusCode::OK, body)
}

/// Reader wall time → civil time for storage.
fn civil(t: &ZkDateTime) -> Option<jiff::civil::DateTime> {
    jiff::civil::DateTime::new(
        t.year() as i16,
        t.month() as i8,
        t.day() as i8,
        t.hour() as i8,
        t.minute() as i8,
        t.second() as i8,
        0,
    )
    .ok()
}

/// Turns parsed ATTLOG/attlog.dat lines into punches; bad lines are returned as
/// (line number, reason).
pub fn lines_to_punches(
    serial: &str,
    body: &[u8],
    order: ColumnOrder,
    source: Source,
) -> (Vec<NewPunch>, Vec<(usize, String)>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for p in push::parse_attlog(body, order) {
        match p.result {
            Ok(l) => match civil(&l.time) {
                Some(local_time) => good.push(NewPunch {
                    source,
                    device: serial.to_string(),
                    employee: l.pin,
                    local_time,
                    state: l.state,
                    verify: Some(l.verify),
                    payload: p.raw,
                }),
                None => bad.push((p.line_no, format!("time {} out of range", l.time))),
            },
            Err(e) => bad.push((p.line_no, e.to_string())),
        }
    }
    (good, bad)
}

async fn upload(
    State(st): State<PushState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    let (serial, reg) = match admit(&st, &q, peer).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let table = param(&q, "table").unwrap_or("").to_ascii_uppercase();
    let stamp = param(&q, "Stamp")
        .or_else(|| param(&q, "OpStamp"))
        .map(|s| s.chars().take(32).collect::<String>());
    let answer = match table.as_str() {
        "ATTLOG" => {
            let (punches, bad) =
                lines_to_punches(&serial, &body, ColumnOrder::Push, Source::ZkPush);
            for (line, reason) in &bad {
                tracing::warn!(serial, line, reason, "push ATTLOG line rejected");
            }
            let n = punches.len();
            let drift = estimate_drift(&st, &punches);
            match st
                .store
                .store_pushed_punches(serial.clone(), punches, stamp)
                .await
            {
                Ok(out) => {
                    let new = out.iter().filter(|a| !a.duplicate).count();
                    tracing::info!(
                        serial,
                        lines = n,
                        new,
                        rejected = bad.len(),
                        "push punches stored"
                    );
                    if let Some(d) = drift {
                        clock_check(&st, &serial, &reg, d).await;
                    }
                    format!("OK: {n}\n")
                }
                Err(e) => return store_failed(&serial, e),
            }
        }
        "OPERLOG" | "USERINFO" | "FINGERTMP" | "BIODATA" => {
            let mut users = Vec::new();
            let mut templates = Vec::new();
            let mut oplogs = 0usize;
            for p in push::parse_operlog(&body) {
                match p.result {
                    Ok(OperLine::User(u)) => users.push(u),
                    Ok(OperLine::Fp(t)) => templates.push(t),
                    Ok(OperLine::Oplog(_)) => oplogs += 1,
                    Err(e) => {
                        tracing::warn!(serial, table, line = p.line_no, reason = %e, "push line rejected")
                    }
                }
            }
            let n = users.len() + templates.len() + oplogs;
            let stamp = stamp.map(|s| ("OPERLOG".to_string(), s));
            match st
                .store
                .store_reader_oper(serial.clone(), users, templates, stamp)
                .await
            {
                Ok(out) => {
                    if out.users > 0 || out.templates_new > 0 {
                        st.sync_wake.notify_one();
                    }
                    tracing::info!(
                        serial,
                        table,
                        users = out.users,
                        templates_new = out.templates_new,
                        oplogs,
                        "push reader data stored"
                    );
                    format!("OK: {n}\n")
                }
                Err(e) => return store_failed(&serial, e),
            }
        }
        other => {
            // Photos and other tables are not kept; acknowledged so the reader moves on.
            tracing::debug!(
                serial,
                table = other,
                bytes = body.len(),
                "push table not kept"
            );
            "OK\n".to_string()
        }
    };
    touch(&st, &serial, &reg, DeviceStatus::default(), false).await;
    if let Some(d) = st.ack_delay {
        tokio::time::sleep(d).await;
    }
    text(StatusCode::OK, answer)
}

/// Reader clock minus gateway clock from real-time punches: the newest punch of an upload was
/// made moments ago, so its time shows the reader's clock error. Uploads whose newest punch is
/// older than a poll cycle (a backlog) say nothing and give `None`.
fn estimate_drift(st: &PushState, punches: &[NewPunch]) -> Option<i64> {
    if !st.opts.realtime {
        return None;
    }
    let now = jiff::Timestamp::now().to_zoned(st.tz.clone()).datetime();
    let newest = punches.iter().map(|p| p.local_time).max()?;
    let drift = newest.duration_since(now).as_secs();
    let window = i64::from(st.opts.delay_s) + 60;
    (drift > -window).then_some(drift)
}

async fn clock_check(st: &PushState, serial: &str, reg: &Registered, drift: i64) {
    let status = DeviceStatus {
        drift_s: Some(drift),
        ..Default::default()
    };
    touch(st, serial, reg, status, true).await;
    if drift.abs() <= reg.max_drift_s {
        return;
    }
    let now = jiff::Timestamp::now().to_zoned(st.tz.clone()).datetime();
    let value = now.strftime("%Y-%m-%d %H:%M:%S").to_string();
    match st.store.queue_reader_clock(serial.to_string(), value).await {
        Ok(true) => {
            tracing::warn!(
                serial,
                drift_s = drift,
                "push reader clock is off; correction queued"
            );
            if let Err(e) = st
                .store
                .audit(
                    "hadir",
                    "reader-clock-set",
                    &reg.name,
                    &format!("drift was {drift} s (push)"),
                )
                .await
            {
                tracing::warn!(error = %e, "cannot audit the clock correction");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(serial, error = %e, "cannot queue the clock correction"),
    }
}

async fn getrequest(
    State(st): State<PushState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Params,
) -> Response {
    let (serial, reg) = match admit(&st, &q, peer).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // INFO=<firmware>,<users>,<fingers>,<records>,<ip>,... on some firmware.
    let mut status = DeviceStatus::default();
    if let Some(info) = param(&q, "INFO") {
        let f: Vec<&str> = info.split(',').collect();
        status.firmware = f.first().map(|s| s.chars().take(64).collect());
        status.users = f.get(1).and_then(|s| s.trim().parse().ok());
        status.records = f.get(3).and_then(|s| s.trim().parse().ok());
    }
    touch(&st, &serial, &reg, status, param(&q, "INFO").is_some()).await;
    match st
        .store
        .take_reader_commands(serial.clone(), COMMANDS_PER_POLL, RESEND_AFTER_S)
        .await
    {
        Ok(cmds) if cmds.is_empty() => text(StatusCode::OK, "OK\n".into()),
        Ok(cmds) => {
            tracing::debug!(
                serial,
                commands = cmds.len(),
                "commands handed to the reader"
            );
            let body: String = cmds.iter().map(|(id, c)| format!("C:{id}:{c}\n")).collect();
            text(StatusCode::OK, body)
        }
        Err(e) => store_failed(&serial, e),
    }
}

async fn devicecmd(
    State(st): State<PushState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    let (serial, _reg) = match admit(&st, &q, peer).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut results = Vec::new();
    for p in push::parse_results(&body) {
        match p.result {
            Ok(r) => {
                if r.ret != 0 {
                    tracing::warn!(serial, id = r.id, ret = r.ret, cmd = %r.cmd, "reader reports a command failed");
                }
                results.push(r);
            }
            Err(e) => {
                tracing::warn!(serial, line = p.line_no, reason = %e, "devicecmd line rejected")
            }
        }
    }
    match st
        .store
        .record_command_results(serial.clone(), results)
        .await
    {
        Ok(_) => {
            st.sync_wake.notify_one();
            text(StatusCode::OK, "OK\n".into())
        }
        Err(e) => store_failed(&serial, e),
    }
}
