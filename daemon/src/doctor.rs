//! `hadir doctor`: a read-only health check of an installation for IT staff.
//!
//! Each check prints one line, `OK|WARN|FAIL  <check>: <verdict>`, and the command exits 1 when
//! any check fails. Nothing is changed: the database is opened read-only, the admin port is only
//! bound for an instant to see whether it is free, and devices and the upstream server are only
//! TCP-connected to (no protocol is spoken to them).

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use hadir_config::{Config, DeviceKind, Transport, UpstreamMode};

/// Where the Debian package installs the configuration; used when no `--config` is given.
pub const PACKAGED_CONFIG: &str = "/etc/hadir/hadir.toml";

/// Port of a pull reader whose `address` has none.
pub const DEFAULT_DEVICE_PORT: u16 = 4370;

/// How long each network probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Works as it should.
    Ok,
    /// Works, but deserves a look.
    Warn,
    /// Broken: the gateway will not work (fully) until it is fixed.
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad it is.
    pub level: Level,
    /// What was checked ("config", "device Pintu depan", …).
    pub check: String,
    /// A short verdict for IT staff.
    pub verdict: String,
}

impl Finding {
    fn new(level: Level, check: impl Into<String>, verdict: impl Into<String>) -> Finding {
        Finding {
            level,
            check: check.into(),
            verdict: verdict.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4}  {}: {}",
            self.level.label(),
            self.check,
            self.verdict
        )
    }
}

