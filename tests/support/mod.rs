//! Helpers for tests that start the real `hadir` binary: a temporary office, the child process,
//! and a minimal HTTP/1.1 client over a real TCP socket.
#![allow(dead_code)]

pub mod peers;
pub mod tablet;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn hadir_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hadir"))
}

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p =
            std::env::temp_dir().join(format!("hadir-test-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes [`test_config`] for `dir` with `extra` appended to `dir/hadir.toml`; returns its path.
pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("hadir.toml");
    std::fs::write(&path, test_config(dir, extra)).unwrap();
    path
}

/// The gateway's database in a test office made by [`test_config`].
pub fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("data/hadir.db")).unwrap()
}

/// The one integer a query such as `SELECT COUNT(*) FROM …` returns from the gateway's database.
pub fn count(dir: &Path, sql: &str) -> i64 {
    db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Record ids of every attendance row in the gateway's database.
pub fn record_ids(dir: &Path) -> Vec<String> {
    let conn = db(dir);
    let mut stmt = conn.prepare("SELECT record_id FROM attendance").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Polls `ok` every 100 ms; fails the test naming `what` if it does not hold within `within`.
pub async fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A JSON request to the admin API with the test token.
pub fn api(gw: &Gateway, method: &str, path: &str, body: &serde_json::Value) -> Response {
    let auth = format!("Bearer {TOKEN}");
    let body = body.to_string();
    http(
        gw.admin,
        method,
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap()
}

/// Adds (or renames) an employee through the admin API.
pub fn put_employee(gw: &Gateway, nip: &str, name: &str) {
    let r = api(
        gw,
        "PUT",
        &format!("/api/v1/employees/{nip}"),
        &serde_json::json!({ "name": name }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A config for tests: data in `dir/data`, admin on an ephemeral loopback port, fixed token.
pub fn test_config(dir: &Path, extra: &str) -> String {
    format!(
        r#"
[office]
id = "test-office"
name = "Kantor Uji"
timezone = "Asia/Makassar"

[[office.sites]]
latitude = 0.5436
longitude = 117.6261

[storage]
data_dir = "{data}"
min_free_mb = 1

[admin]
listen = "127.0.0.1:0"
api_token = "{TOKEN}"
{extra}
{tablets}
{push}
"#,
        data = dir.join("data").display(),
        tablets = if extra.contains("[tablets]") {
            ""
        } else {
            "[tablets]\nenabled = false\n"
        },
        push = if extra.contains("[push]") {
            ""
        } else {
            "[push]\nenabled = false\n"
        },
    )
}

/// The API token in [`test_config`].
pub const TOKEN: &str = "test-token-0123456789";

/// A running gateway.
pub struct Gateway {
    pub child: Child,
    pub admin: SocketAddr,
    pub stdout_lines: Vec<String>,
}

impl Gateway {
    /// The push-reader listener's address (from the `hadir: push readers http://...` line).
    pub fn push_addr(&self) -> Option<SocketAddr> {
        self.stdout_lines.iter().find_map(|l| {
            l.strip_prefix("hadir: push readers http://")
                .and_then(|rest| rest.split('/').next())
                .and_then(|a| a.parse().ok())
        })
    }
}

impl Gateway {
    /// Starts `hadir run --config <file>` and waits for its "ready" line.
    pub fn start(config_path: &Path) -> Gateway {
        Self::start_with(
            Command::new(hadir_bin())
                .arg("run")
                .arg("--config")
                .arg(config_path),
        )
    }

    /// Starts a prepared command and waits for its "ready" line (at most 30 s).
    pub fn start_with(cmd: &mut Command) -> Gateway {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start hadir");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = Vec::new();
        let mut admin = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("hadir: admin http://") {
                        let addr = rest.split('/').next().unwrap();
                        admin = Some(addr.parse().unwrap());
                    }
                    let ready = line == "hadir: ready";
                    lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("hadir did not become ready; stdout so far: {lines:#?}");
                }
            }
        }
        Gateway {
            child,
            admin: admin.expect("admin address line"),
            stdout_lines: lines,
        }
    }

    /// `kill -9`: no chance to flush or close anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hadir did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Response { status, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// POSTs punches to the import API.
pub fn post_punches(addr: SocketAddr, punches: &serde_json::Value) -> std::io::Result<Response> {
    let body = serde_json::json!({ "punches": punches }).to_string();
    http(
        addr,
        "POST",
        "/api/v1/punches",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}
