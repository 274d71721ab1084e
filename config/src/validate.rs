//! Two passes: each section is deserialized on its own (so a type error in one section does not
//! hide problems in another, and every unknown key is reported), then the assembled configuration
//! is checked for values that parse but make no sense.

use std::collections::HashSet;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::model::{Config, DeviceKind, UpstreamMode};
use crate::secret;
use crate::Problem;

mod face;

const SECTIONS: &[&str] = &[
    "office",
    "storage",
    "admin",
    "devices",
    "upstream",
    "verification",
    "tablets",
    "push",
    "roster_sync",
    "face",
];

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        line: None,
        message: message.into(),
    }
}

/// Deserializes every section independently; returns the config built from the sections that
/// parsed (defaults for the others) and every problem found.
pub(crate) fn deserialize_sections(text: &str) -> (Config, Vec<Problem>) {
    let mut config = Config::default();
    let mut problems = Vec::new();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem("", format!("not valid TOML: {}", e.message())));
            return (config, problems);
        }
    };
    for (key, value) in table {
        match key.as_str() {
            "office" => {
                section(&key, value, &mut problems, &mut config.office);
            }
            "storage" => {
                section(&key, value, &mut problems, &mut config.storage);
            }
            "admin" => {
                section(&key, value, &mut problems, &mut config.admin);
            }
            "tablets" => {
                section(&key, value, &mut problems, &mut config.tablets);
            }
            "push" => {
                section(&key, value, &mut problems, &mut config.push);
            }
            "roster_sync" => {
                section(&key, value, &mut problems, &mut config.roster_sync);
            }
            "upstream" => {
                section(&key, value, &mut problems, &mut config.upstream);
            }
            "verification" => {
                section(&key, value, &mut problems, &mut config.verification);
            }
            "face" => {
                section(&key, value, &mut problems, &mut config.face);
            }
            "devices" => match value {
                toml::Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let mut device = Default::default();
                        let path = format!("devices[{i}]");
                        if section(&path, item, &mut problems, &mut device) {
                            config.devices.push(device);
                        }
                    }
                }
                _ => problems.push(problem(
                    "devices",
                    "must be a list of reader tables ([[devices]])",
                )),
            },
            other => problems.push(problem(
                other,
                format!(
                    "unknown key; the top-level sections are: {}",
                    SECTIONS.join(", ")
                ),
            )),
        }
    }
    (config, problems)
}

/// Deserializes one section into `out`, collecting unknown keys and the first type error.
fn section<T: DeserializeOwned>(
    prefix: &str,
    value: toml::Value,
    problems: &mut Vec<Problem>,
    out: &mut T,
) -> bool {
    let mut unknown = Vec::new();
    let result: Result<T, _> = {
        let mut record =
            |path: serde_ignored::Path<'_>| unknown.push(render_ignored(prefix, &path));
        let ignored = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize(ignored)
    };
    for path in unknown {
        problems.push(problem(
            path,
            "unknown key (misspelt, or not in this version)",
        ));
    }
    match result {
        Ok(v) => {
            *out = v;
            true
        }
        Err(e) => {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                prefix.to_string()
            } else if inner.starts_with('[') {
                format!("{prefix}{inner}")
            } else {
                format!("{prefix}.{inner}")
            };
            problems.push(problem(
                path,
                clean_serde_message(&e.into_inner().to_string()),
            ));
            false
        }
    }
}

fn clean_serde_message(message: &str) -> String {
    // toml errors carry their own position text, which points into a re-serialized value.
    message.lines().next().unwrap_or(message).trim().to_string()
}

fn render_ignored(prefix: &str, path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    fn walk(path: &P<'_>, out: &mut String) {
        match path {
            P::Root => {}
            P::Seq { parent, index } => {
                walk(parent, out);
                out.push_str(&format!("[{index}]"));
            }
            P::Map { parent, key } => {
                walk(parent, out);
                out.push('.');
                out.push_str(key);
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                walk(parent, out)
            }
        }
    }
    let mut s = prefix.to_string();
    walk(path, &mut s);
    s
}