/// Exit status for a list of findings: failure when any check failed.
pub fn exit_code(findings: &[Finding]) -> ExitCode {
    if findings.iter().any(|f| f.level == Level::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs every check, printing each line as soon as it is known.
pub fn main(config: Option<PathBuf>) -> ExitCode {
    let mut findings = Vec::new();
    let mut report = |f: Finding| {
        // Not println!: `hadir doctor | head -n 1` must not panic on a closed pipe.
        let _ = writeln!(std::io::stdout(), "{f}");
        findings.push(f);
    };
    let (config, finding) = load_config(config);
    report(finding);
    let Some(config) = config else {
        return exit_code(&findings);
    };
    report(check_admin_port(config.admin.listen));
    report(check_disk(&config));
    report(check_database(&config.storage.data_dir.join("hadir.db")));
    report(check_clock());
    for f in check_network(&config) {
        report(f);
    }
    exit_code(&findings)
}

/// Loads the configuration: the given path, else the packaged one if present, else the embedded
/// default.
fn load_config(path: Option<PathBuf>) -> (Option<Config>, Finding) {
    let path = match path {
        Some(p) => p,
        None if Path::new(PACKAGED_CONFIG).exists() => PathBuf::from(PACKAGED_CONFIG),
        None => {
            return (
                Some(hadir_config::embedded_default()),
                Finding::new(
                    Level::Warn,
                    "config",
                    format!(
                        "no --config given and {PACKAGED_CONFIG} does not exist: checking the \
                         embedded default"
                    ),
                ),
            )
        }
    };
    match hadir_config::load(&path) {
        Ok(c) => (
            Some(c),
            Finding::new(Level::Ok, "config", format!("{} is valid", path.display())),
        ),
        Err(hadir_config::ConfigError::Read { source, .. }) => {
            let hint = if source.kind() == std::io::ErrorKind::PermissionDenied {
                " (run as root: sudo hadir doctor)"
            } else {
                ""
            };
            (
                None,
                Finding::new(
                    Level::Fail,
                    "config",
                    format!("cannot read {}: {source}{hint}", path.display()),
                ),
            )
        }
        Err(e) => (
            None,
            Finding::new(
                Level::Fail,
                "config",
                format!(
                    "{} problem(s) in {}; see `hadir check-config {}`",
                    e.problems().len(),
                    path.display(),
                    path.display()
                ),
            ),
        ),
    }
}

/// Is the admin port free, or already served by a running hadir?
fn check_admin_port(listen: SocketAddr) -> Finding {
    const CHECK: &str = "admin port";
    match TcpListener::bind(listen) {
        Ok(l) => {
            drop(l);
            if listen.port() == 0 {
                Finding::new(
                    Level::Ok,
                    CHECK,
                    format!("{listen}: a free port is chosen at start"),
                )
            } else {
                Finding::new(
                    Level::Ok,
                    CHECK,
                    format!("{listen} is free (the gateway is not running)"),
                )
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            match get_health(connect_addr(listen)) {
                Some(h) => Finding::new(
                    Level::Ok,
                    CHECK,
                    format!("{listen} is served by a running hadir ({h})"),
                ),
                None => Finding::new(
                    Level::Fail,
                    CHECK,
                    format!(
                        "{listen} is in use by another program; stop it or change admin.listen"
                    ),
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Finding::new(
            Level::Fail,
            CHECK,
            format!(
                "{listen}: ports below 1024 need privileges the service does not have; use 8080"
            ),
        ),
        Err(e) => Finding::new(
            Level::Fail,
            CHECK,
            format!("cannot listen on {listen}: {e}; is that address on this machine?"),
        ),
    }
}

/// Where to connect to reach a listener bound to `listen` (loopback for a wildcard address).
pub fn connect_addr(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// `GET /health`; a short description of the answering hadir, or `None` when what answers is
/// not a hadir.
fn get_health(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    s.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    s.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.take(64 * 1024).read_to_end(&mut raw).ok()?;
    describe_health(&String::from_utf8_lossy(&raw))
}

/// Recognises a hadir `/health` answer in a raw HTTP response: "office X, version Y, up Ns".
pub fn describe_health(response: &str) -> Option<String> {
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    if status != "200" {
        return None;
    }
    // Identity encoding is what the daemon sends for this small body; tolerate a chunked one.
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    let json: serde_json::Value = serde_json::from_str(body.get(start..=end)?).ok()?;
    if json.get("status")?.as_str()? != "ok" {
        return None;
    }
    let office = json.get("office")?.as_str()?;
    let version = json.get("version")?.as_str()?;
    let uptime = json.get("uptime_s").and_then(|u| u.as_u64()).unwrap_or(0);
    Some(format!("office {office}, version {version}, up {uptime} s"))
}

/// Free space on the data file system against `storage.min_free_mb`.
fn check_disk(config: &Config) -> Finding {
    const CHECK: &str = "disk";
    let dir = &config.storage.data_dir;
    let Some(existing) = dir.ancestors().find(|p| p.exists()) else {
        return Finding::new(
            Level::Fail,
            CHECK,
            format!("no part of {} exists", dir.display()),
        );
    };
    let free = match rustix::fs::statvfs(existing) {
        Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
        Err(e) => {
            return Finding::new(
                Level::Warn,
                CHECK,
                format!("cannot measure free space at {}: {e}", existing.display()),
            )
        }
    };
    let mut f = disk_verdict(free >> 20, config.storage.min_free_mb);
    if existing != dir.as_path() {
        f.verdict
            .push_str(&format!(" ({} is created at first start)", dir.display()));
    }
    f
}

/// The verdict for `free_mb` MiB free when the gateway refuses records below `min_free_mb`.
pub fn disk_verdict(free_mb: u64, min_free_mb: u64) -> Finding {
    const CHECK: &str = "disk";
    if free_mb < min_free_mb {
        Finding::new(
            Level::Fail,
            CHECK,
            format!(
                "{free_mb} MiB free, below storage.min_free_mb = {min_free_mb}: new records are \
                 refused; free space or replace the SD card"
            ),
        )
    } else if free_mb < min_free_mb.saturating_mul(2) {
        Finding::new(
            Level::Warn,
            CHECK,
            format!(
                "{free_mb} MiB free, close to storage.min_free_mb = {min_free_mb}: records will \
                 be refused soon"
            ),
        )
    } else {
        Finding::new(
            Level::Ok,
            CHECK,
            format!("{free_mb} MiB free (minimum {min_free_mb} MiB)"),
        )
    }
}

/// Opens the database read-only and runs `PRAGMA integrity_check`.
fn check_database(path: &Path) -> Finding {
    const CHECK: &str = "database";
    match std::fs::metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Finding::new(
                Level::Ok,
                CHECK,
                format!(
                    "{} not created yet (created at first start)",
                    path.display()
                ),
            )
        }
        Err(e) => return unreadable_db(path, &e.to_string(), e.kind()),
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match rusqlite::Connection::open_with_flags(path, flags) {
        Ok(c) => c,
        Err(e) => return database_error(path, &e),
    };
    if let Err(e) = conn.busy_timeout(Duration::from_secs(5)) {
        return database_error(path, &e);
    }
    let lines: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        });
    let lines = match lines {
        Ok(l) => l,
        Err(e) => return database_error(path, &e),
    };
    let schema: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .ok()
        .flatten();
    integrity_verdict(path, &lines, schema)
}

/// The verdict for the rows `PRAGMA integrity_check` returned.
pub fn integrity_verdict(path: &Path, lines: &[String], schema: Option<i64>) -> Finding {
    const CHECK: &str = "database";
    if lines.len() == 1 && lines[0] == "ok" {
        let schema = schema.map(|v| format!(", schema {v}")).unwrap_or_default();
        Finding::new(
            Level::Ok,
            CHECK,
            format!("{} passes the integrity check{schema}", path.display()),
        )
    } else {
        let mut detail = lines.join("; ");
        if detail.len() > 200 {
            let cut = (0..=200)
                .rev()
                .find(|&i| detail.is_char_boundary(i))
                .unwrap_or(0);
            detail.truncate(cut);
            detail.push('…');
        }
        Finding::new(
            Level::Fail,
            CHECK,
            format!(
                "{} is damaged ({detail}); the gateway moves it aside and starts a fresh one at \
                 its next start; keep the moved file for recovery",
                path.display()
            ),
        )
    }
}

fn database_error(path: &Path, e: &rusqlite::Error) -> Finding {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            integrity_verdict(path, &[e.to_string()], None)
        }
        Some(rusqlite::ErrorCode::CannotOpen)
        | Some(rusqlite::ErrorCode::PermissionDenied)
        | Some(rusqlite::ErrorCode::ReadOnly) => {
            unreadable_db(path, &e.to_string(), std::io::ErrorKind::PermissionDenied)
        }
        _ => Finding::new(Level::Fail, "database", format!("{}: {e}", path.display())),
    }
}

fn unreadable_db(path: &Path, err: &str, kind: std::io::ErrorKind) -> Finding {
    let hint =
        if kind == std::io::ErrorKind::PermissionDenied && !rustix::process::geteuid().is_root() {
            "; run as root (sudo hadir doctor)"
        } else {
            ""
        };
    Finding::new(
        Level::Warn,
        "database",
        format!("cannot open {} to check it: {err}{hint}", path.display()),
    )
}

/// Is the system clock synchronised (NTP)?
fn check_clock() -> Finding {
    let timedatectl = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| parse_ntp_synchronized(&String::from_utf8_lossy(&o.stdout)));
    let synced = timedatectl.or_else(|| {
        Path::new("/run/systemd/timesync/synchronized")
            .exists()
            .then_some(true)
    });
    clock_verdict(synced)
}

/// Parses `timedatectl show -p NTPSynchronized` output (`NTPSynchronized=yes`).
pub fn parse_ntp_synchronized(output: &str) -> Option<bool> {
    output
        .lines()
        .find_map(|line| match line.trim().strip_prefix("NTPSynchronized=")? {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        })
}

/// The verdict for the clock state (`None` = unknown).
pub fn clock_verdict(synced: Option<bool>) -> Finding {
    match synced {
        Some(true) => Finding::new(Level::Ok, "clock", "synchronised (NTP)"),
        Some(false) => Finding::new(
            Level::Warn,
            "clock",
            "NOT synchronised: attendance times may be wrong; check the NTP server and the \
             network (timedatectl timesync-status)",
        ),
        None => Finding::new(
            Level::Warn,
            "clock",
            "unknown (no timedatectl answer and no systemd-timesyncd state); check the time by hand",
        ),
    }
}

/// A host and port to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why an address could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing to connect to.
    #[error("empty address")]
    Empty,
    /// The port is not a number from 1 to 65535.
    #[error("bad port {0:?}")]
    BadPort(String),
    /// The URL's scheme is not one hadir speaks.
    #[error("unknown URL scheme in {0:?}")]
    Scheme(String),
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; `default_port` when
/// none is given.
pub fn parse_host_port(s: &str, default_port: u16) -> Result<Target, AddressError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AddressError::Empty);
    }
    let port = |p: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(AddressError::BadPort(p.to_string())),
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(AddressError::Empty)?;
        if host.is_empty() {
            return Err(AddressError::Empty);
        }
        let port = match after.strip_prefix(':') {
            Some(p) => port(p)?,
            None if after.is_empty() => default_port,
            None => return Err(AddressError::BadPort(after.to_string())),
        };
        return Ok(Target {
            host: host.to_string(),
            port,
        });
    }
    match s.matches(':').count() {
        0 => Ok(Target {
            host: s.to_string(),
            port: default_port,
        }),
        1 => {
            let (host, p) = s.split_once(':').ok_or(AddressError::Empty)?;
            if host.is_empty() {
                return Err(AddressError::Empty);
            }
            Ok(Target {
                host: host.to_string(),
                port: port(p)?,
            })
        }
        // A bare IPv6 address has no port.
        _ => Ok(Target {
            host: s.to_string(),
            port: default_port,
        }),
    }
}

