//! A push-mode (ADMS / iclock) reader simulator: it talks to a gateway over HTTP the way push
//! firmware does. It runs the handshake, pushes ATTLOG and OPERLOG lines (keeping every line
//! until the server answered `OK`, so a lost answer makes it send the lines again), polls
//! `getrequest`, executes user, fingerprint and clock commands against its own user list, and
//! posts each result to `devicecmd`.
//!
//! Used by the gateway's tests, `hadir demo` and `hadir-zk-sim --push URL`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::push::{
    self, format_attlog_line, format_fp_line, format_result, format_user_line, AttLogLine, Command,
    CommandResult, PushTemplate, PushUser,
};
use super::time::ZkDateTime;

/// Most lines sent in one POST.
const BATCH_MAX: usize = 200;
/// Most command results kept waiting to be posted.
const MAX_RESULTS: usize = 1024;

/// How the simulated push reader behaves.
#[derive(Debug, Clone)]
pub struct PushSimConfig {
    /// Gateway base URL, e.g. `http://127.0.0.1:8081`.
    pub server: String,
    /// Serial number it identifies with.
    pub serial: String,
    /// Users enrolled at start.
    pub users: Vec<PushUser>,
    /// Fingerprint templates enrolled at start.
    pub templates: Vec<PushTemplate>,
    /// Attendance log at start; all of it is pushed after the handshake (as a reader whose
    /// stamps were reset does).
    pub records: Vec<AttLogLine>,
    /// Office offset from UTC in seconds until the handshake's `TimeZone` says otherwise.
    pub utc_offset_secs: i64,
    /// Reader clock error: its wall clock is office time plus this many seconds.
    pub clock_skew_secs: i64,
    /// Take the clock from the handshake's HTTP `Date` header (what firmware does).
    pub sync_clock_from_date: bool,
    /// Poll `getrequest` this often instead of the server's `Delay`.
    pub poll_interval: Option<Duration>,
    /// Wait this long after a failed request instead of the server's `ErrorDelay`.
    pub error_delay: Option<Duration>,
    /// Timeout for each HTTP request.
    pub request_timeout: Duration,
}

