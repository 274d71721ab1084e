//! The check-in payload (inside the envelope), version 1: parsed strictly, every field capped.
//! Documented in `docs/tablet-protocol.md` with a JSON Schema.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;

/// Why a check-in payload was refused (the reason goes back to the tablet).
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not valid JSON of the v1 shape; the message names the field.
    #[error("invalid check-in: {0}")]
    Invalid(String),
    /// A field is out of range or too long.
    #[error("invalid field {field}: {reason}")]
    Field {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Location as the phone reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationIn {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Reported accuracy radius, metres.
    pub accuracy_m: f64,
    /// `gps`, `network`, `fused`, ...
    #[serde(default)]
    pub provider: Option<String>,
    /// The OS says this fix came from a mock provider.
    #[serde(default)]
    pub mock: bool,
    /// Speed, m/s.
    #[serde(default)]
    pub speed_mps: Option<f64>,
    /// Altitude, metres.
    #[serde(default)]
    pub altitude_m: Option<f64>,
    /// When the fix was taken (RFC 3339).
    #[serde(default)]
    pub fix_time: Option<String>,
}

/// A check-in, version 1.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinIn {
    /// Always 1.
    pub v: u32,
    /// The tablet's id; must match the topic.
    pub tablet: String,
    /// The employee's NIP.
    pub nip: String,
    /// Client clock at capture (RFC 3339 with offset).
    pub client_time: String,
    /// `regular`, `wfh` or `dinas-luar`.
    pub mode: String,
    /// GPS fix, if available.
    #[serde(default)]
    pub location: Option<LocationIn>,
    /// Office Wi-Fi BSSID, if connected.
    #[serde(default)]
    pub bssid: Option<String>,
    /// The scanned office QR code.
    #[serde(default)]
    pub qr: Option<String>,
    /// The selfie, JPEG, base64.
    pub photo: String,
    /// Unique per check-in (8–64 of A–Z a–z 0–9 _ -); a retry re-sends the same nonce.
    pub nonce: String,
}