/// The host and port of an upstream URL (`mqtt://`, `mqtts://`, `https://`, `http://`), with
/// the scheme's default port when none is given.
pub fn parse_url_target(url: &str) -> Result<Target, AddressError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| AddressError::Scheme(url.to_string()))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" => 1883,
        "mqtts" => 8883,
        "https" => 443,
        "http" => 80,
        _ => return Err(AddressError::Scheme(url.to_string())),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    parse_host_port(host_port, default_port)
}

/// What to probe: `(check name, address as configured, parsed target)`.
type Probe = (String, String, Result<Target, AddressError>);

/// Lists the TCP probes for pull readers and the upstream server; UDP readers get a finding of
/// their own, as reachability cannot be seen without speaking their protocol.
pub fn plan_probes(config: &Config) -> (Vec<Probe>, Vec<Finding>) {
    let mut probes = Vec::new();
    let mut findings = Vec::new();
    for d in &config.devices {
        if d.kind != DeviceKind::ZkPull {
            continue;
        }
        let check = format!("device {}", d.name);
        let address = d.address.clone().unwrap_or_default();
        if d.transport == Transport::Udp {
            findings.push(Finding::new(
                Level::Warn,
                check,
                format!(
                    "{address} uses UDP: not checked (no connection to test); see the gateway log"
                ),
            ));
            continue;
        }
        let target = parse_host_port(&address, DEFAULT_DEVICE_PORT);
        probes.push((check, address, target));
    }
    if config.upstream.mode != UpstreamMode::None {
        let url = config.upstream.url.clone();
        let target = parse_url_target(&url);
        probes.push(("upstream".to_string(), url, target));
    }
    (probes, findings)
}