impl Default for PushSimConfig {
    fn default() -> Self {
        PushSimConfig {
            server: "http://127.0.0.1:8081".into(),
            serial: "HADIRPUSH001".into(),
            users: Vec::new(),
            templates: Vec::new(),
            records: Vec::new(),
            utc_offset_secs: 7 * 3600,
            clock_skew_secs: 0,
            sync_clock_from_date: true,
            poll_interval: None,
            error_delay: None,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters for tests and the demo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSimStats {
    /// Handshakes completed.
    pub handshakes: u64,
    /// POSTs of data answered `OK`.
    pub posts_ok: u64,
    /// POSTs that got no `OK` (error status, refused, timed out); their lines were kept.
    pub posts_failed: u64,
    /// Lines the server acknowledged.
    pub lines_acked: u64,
    /// Commands executed.
    pub commands: u64,
    /// Command results acknowledged by the server.
    pub results_acked: u64,
    /// Last HTTP status seen (0 = no answer).
    pub last_status: u16,
}

struct State {
    users: Vec<PushUser>,
    templates: Vec<PushTemplate>,
    records: Vec<AttLogLine>,
    pending_att: VecDeque<String>,
    pending_oper: VecDeque<String>,
    results: VecDeque<CommandResult>,
    executed: Vec<(u64, Command, i32)>,
    utc_offset: i64,
    skew: i64,
    attlog_stamp: u64,
    operlog_stamp: u64,
    handshaken: bool,
    delay: Duration,
    error_delay: Duration,
    stats: PushSimStats,
}

struct Shared {
    cfg: PushSimConfig,
    state: Mutex<State>,
    wake: Notify,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn utc_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl State {
    fn device_time(&self) -> ZkDateTime {
        ZkDateTime::from_civil_seconds(utc_now() + self.utc_offset + self.skew)
            .unwrap_or(ZkDateTime::EPOCH)
    }
}

/// A running push-mode reader simulator.
pub struct PushSim {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PushSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSim")
            .field("serial", &self.shared.cfg.serial)
            .finish_non_exhaustive()
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum PushSimError {
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

impl PushSim {
    /// Starts the reader's loop (it keeps retrying until the gateway answers). Call it inside a
    /// tokio runtime; the loop stops on [`PushSim::shutdown`] or when the handle is dropped.
    pub fn start(cfg: PushSimConfig) -> Result<PushSim, PushSimError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .build()
            .map_err(|e| PushSimError::Client(e.to_string()))?;
        let pending_att = cfg.records.iter().map(format_attlog_line).collect();
        let state = State {
            users: cfg.users.clone(),
            templates: cfg.templates.clone(),
            records: cfg.records.clone(),
            pending_att,
            pending_oper: VecDeque::new(),
            results: VecDeque::new(),
            executed: Vec::new(),
            utc_offset: cfg.utc_offset_secs,
            skew: cfg.clock_skew_secs,
            attlog_stamp: 0,
            operlog_stamp: 0,
            handshaken: false,
            delay: cfg.poll_interval.unwrap_or(Duration::from_secs(10)),
            error_delay: cfg.error_delay.unwrap_or(Duration::from_secs(30)),
            stats: PushSimStats::default(),
        };
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::new(state),
            wake: Notify::new(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(shared.clone(), http, stop_rx));
        Ok(PushSim {
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The serial number.
    pub fn serial(&self) -> &str {
        &self.shared.cfg.serial
    }

    /// Records a punch at the reader's current clock and pushes it at once (real-time mode).
    pub fn punch(&self, pin: &str, state: u8, verify: u8) -> AttLogLine {
        let time = self.shared.state().device_time();
        let line = AttLogLine {
            pin: pin.to_string(),
            time,
            state,
            verify,
            workcode: "0".into(),
        };
        self.add_record(line.clone());
        line
    }

    /// Adds a punch to the reader's log and queues it for upload.
    pub fn add_record(&self, line: AttLogLine) {
        {
            let mut st = self.shared.state();
            st.pending_att.push_back(format_attlog_line(&line));
            st.records.push(line);
        }
        self.shared.wake.notify_one();
    }

    /// Enrols (or re-enrols) a finger on the reader; the template is uploaded as an OPERLOG
    /// `FP` line. The user is created first when unknown.
    pub fn enroll(&self, t: PushTemplate) {
        {
            let mut st = self.shared.state();
            if !st.users.iter().any(|u| u.pin == t.pin) {
                let u = PushUser {
                    pin: t.pin.clone(),
                    ..Default::default()
                };
                st.pending_oper.push_back(format_user_line(&u));
                st.users.push(u);
            }
            st.pending_oper.push_back(format_fp_line(&t));
            st.templates.retain(|x| !(x.pin == t.pin && x.fid == t.fid));
            st.templates.push(t);
        }
        self.shared.wake.notify_one();
    }

    /// Users on the reader now.
    pub fn users(&self) -> Vec<PushUser> {
        self.shared.state().users.clone()
    }

    /// Fingerprint templates on the reader now.
    pub fn templates(&self) -> Vec<PushTemplate> {
        self.shared.state().templates.clone()
    }

    /// The reader's attendance log.
    pub fn records(&self) -> Vec<AttLogLine> {
        self.shared.state().records.clone()
    }

    /// Lines (ATTLOG + OPERLOG) not yet acknowledged by the server.
    pub fn pending(&self) -> usize {
        let st = self.shared.state();
        st.pending_att.len() + st.pending_oper.len()
    }

    /// The last commands executed (at most 1024), with their return codes.
    pub fn executed(&self) -> Vec<(u64, Command, i32)> {
        self.shared.state().executed.clone()
    }

    /// Counters.
    pub fn stats(&self) -> PushSimStats {
        self.shared.state().stats.clone()
    }

    /// The reader's clock now.
    pub fn device_time(&self) -> ZkDateTime {
        self.shared.state().device_time()
    }

    /// Reader clock minus correct office time, seconds.
    pub fn clock_skew(&self) -> i64 {
        self.shared.state().skew
    }

    /// Wakes the reader to upload and poll now instead of after its current wait.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Stops the reader and waits for its loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for PushSim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

async fn run(shared: Arc<Shared>, http: reqwest::Client, mut stop: watch::Receiver<bool>) {
    let base = shared.cfg.server.trim_end_matches('/').to_string();
    let sn = shared.cfg.serial.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        let ok = cycle(&shared, &http, &base, &sn).await;
        let wait = {
            let st = shared.state();
            if ok {
                st.delay
            } else {
                st.error_delay
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// One round: handshake if needed, upload, poll commands, report results. False on a failure.
async fn cycle(shared: &Shared, http: &reqwest::Client, base: &str, sn: &str) -> bool {
    if !shared.state().handshaken && !handshake(shared, http, base, sn).await {
        return false;
    }
    for table in ["ATTLOG", "OPERLOG"] {
        loop {
            let (lines, stamp) = {
                let st = shared.state();
                let q = if table == "ATTLOG" {
                    &st.pending_att
                } else {
                    &st.pending_oper
                };
                let stamp = if table == "ATTLOG" {
                    st.attlog_stamp
                } else {
                    st.operlog_stamp
                };
                (
                    q.iter().take(BATCH_MAX).cloned().collect::<Vec<_>>(),
                    stamp + q.len().min(BATCH_MAX) as u64,
                )
            };
            if lines.is_empty() {
                break;
            }
            let mut body = lines.join("\n");
            body.push('\n');
            let url = format!("{base}/iclock/cdata?SN={sn}&table={table}&Stamp={stamp}");
            let answer = http.post(&url).body(body).send().await;
            let acked = match answer {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    shared.state().stats.last_status = status;
                    status == 200 && text.trim_start().starts_with("OK")
                }
                Err(e) => {
                    tracing::debug!(error = %e, "push sim: upload got no answer");
                    shared.state().stats.last_status = 0;
                    false
                }
            };
            let mut st = shared.state();
            if !acked {
                st.stats.posts_failed += 1;
                return false;
            }
            st.stats.posts_ok += 1;
            st.stats.lines_acked += lines.len() as u64;
            let q = if table == "ATTLOG" {
                st.attlog_stamp = stamp;
                &mut st.pending_att
            } else {
                st.operlog_stamp = stamp;
                &mut st.pending_oper
            };
            q.drain(..lines.len().min(q.len()));
        }
    }
    let url = format!("{base}/iclock/getrequest?SN={sn}");
    let body = match http.get(&url).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.unwrap_or_default(),
        Ok(r) => {
            shared.state().stats.last_status = r.status().as_u16();
            return false;
        }
        Err(_) => return false,
    };
    for (id, cmd) in push::parse_requests(&body) {
        let ret = execute(shared, &cmd);
        let mut st = shared.state();
        st.stats.commands += 1;
        if st.results.len() < MAX_RESULTS {
            st.results.push_back(CommandResult {
                id,
                ret,
                cmd: cmd.name().to_string(),
            });
        }
        if st.executed.len() >= MAX_RESULTS {
            st.executed.remove(0);
        }
        st.executed.push((id, cmd, ret));
    }
    let results: Vec<CommandResult> = shared.state().results.iter().cloned().collect();
    if !results.is_empty() {
        let body: String = results.iter().map(|r| format_result(r) + "\n").collect();
        let url = format!("{base}/iclock/devicecmd?SN={sn}");
        match http.post(&url).body(body).send().await {
            Ok(r) if r.status().is_success() => {
                let mut st = shared.state();
                let n = results.len().min(st.results.len());
                st.results.drain(..n);
                st.stats.results_acked += n as u64;
            }
            _ => return false,
        }
        // Results often unlock more commands (templates after users): poll again soon.
        shared.wake.notify_one();
    }
    true
}

async fn handshake(shared: &Shared, http: &reqwest::Client, base: &str, sn: &str) -> bool {
    let url = format!("{base}/iclock/cdata?SN={sn}&options=all&pushver=2.4.1&language=69");
    let r = match http.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "push sim: handshake got no answer");
            return false;
        }
    };
    let status = r.status().as_u16();
    let date = r
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let body = r.bytes().await.unwrap_or_default();
    let mut st = shared.state();
    st.stats.last_status = status;
    if status != 200 {
        return false;
    }
    for (k, v) in push::parse_options(&body) {
        let v = v.trim();
        match k.as_str() {
            "Delay" => {
                if let (None, Ok(s)) = (shared.cfg.poll_interval, v.parse::<u64>()) {
                    st.delay = Duration::from_secs(s.clamp(1, 3600));
                }
            }
            "ErrorDelay" => {
                if let (None, Ok(s)) = (shared.cfg.error_delay, v.parse::<u64>()) {
                    st.error_delay = Duration::from_secs(s.clamp(1, 3600));
                }
            }
            "TimeZone" => {
                if let Ok(z) = v.parse::<i64>() {
                    // Hours, or minutes on firmware that takes e.g. 330 for +05:30.
                    st.utc_offset = if z.abs() <= 14 { z * 3600 } else { z * 60 };
                }
            }
            _ => {}
        }
    }
    if let (true, Some(server_utc)) = (shared.cfg.sync_clock_from_date, date) {
        st.skew = server_utc - utc_now();
    }
    st.handshaken = true;
    st.stats.handshakes += 1;
    true
}

/// Runs one command against the reader's state; returns the firmware return code.
fn execute(shared: &Shared, cmd: &Command) -> i32 {
    let mut st = shared.state();
    match cmd {
        Command::UpdateUser(u) => {
            match st.users.iter_mut().find(|x| x.pin == u.pin) {
                Some(slot) => *slot = u.clone(),
                None => st.users.push(u.clone()),
            }
            0
        }
        Command::DeleteUser { pin } => {
            let before = st.users.len();
            st.users.retain(|u| &u.pin != pin);
            st.templates.retain(|t| &t.pin != pin);
            if st.users.len() == before {
                -10
            } else {
                0
            }
        }
        Command::UpdateTemplate(t) => {
            if !st.users.iter().any(|u| u.pin == t.pin) {
                return -10;
            }
            st.templates.retain(|x| !(x.pin == t.pin && x.fid == t.fid));
            st.templates.push(t.clone());
            0
        }
        Command::SetOption { key, value } if key == "DateTime" => match push::parse_time(value) {
            Ok(t) => {
                st.skew = t.to_civil_seconds() - (utc_now() + st.utc_offset);
                0
            }
            Err(_) => -1,
        },
        Command::SetOption { .. } | Command::Info | Command::Reboot => 0,
        Command::Check => {
            st.handshaken = false;
            0
        }
        Command::Other(_) => -1,
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace().skip(1);
    let day: u8 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u16 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':');
    let h: u8 = hms.next()?.parse().ok()?;
    let m: u8 = hms.next()?.parse().ok()?;
    let sec: u8 = hms.next()?.parse().ok()?;
    if it.next()? != "GMT" {
        return None;
    }
    ZkDateTime::new(year, month, day, h, m, sec)
        .ok()
        .map(|t| t.to_civil_seconds())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse_to_unix_seconds() {
        assert_eq!(
            parse_http_date("Mon, 23 Nov 2026 14:37:38 GMT"),
            ZkDateTime::new(2026, 11, 23, 14, 37, 38)
                .ok()
                .map(|t| t.to_civil_seconds())
        );
        assert_eq!(parse_http_date("Mon, 23 Foo 2026 14:37:38 GMT"), None);
        assert_eq!(parse_http_date("garbage"), None);
    }
}