fn token_ok(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A parsed and bounded check-in plus the decoded photo.
#[derive(Debug, Clone)]
pub struct Checkin {
    /// The payload (photo field emptied).
    pub fields: CheckinIn,
    /// Client time.
    pub client_time: jiff::Timestamp,
    /// Fix time.
    pub fix_time: Option<jiff::Timestamp>,
    /// The JPEG bytes.
    pub photo: Vec<u8>,
}

/// Parses and checks a decrypted payload.
pub fn parse(plaintext: &[u8], photo_max_bytes: usize) -> Result<Checkin, PayloadError> {
    let mut c: CheckinIn =
        serde_json::from_slice(plaintext).map_err(|e| PayloadError::Invalid(e.to_string()))?;
    let field = |field: &'static str, reason: &str| PayloadError::Field {
        field,
        reason: reason.to_string(),
    };
    if c.v != 1 {
        return Err(field("v", "unsupported version (expected 1)"));
    }
    if !token_ok(&c.tablet, 1, 64) {
        return Err(field("tablet", "1–64 of A–Z a–z 0–9 _ -"));
    }
    if !(c.nip.len() >= 4 && c.nip.len() <= 32 && c.nip.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(field("nip", "4–32 letters or digits"));
    }
    if !matches!(c.mode.as_str(), "regular" | "wfh" | "dinas-luar") {
        return Err(field("mode", "one of regular, wfh, dinas-luar"));
    }
    if !token_ok(&c.nonce, 8, 64) {
        return Err(field("nonce", "8–64 of A–Z a–z 0–9 _ -"));
    }
    if c.qr.as_ref().is_some_and(|q| q.len() > 128) {
        return Err(field("qr", "at most 128 characters"));
    }
    if c.bssid.as_ref().is_some_and(|b| b.len() > 32) {
        return Err(field("bssid", "at most 32 characters"));
    }
    let client_time: jiff::Timestamp = c.client_time.parse().map_err(|_| {
        field(
            "client_time",
            "RFC 3339 time with offset, e.g. 2026-11-23T07:29:05+08:00",
        )
    })?;
    let mut fix_time = None;
    if let Some(l) = &c.location {
        if !(l.lat.is_finite() && (-90.0..=90.0).contains(&l.lat)) {
            return Err(field("location.lat", "between -90 and 90"));
        }
        if !(l.lon.is_finite() && (-180.0..=180.0).contains(&l.lon)) {
            return Err(field("location.lon", "between -180 and 180"));
        }
        if !(l.accuracy_m.is_finite() && l.accuracy_m >= 0.0 && l.accuracy_m <= 100_000.0) {
            return Err(field("location.accuracy_m", "between 0 and 100000"));
        }
        if l.provider.as_ref().is_some_and(|p| p.len() > 32) {
            return Err(field("location.provider", "at most 32 characters"));
        }
        if l.speed_mps.is_some_and(|s| !s.is_finite())
            || l.altitude_m.is_some_and(|a| !a.is_finite())
        {
            return Err(field("location", "speed and altitude must be numbers"));
        }
        if let Some(t) = &l.fix_time {
            fix_time = Some(
                t.parse()
                    .map_err(|_| field("location.fix_time", "RFC 3339 time"))?,
            );
        }
    }
    if c.photo.len() > photo_max_bytes.div_ceil(3) * 4 + 4 {
        return Err(field(
            "photo",
            &format!("larger than {} KiB", photo_max_bytes / 1024),
        ));
    }
    let photo = B64
        .decode(c.photo.as_bytes())
        .map_err(|e| field("photo", &format!("not base64: {e}")))?;
    if photo.len() > photo_max_bytes {
        return Err(field(
            "photo",
            &format!("larger than {} KiB", photo_max_bytes / 1024),
        ));
    }
    c.photo = String::new();
    Ok(Checkin {
        fields: c,
        client_time,
        fix_time,
        photo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> serde_json::Value {
        serde_json::json!({
            "v": 1, "tablet": "tab-1", "nip": "198703152010011002",
            "client_time": "2026-11-23T07:29:05+08:00", "mode": "regular",
            "location": {"lat": 0.5436, "lon": 117.6261, "accuracy_m": 8.5, "provider": "gps", "mock": false},
            "qr": "H1-x", "photo": B64.encode(b"\xff\xd8\xff"), "nonce": "abcdefgh12"
        })
    }

    #[test]
    fn a_good_payload_parses_and_keeps_the_photo_apart() {
        let c = parse(good().to_string().as_bytes(), 1024).unwrap();
        assert_eq!(c.photo, b"\xff\xd8\xff");
        assert!(c.fields.photo.is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        for (path, value, name) in [
            ("nip", serde_json::json!("12"), "nip"),
            ("mode", serde_json::json!("remote"), "mode"),
            ("nonce", serde_json::json!("x"), "nonce"),
            ("client_time", serde_json::json!("kemarin"), "client_time"),
            ("photo", serde_json::json!("%%%"), "photo"),
        ] {
            let mut v = good();
            v[path] = value;
            let e = parse(v.to_string().as_bytes(), 1024).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
        let mut v = good();
        v["location"]["lat"] = serde_json::json!(123.0);
        assert!(parse(v.to_string().as_bytes(), 1024)
            .unwrap_err()
            .to_string()
            .contains("location.lat"));
    }

    #[test]
    fn unknown_fields_and_garbage_are_refused() {
        let mut v = good();
        v["extra"] = serde_json::json!(1);
        assert!(matches!(
            parse(v.to_string().as_bytes(), 1024),
            Err(PayloadError::Invalid(_))
        ));
        assert!(parse(b"\x00\x01", 1024).is_err());
    }

    #[test]
    fn an_oversized_photo_is_refused_before_decoding() {
        let mut v = good();
        v["photo"] = serde_json::json!(B64.encode(vec![0u8; 5000]));
        let e = parse(v.to_string().as_bytes(), 1024).unwrap_err();
        assert!(e.to_string().contains("photo"), "{e}");
    }
}