/// Probes every pull reader and the upstream server in parallel.
fn check_network(config: &Config) -> Vec<Finding> {
    let (probes, mut findings) = plan_probes(config);
    let probed: Vec<Finding> = std::thread::scope(|scope| {
        let handles: Vec<_> = probes
            .iter()
            .map(|(check, address, target)| {
                scope.spawn(move || probe(check, address, target.as_ref()))
            })
            .collect();
        handles
            .into_iter()
            .zip(&probes)
            .map(|(h, (check, _, _))| {
                h.join()
                    .unwrap_or_else(|_| Finding::new(Level::Fail, check.clone(), "probe crashed"))
            })
            .collect()
    });
    findings.extend(probed);
    findings
}

fn probe(check: &str, address: &str, target: Result<&Target, &AddressError>) -> Finding {
    let target = match target {
        Ok(t) => t,
        Err(e) => return Finding::new(Level::Fail, check, format!("cannot use {address:?}: {e}")),
    };
    let addrs: Vec<SocketAddr> = match (target.host.as_str(), target.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return Finding::new(
                Level::Fail,
                check,
                format!(
                    "cannot resolve {}: {e}; check the name and DNS",
                    target.host
                ),
            )
        }
    };
    let mut last_err = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, PROBE_TIMEOUT) {
            Ok(_) => {
                return Finding::new(Level::Ok, check, format!("{target} accepts connections"))
            }
            Err(e) => last_err = Some(e),
        }
    }
    let why = match last_err {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            format!("no answer within {} s", PROBE_TIMEOUT.as_secs())
        }
        Some(e) => e.to_string(),
        None => "no address".to_string(),
    };
    let advice = if check == "upstream" {
        "check the internet link, the URL and the firewall"
    } else {
        "check that the reader is on, its cable, and its IP address (menu Comm.)"
    };
    Finding::new(
        Level::Fail,
        check,
        format!("cannot connect to {target}: {why}; {advice}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        match hadir_config::parse(text, "test.toml") {
            Ok(c) => c,
            Err(e) => panic!("test config invalid: {e}"),
        }
    }

    #[test]
    fn a_finding_prints_as_level_check_and_verdict_aligned() {
        let ok = Finding::new(Level::Ok, "disk", "900 MiB free");
        let fail = Finding::new(Level::Fail, "device Pintu", "cannot connect");
        assert_eq!(ok.to_string(), "OK    disk: 900 MiB free");
        assert_eq!(fail.to_string(), "FAIL  device Pintu: cannot connect");
        assert_eq!(
            Finding::new(Level::Warn, "clock", "unknown").to_string(),
            "WARN  clock: unknown"
        );
    }

    #[test]
    fn the_exit_code_is_failure_only_when_a_check_failed() {
        let warn = vec![
            Finding::new(Level::Ok, "a", ""),
            Finding::new(Level::Warn, "b", ""),
        ];
        assert_eq!(exit_code(&warn), ExitCode::SUCCESS);
        let mut fail = warn.clone();
        fail.push(Finding::new(Level::Fail, "c", ""));
        assert_eq!(exit_code(&fail), ExitCode::FAILURE);
    }

    #[test]
    fn device_addresses_take_port_4370_unless_one_is_given() {
        let t = |s| parse_host_port(s, DEFAULT_DEVICE_PORT);
        assert_eq!(
            t("192.168.1.201"),
            Ok(Target {
                host: "192.168.1.201".into(),
                port: 4370
            })
        );
        assert_eq!(t(" reader.local:5005 ").map(|t| t.port), Ok(5005));
        assert_eq!(
            t("[fe80::1]:4371").map(|t| t.to_string()),
            Ok("[fe80::1]:4371".into())
        );
        assert_eq!(t("[fe80::1]").map(|t| t.port), Ok(4370));
        assert_eq!(t("fe80::1").map(|t| t.host), Ok("fe80::1".into()));
        assert_eq!(t(""), Err(AddressError::Empty));
        assert_eq!(t("host:0"), Err(AddressError::BadPort("0".into())));
        assert_eq!(t("host:http"), Err(AddressError::BadPort("http".into())));
        assert_eq!(t(":4370"), Err(AddressError::Empty));
    }

    #[test]
    fn upstream_urls_give_host_and_the_scheme_default_port() {
        let t = |s| parse_url_target(s).map(|t| t.to_string());
        assert_eq!(
            t("mqtt://broker.prov.go.id"),
            Ok("broker.prov.go.id:1883".into())
        );
        assert_eq!(
            t("mqtts://broker.prov.go.id"),
            Ok("broker.prov.go.id:8883".into())
        );
        assert_eq!(
            t("https://absen.prov.go.id/api/v1"),
            Ok("absen.prov.go.id:443".into())
        );
        assert_eq!(t("http://10.0.0.5:8000/x?y=1"), Ok("10.0.0.5:8000".into()));
        assert_eq!(
            t("mqtts://user@[2001:db8::1]:8884"),
            Ok("[2001:db8::1]:8884".into())
        );
        assert!(matches!(t("ftp://x"), Err(AddressError::Scheme(_))));
        assert!(matches!(t(""), Err(AddressError::Scheme(_))));
        assert_eq!(t("https://"), Err(AddressError::Empty));
    }

    #[test]
    fn disk_space_below_the_minimum_fails_and_near_it_warns() {
        assert_eq!(disk_verdict(100, 256).level, Level::Fail);
        assert_eq!(disk_verdict(300, 256).level, Level::Warn);
        assert_eq!(disk_verdict(5000, 256).level, Level::Ok);
        assert_eq!(disk_verdict(0, 0).level, Level::Ok);
        assert!(disk_verdict(100, 256).verdict.contains("min_free_mb = 256"));
    }

    #[test]
    fn timedatectl_output_is_read_as_yes_no_or_unknown() {
        assert_eq!(parse_ntp_synchronized("NTPSynchronized=yes\n"), Some(true));
        assert_eq!(parse_ntp_synchronized("NTPSynchronized=no\n"), Some(false));
        assert_eq!(parse_ntp_synchronized("Timezone=UTC\n"), None);
        assert_eq!(parse_ntp_synchronized(""), None);
        assert_eq!(clock_verdict(Some(true)).level, Level::Ok);
        assert_eq!(clock_verdict(Some(false)).level, Level::Warn);
        assert!(clock_verdict(None).verdict.starts_with("unknown"));
    }

    #[test]
    fn only_a_hadir_health_answer_counts_as_a_running_hadir() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n\
                  {\"status\":\"ok\",\"version\":\"0.1.0\",\"office\":\"kantor\",\"uptime_s\":42}";
        assert_eq!(
            describe_health(ok).as_deref(),
            Some("office kantor, version 0.1.0, up 42 s")
        );
        let other = "HTTP/1.1 200 OK\r\n\r\n<html>router login</html>";
        assert_eq!(describe_health(other), None);
        let not_found = "HTTP/1.1 404 Not Found\r\n\r\n{\"status\":\"ok\"}";
        assert_eq!(describe_health(not_found), None);
        assert_eq!(describe_health("garbage"), None);
    }

    #[test]
    fn a_wildcard_listen_address_is_checked_on_loopback() {
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(connect_addr(a).to_string(), "127.0.0.1:8080");
        let b: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(connect_addr(b).to_string(), "[::1]:8080");
        let c: SocketAddr = "192.168.1.10:8080".parse().unwrap();
        assert_eq!(connect_addr(c), c);
    }

    #[test]
    fn a_damaged_database_fails_with_the_sqlite_detail() {
        let p = Path::new("/var/lib/hadir/hadir.db");
        assert_eq!(
            integrity_verdict(p, &["ok".into()], Some(3)).level,
            Level::Ok
        );
        assert!(integrity_verdict(p, &["ok".into()], Some(3))
            .verdict
            .contains("schema 3"));
        let bad = integrity_verdict(p, &["row 5 missing from index x".into()], None);
        assert_eq!(bad.level, Level::Fail);
        assert!(bad.verdict.contains("row 5 missing"));
        let long = vec!["é".repeat(300)];
        assert!(integrity_verdict(p, &long, None).verdict.len() < 600);
    }

    #[test]
    fn the_probe_plan_covers_pull_readers_and_the_upstream_but_not_push_readers() {
        let c = config(
            r#"
[[devices]]
name = "Pintu"
kind = "zk-pull"
address = "10.0.0.7"

[[devices]]
name = "Lama"
kind = "zk-pull"
address = "10.0.0.8"
transport = "udp"

[[devices]]
name = "Lobi"
kind = "zk-push"
serial = "ABC123"

[upstream]
mode = "mqtt"
url = "mqtts://broker.example:8883"
"#,
        );
        let (probes, findings) = plan_probes(&c);
        let names: Vec<_> = probes.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["device Pintu", "upstream"]);
        assert_eq!(
            probes[0].2.as_ref().map(|t| t.to_string()),
            Ok("10.0.0.7:4370".into())
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].check, "device Lama");
        assert_eq!(findings[0].level, Level::Warn);
    }

    #[test]
    fn no_upstream_probe_when_mode_is_none() {
        let c = config("[upstream]\nmode = \"none\"\n");
        let (probes, findings) = plan_probes(&c);
        assert!(probes.is_empty());
        assert!(findings.is_empty());
    }

    #[test]
    fn a_closed_local_port_is_reported_as_unreachable() {
        // Bind then drop to find a port nothing listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let target = Target {
            host: "127.0.0.1".into(),
            port,
        };
        let f = probe("device X", "127.0.0.1", Ok(&target));
        assert_eq!(f.level, Level::Fail, "{f}");
        assert!(f.verdict.contains("cannot connect"), "{f}");
    }
}
