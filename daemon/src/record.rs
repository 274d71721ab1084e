//! The records that flow through the gateway: a punch as a driver hands it over, and the stable id
//! that lets every later stage (and the provincial server) recognise it again.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where a punch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Pulled from a reader over the binary protocol.
    ZkPull,
    /// Pushed by a reader over ADMS/iclock.
    ZkPush,
    /// Imported from a reader's USB attlog file.
    ZkUsb,
    /// Sent to the local import API.
    Api,
}

impl Source {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ZkPull => "zk-pull",
            Source::ZkPush => "zk-push",
            Source::ZkUsb => "zk-usb",
            Source::Api => "api",
        }
    }
}

/// What a punch means, from the reader's state/punch field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PunchKind {
    /// Arriving (state 0).
    CheckIn,
    /// Leaving (state 1).
    CheckOut,
    /// Going on a break (state 2).
    BreakOut,
    /// Back from a break (state 3).
    BreakIn,
    /// Overtime start (state 4).
    OvertimeIn,
    /// Overtime end (state 5).
    OvertimeOut,
    /// Any other code; kept as raw and resolved by schedule.
    Other(u8),
}

impl PunchKind {
    /// Maps the ZKTeco verify-state code.
    pub fn from_state(state: u8) -> Self {
        match state {
            0 => PunchKind::CheckIn,
            1 => PunchKind::CheckOut,
            2 => PunchKind::BreakOut,
            3 => PunchKind::BreakIn,
            4 => PunchKind::OvertimeIn,
            5 => PunchKind::OvertimeOut,
            n => PunchKind::Other(n),
        }
    }

    /// The code stored and forwarded.
    pub fn state(self) -> u8 {
        match self {
            PunchKind::CheckIn => 0,
            PunchKind::CheckOut => 1,
            PunchKind::BreakOut => 2,
            PunchKind::BreakIn => 3,
            PunchKind::OvertimeIn => 4,
            PunchKind::OvertimeOut => 5,
            PunchKind::Other(n) => n,
        }
    }
}

/// A punch as received from a device or import, before it is stored.
#[derive(Debug, Clone)]
pub struct NewPunch {
    /// How it arrived.
    pub source: Source,
    /// Device name or serial it came from.
    pub device: String,
    /// The reader's user id (normally the NIP) or the employee's NIP.
    pub employee: String,
    /// Wall-clock time on the device, in the office's zone.
    pub local_time: DateTime,
    /// Reader state code (see [`PunchKind`]).
    pub state: u8,
    /// How the person verified (fingerprint 1, password 0, card 4, face 15...), if known.
    pub verify: Option<u8>,
    /// The bytes exactly as received, kept as evidence.
    pub payload: Vec<u8>,
}

/// The stable id of a punch: the same punch from pull, push, USB import or a re-sent batch always
/// gets the same id, so every stage — and the provincial server — can de-duplicate by it.
///
/// It is the first 16 bytes (hex) of SHA-256 over the office id, device, employee, wall-clock time
/// and state. The source is deliberately left out.
pub fn punch_record_id(office: &str, p: &NewPunch) -> String {
    stable_id(&[
        "hadir-punch-v1",
        office,
        &p.device,
        &p.employee,
        &p.local_time.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
        &p.state.to_string(),
    ])
}

/// A record id: the first 16 bytes (hex) of SHA-256 over the parts, each prefixed with its
/// length (u32 LE) so no two part lists hash alike. The first part names the record kind.
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u32).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// SHA-256 of a raw payload, hex.
pub fn payload_hash(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// The UTC instant of an office wall-clock time. Ambiguous or skipped times (none occur in
/// Indonesian zones, which have no daylight saving) resolve to the earlier instant.
pub fn local_to_utc(tz: &TimeZone, local: DateTime) -> Result<jiff::Timestamp, jiff::Error> {
    Ok(tz.to_ambiguous_zoned(local).compatible()?.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn punch(source: Source) -> NewPunch {
        NewPunch {
            source,
            device: "pintu-depan".into(),
            employee: "198703152010011002".into(),
            local_time: jiff::civil::date(2026, 11, 23).at(7, 29, 5, 0),
            state: 0,
            verify: Some(1),
            payload: b"raw".to_vec(),
        }
    }

    #[test]
    fn the_same_punch_pulled_or_pushed_has_the_same_id() {
        let a = punch_record_id("kutim", &punch(Source::ZkPull));
        let b = punch_record_id("kutim", &punch(Source::ZkPush));
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn a_different_second_state_or_office_changes_the_id() {
        let base = punch(Source::ZkPull);
        let id = punch_record_id("kutim", &base);
        let mut later = base.clone();
        later.local_time = jiff::civil::date(2026, 11, 23).at(7, 29, 6, 0);
        assert_ne!(id, punch_record_id("kutim", &later));
        let mut out = base.clone();
        out.state = 1;
        assert_ne!(id, punch_record_id("kutim", &out));
        assert_ne!(id, punch_record_id("kaimana", &base));
    }

    #[test]
    fn wita_wall_time_is_eight_hours_ahead_of_utc() {
        let tz = TimeZone::get("Asia/Makassar").unwrap();
        let utc = local_to_utc(&tz, jiff::civil::date(2026, 11, 23).at(7, 30, 0, 0)).unwrap();
        assert_eq!(utc.to_string(), "2026-11-22T23:30:00Z");
    }
}