/// Checks values that deserialized but are out of range or inconsistent.
pub(crate) fn check_semantics(c: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    let o = &c.office;
    if o.id.is_empty()
        || o.id.len() > 64
        || !o
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        p.push(problem(
            "office.id",
            format!(
                "must be 1–64 characters of a-z, 0-9 and '-' (got {:?})",
                o.id
            ),
        ));
    }
    if jiff::tz::TimeZone::get(&o.timezone).is_err() {
        p.push(problem(
            "office.timezone",
            format!(
                "unknown time zone {:?}; use an IANA name such as Asia/Jakarta (WIB), \
                 Asia/Makassar (WITA) or Asia/Jayapura (WIT)",
                o.timezone
            ),
        ));
    }
    for (i, s) in o.sites.iter().enumerate() {
        let at = |k: &str| format!("office.sites[{i}].{k}");
        if !(-90.0..=90.0).contains(&s.latitude) {
            p.push(problem(
                at("latitude"),
                "required, between -90 and 90 degrees",
            ));
        }
        if !(-180.0..=180.0).contains(&s.longitude) {
            p.push(problem(
                at("longitude"),
                "required, between -180 and 180 degrees",
            ));
        }
        if !(s.radius_m > 0.0 && s.radius_m <= 100_000.0) {
            p.push(problem(
                at("radius_m"),
                format!(
                    "must be greater than 0 and at most 100000 metres (got {})",
                    s.radius_m
                ),
            ));
        }
    }

    if c.storage.data_dir.as_os_str().is_empty() {
        p.push(problem("storage.data_dir", "must not be empty"));
    }
    if c.storage.retention_days == 0 {
        p.push(problem(
            "storage.retention_days",
            "must be at least 1 (forwarded records are kept this long for local reports)",
        ));
    }
    check_secret(
        &mut p,
        "admin.api_token",
        c.admin.api_token.as_ref(),
        c.admin.api_token_file.as_deref(),
    );

    let mut names = HashSet::new();
    let mut serials = HashSet::new();
    for (i, d) in c.devices.iter().enumerate() {
        let at = |k: &str| format!("devices[{i}].{k}");
        if d.name.trim().is_empty() {
            p.push(problem(at("name"), "required (shown in the UI and logs)"));
        } else if !names.insert(d.name.as_str()) {
            p.push(problem(
                at("name"),
                format!("duplicate device name {:?}", d.name),
            ));
        }
        if let Some(serial) = &d.serial {
            if serial.is_empty()
                || serial.len() > 64
                || !serial.bytes().all(|b| b.is_ascii_graphic())
            {
                p.push(problem(at("serial"), "must be 1–64 printable characters"));
            } else if !serials.insert(serial.as_str()) {
                p.push(problem(
                    at("serial"),
                    format!("duplicate serial {serial:?}"),
                ));
            }
        }
        match d.kind {
            DeviceKind::ZkPull => match &d.address {
                None => p.push(problem(
                    at("address"),
                    "required for kind = \"zk-pull\" (host or host:port)",
                )),
                Some(a) if a.trim().is_empty() => {
                    p.push(problem(at("address"), "must not be empty"))
                }
                Some(_) => {}
            },
            DeviceKind::ZkPush => {
                if d.serial.is_none() {
                    p.push(problem(
                        at("serial"),
                        "required for kind = \"zk-push\" (readers identify by serial number)",
                    ));
                }
            }
        }
        if d.poll_interval_s == 0 || d.poll_interval_s > 86_400 {
            p.push(problem(
                at("poll_interval_s"),
                "must be between 1 and 86400 seconds",
            ));
        }
        if d.comm_key != 0 && d.comm_key_file.is_some() {
            p.push(problem(
                at("comm_key"),
                "both `comm_key` and `comm_key_file` are set; keep only one",
            ));
        }
        if let Some(f) = &d.comm_key_file {
            check_secret(&mut p, &at("comm_key"), None, Some(f));
        }
    }

    let push = &c.push;
    if push.delay_s == 0 || push.delay_s > 3600 {
        p.push(problem(
            "push.delay_s",
            "must be between 1 and 3600 seconds",
        ));
    }
    if push.error_delay_s == 0 || push.error_delay_s > 3600 {
        p.push(problem(
            "push.error_delay_s",
            "must be between 1 and 3600 seconds",
        ));
    }
    if push.max_body_kb < 16 || push.max_body_kb > 65_536 {
        p.push(problem(
            "push.max_body_kb",
            "must be between 16 and 65536 KiB",
        ));
    }
    if push.enabled && push.listen == c.admin.listen && push.listen.port() != 0 {
        p.push(problem(
            "push.listen",
            "must differ from admin.listen (readers get their own port)",
        ));
    }
    if c.roster_sync.interval_s == 0 || c.roster_sync.interval_s > 86_400 {
        p.push(problem(
            "roster_sync.interval_s",
            "must be between 1 and 86400 seconds",
        ));
    }

    let u = &c.upstream;
    match u.mode {
        UpstreamMode::None => {}
        UpstreamMode::Mqtt => {
            if !(u.url.starts_with("mqtt://") || u.url.starts_with("mqtts://")) {
                p.push(problem(
                    "upstream.url",
                    format!(
                        "must start with mqtt:// or mqtts:// when mode = \"mqtt\" (got {:?})",
                        u.url
                    ),
                ));
            }
        }
        UpstreamMode::Https => {
            if !(u.url.starts_with("https://") || u.url.starts_with("http://")) {
                p.push(problem(
                    "upstream.url",
                    format!(
                        "must start with https:// when mode = \"https\" (got {:?})",
                        u.url
                    ),
                ));
            }
        }
    }
    if !(1..=10_000).contains(&u.batch_max_records) {
        p.push(problem(
            "upstream.batch_max_records",
            "must be between 1 and 10000",
        ));
    }
    check_secret(
        &mut p,
        "upstream.password",
        u.password.as_ref(),
        u.password_file.as_deref(),
    );
    if !(1..=64).contains(&u.max_in_flight) {
        p.push(problem(
            "upstream.max_in_flight",
            "must be between 1 and 64",
        ));
    }
    if !(1..=3600).contains(&u.ack_timeout_s) {
        p.push(problem(
            "upstream.ack_timeout_s",
            "must be between 1 and 3600 seconds",
        ));
    }
    if u.topic_prefix.is_empty()
        || u.topic_prefix.contains(['+', '#'])
        || u.topic_prefix.ends_with('/')
    {
        p.push(problem(
            "upstream.topic_prefix",
            "must be a non-empty topic without wildcards or a trailing '/'",
        ));
    }
    if u.client_cert_file.is_some() != u.client_key_file.is_some() {
        p.push(problem(
            "upstream.client_cert_file",
            "client_cert_file and client_key_file go together",
        ));
    }
    for (key, file) in [
        ("upstream.ca_file", &u.ca_file),
        ("upstream.client_cert_file", &u.client_cert_file),
        ("upstream.client_key_file", &u.client_key_file),
    ] {
        if let Some(f) = file {
            if let Err(e) = std::fs::metadata(f) {
                p.push(problem(key, format!("cannot read {}: {e}", f.display())));
            }
        }
    }

    let t = &c.tablets;
    if t.tls_listen.is_some() && (t.tls_cert_file.is_none() || t.tls_key_file.is_none()) {
        p.push(problem(
            "tablets.tls_listen",
            "needs tablets.tls_cert_file and tablets.tls_key_file",
        ));
    }
    for (key, file) in [
        ("tablets.tls_cert_file", &t.tls_cert_file),
        ("tablets.tls_key_file", &t.tls_key_file),
    ] {
        if let Some(f) = file {
            if let Err(e) = std::fs::metadata(f) {
                p.push(problem(key, format!("cannot read {}: {e}", f.display())));
            }
        }
    }
    for (key, addr) in [
        ("tablets.listen", Some(t.listen)),
        ("tablets.ws_listen", t.ws_listen),
        ("tablets.tls_listen", t.tls_listen),
    ] {
        if addr.is_some_and(|a| a.port() == 0) {
            p.push(problem(
                key,
                "needs a fixed port (tablets are given it when provisioned)",
            ));
        }
    }
    if !(1..=100_000).contains(&t.max_connections) {
        p.push(problem(
            "tablets.max_connections",
            "must be between 1 and 100000",
        ));
    }
    if !(1..=100_000).contains(&t.queue) {
        p.push(problem("tablets.queue", "must be between 1 and 100000"));
    }
    let v = &c.verification;
    if !(v.min_accuracy_m >= 0.0 && v.min_accuracy_m < v.max_accuracy_m) {
        p.push(problem(
            "verification.min_accuracy_m",
            "must be at least 0 and below verification.max_accuracy_m",
        ));
    }
    if v.max_speed_kmh.is_nan() || v.max_speed_kmh <= 0.0 {
        p.push(problem(
            "verification.max_speed_kmh",
            "must be greater than 0",
        ));
    }
    if !(10..=600).contains(&v.qr_step_s) {
        p.push(problem(
            "verification.qr_step_s",
            "must be between 10 and 600 seconds",
        ));
    }
    for (i, net) in v.office_networks.iter().enumerate() {
        if let Err(why) = check_cidr(net) {
            p.push(problem(
                format!("verification.office_networks[{i}]"),
                format!(
                    "{net:?} is not a network: {why} (write it as 192.168.10.0/24 or fd00::/64)"
                ),
            ));
        }
    }
    if v.photo_near_duplicate_bits > 32 {
        p.push(problem(
            "verification.photo_near_duplicate_bits",
            "must be between 0 and 32 (of 64 bits; more would match unrelated photos)",
        ));
    }
    if !(16..=10_240).contains(&v.photo_max_kb) {
        p.push(problem(
            "verification.photo_max_kb",
            "must be between 16 and 10240 KiB",
        ));
    }
    face::check(&c.face, &mut p);
    p
}

/// Checks `address/prefix` syntax (IPv4 prefix 0–32, IPv6 0–128). The daemon's matcher
/// (`hadir::verify::net::Cidr`) accepts exactly what passes here.
fn check_cidr(s: &str) -> Result<(), &'static str> {
    let (addr, prefix) = s.trim().split_once('/').ok_or("missing /prefix")?;
    let addr: std::net::IpAddr = addr.parse().map_err(|_| "bad address")?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return Err("bad prefix length");
    }
    let prefix: u8 = prefix.parse().map_err(|_| "bad prefix length")?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err("prefix length too long for the address");
    }
    Ok(())
}

fn check_secret(
    p: &mut Vec<Problem>,
    key: &str,
    inline: Option<&secret::SecretString>,
    file: Option<&Path>,
) {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    if let Err(e) = secret::resolve(leaf, inline, file) {
        let path = if file.is_some() && inline.is_none() {
            format!("{key}_file")
        } else {
            key.to_string()
        };
        p.push(problem(path, e.to_string()));
    }
}
