//! Helpers for the operator web UI tests: an HTTP/1.1 client that keeps headers and binary
//! bodies, operator sessions (cookie + CSRF token), and seeding a check-in that needs review
//! into the real database file.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::support::TOKEN;

/// A response with its headers.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every `Set-Cookie`.
    pub fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }
}

/// One request over a fresh connection.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    }) {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size..];
        if b.starts_with(b"\r\n") {
            b = &b[2..];
        }
    }
    out
}

/// A request with the bearer API token.
pub fn with_token(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Resp {
    request(
        addr,
        method,
        path,
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

/// `name=value` of a `Set-Cookie`.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A logged-in operator.
#[derive(Clone)]
pub struct Session {
    pub addr: SocketAddr,
    pub cookie: String,
    pub csrf: String,
    pub must_change: bool,
}

impl Session {
    /// JSON login; the response when it fails.
    pub fn login(addr: SocketAddr, name: &str, password: &str) -> Result<Session, Resp> {
        let body = serde_json::json!({"name": name, "password": password}).to_string();
        let r = request(
            addr,
            "POST",
            "/api/v1/session",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        if r.status != 200 {
            return Err(r);
        }
        let cookie = r
            .cookies()
            .into_iter()
            .find(|c| c.starts_with("hadir_session="))
            .map(cookie_pair)
            .expect("session cookie");
        let j = r.json();
        Ok(Session {
            addr,
            cookie,
            csrf: j["csrf_token"].as_str().unwrap().to_string(),
            must_change: j["must_change_password"].as_bool().unwrap(),
        })
    }

    pub fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[("Cookie", &self.cookie)], b"")
    }

    /// A JSON request carrying the CSRF header.
    pub fn send(&self, method: &str, path: &str, body: &serde_json::Value) -> Resp {
        request(
            self.addr,
            method,
            path,
            &[
                ("Cookie", &self.cookie),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    /// A JSON request without the CSRF header.
    pub fn send_without_csrf(&self, method: &str, path: &str, body: &serde_json::Value) -> Resp {
        request(
            self.addr,
            method,
            path,
            &[
                ("Cookie", &self.cookie),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    /// A form post as a browser sends it; `_csrf` is added unless `with_csrf` is false.
    pub fn form(&self, path: &str, fields: &[(&str, &str)], with_csrf: bool) -> Resp {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        if with_csrf {
            pairs.push(format!("_csrf={}", enc(&self.csrf)));
        }
        request(
            self.addr,
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            pairs.join("&").as_bytes(),
        )
    }
}

/// Creates an operator with the API token and logs in with a final password (the one-time
/// password is changed first).
pub fn operator(addr: SocketAddr, name: &str, role: &str) -> Session {
    let first = format!("{name}-first-pass-1");
    let r = with_token(
        addr,
        "POST",
        "/api/v1/operators",
        serde_json::json!({"name": name, "role": role, "password": first})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let s = Session::login(addr, name, &first).unwrap_or_else(|r| panic!("{}", r.text()));
    assert!(s.must_change);
    let final_pw = format!("{name}-final-pass-2");
    let r = s.send(
        "POST",
        "/api/v1/session/password",
        &serde_json::json!({"current": first, "new": final_pw}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    Session::login(addr, name, &final_pw).unwrap_or_else(|r| panic!("{}", r.text()))
}

/// The password an [`operator`] ends up with.
pub fn final_password(name: &str) -> String {
    format!("{name}-final-pass-2")
}

/// Adds an employee with the API token.
pub fn employee(addr: SocketAddr, nip: &str, name: &str, unit: &str) {
    let r = with_token(
        addr,
        "PUT",
        &format!("/api/v1/employees/{nip}"),
        serde_json::json!({"name": name, "unit": unit})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Writes a tablet check-in that needs review (raw event, attendance row, evidence, retained
/// photo) straight into the gateway's database file, as the intake would have; returns its
/// record id.
pub fn seed_review_checkin(db: &Path, nip: &str, local: &str, utc: &str, tag: &str) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let record_id = format!("{:0>32}", tag);
    let findings = serde_json::json!([
        {"code": "geofence.borderline", "severity": "review", "id": "Di tepi area kantor", "en": "At the edge of the office area",
         "detail": {"distance_m": 212.5, "radius_m": 150.0, "accuracy_m": 80.0}},
        {"code": "qr.valid", "severity": "info", "id": "Kode QR sah", "en": "Office QR valid", "detail": {}}
    ])
    .to_string();
    conn.execute(
        "INSERT INTO raw_events (received_utc, source, device, payload, payload_sha256) VALUES (?1, 'tablet', 'tab-1', ?2, ?3)",
        rusqlite::params![utc, format!("seed-{tag}").into_bytes(), format!("sha-{tag}")],
    )
    .unwrap();
    let raw_id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO attendance (record_id, raw_id, source, device, employee, occurred_utc, occurred_local, state, verify, verdict, reasons, created_utc)
         VALUES (?1, ?2, 'tablet', 'tab-1', ?3, ?4, ?5, 255, 15, 'needs-review', ?6, ?4)",
        rusqlite::params![record_id, raw_id, nip, utc, local, findings],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO checkins (record_id, tablet, nonce, nip, mode, client_time_utc, received_utc, local_day, lat, lon, accuracy_m,
                               photo_sha256, photo_dhash, verdict, findings, reply, counted)
         VALUES (?1, 'tab-1', ?2, ?3, 'regular', ?4, ?4, ?5, 0.5455, 117.6261, 80.0, ?6, 0, 'needs-review', ?7, '{}', 1)",
        rusqlite::params![record_id, format!("nonce-{tag}"), nip, utc, &local[..10], format!("photo-{tag}"), findings],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO checkin_photos (record_id, jpeg, keep_until_utc) VALUES (?1, ?2, '2999-01-01T00:00:00Z')",
        rusqlite::params![record_id, crate::support::tablet::jpeg(tag.len() as u64 + 7)],
    )
    .unwrap();
    record_id
}
