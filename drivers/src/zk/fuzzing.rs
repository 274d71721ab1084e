//! Entry points shared by the cargo-fuzz targets (`/fuzz`) and the corpus
//! regression test (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes, must
//! never panic, and asserts round-trip invariants where they hold.

use super::codec::{self, Packet};
use super::records::{
    self, DeviceCounts, RecordLayout, UserLayout, MAX_TEMPLATES, MAX_TEMPLATE_LEN,
};

const LAYOUTS: [RecordLayout; 5] = [
    RecordLayout::Compact8,
    RecordLayout::Ma300,
    RecordLayout::Extended16,
    RecordLayout::Full40,
    RecordLayout::SpeedFace49,
];

/// Splits `[selector, count u16 LE, rest...]`.
fn header(data: &[u8]) -> Option<(u8, usize, &[u8])> {
    match data {
        [sel, lo, hi, rest @ ..] => Some((*sel, usize::from(u16::from_le_bytes([*lo, *hi])), rest)),
        _ => None,
    }
}

/// Decodes a TCP byte stream frame by frame; decoded packets must re-encode identically.
pub fn tcp_frame(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((packet, used))) = codec::decode_tcp_frame(rest) {
        assert!(used >= codec::TCP_PREFIX_LEN + codec::HEADER_LEN && used <= rest.len());
        let again = packet.encode_tcp();
        assert_eq!(again.len(), used);
        assert_eq!(
            codec::parse_tcp_frame(&again).map(|(p, r)| (p, r.len())),
            Ok((packet, 0))
        );
        rest = &rest[used..];
    }
    let _ = codec::parse_tcp_frame(data);
    let _ = codec::parse_tcp_prefix(data);
}

/// Decodes one UDP datagram; a decoded packet must survive encode → parse.
pub fn udp_packet(data: &[u8]) {
    if let Ok(p) = codec::parse_packet(data) {
        assert_eq!(p.payload.len() + codec::HEADER_LEN, data.len());
        let again: Packet = match codec::parse_packet(&p.encode()) {
            Ok(a) => a,
            Err(e) => panic!("re-encoded packet does not parse: {e}"),
        };
        assert_eq!(again, p);
    }
}

/// `[selector, record count u16, dataset...]`: decodes attendance the way the client does.
pub fn attendance(data: &[u8]) {
    let Some((sel, count, dataset)) = header(data) else {
        return;
    };
    if let Ok(body) = records::dataset_body(dataset) {
        if let Ok(layout) = RecordLayout::infer(body.len(), count, sel & 1 == 1) {
            if let Ok(set) = records::parse_attendance(body, layout) {
                // The counted records, or a few more logged after the count was read.
                let n = set.records.len() + set.rejected.len();
                assert!(
                    (count..=count + records::LATE_PUNCHES).contains(&n),
                    "{n} records for a count of {count}"
                );
                // Valid records re-encode to something that decodes to themselves.
                if let Ok(bytes) = records::encode_attendance(&set.records, layout) {
                    let back = records::parse_attendance(&bytes, layout);
                    assert_eq!(back.map(|s| s.records), Ok(set.records));
                }
            }
        }
    }
    let layout = LAYOUTS[usize::from(sel) % LAYOUTS.len()];
    let _ = records::parse_attendance(dataset, layout);
}

/// `[selector, user count u16, dataset...]`: decodes users the way the client does.
pub fn users(data: &[u8]) {
    let Some((sel, count, dataset)) = header(data) else {
        return;
    };
    if let Ok(body) = records::dataset_body(dataset) {
        if let Ok(layout) = UserLayout::infer(body.len(), count) {
            if let Ok(users) = records::parse_users(body, layout) {
                assert_eq!(users.len(), count);
                for u in &users {
                    // Re-encoding what was decoded keeps the raw name bytes.
                    if let Ok(bytes) = records::encode_user(u, layout) {
                        let back = records::parse_user(&bytes, layout);
                        assert_eq!(back.as_ref().map(|b| &b.name_raw), Ok(&u.name_raw));
                    }
                }
            }
        }
    }
    let layout = if sel & 1 == 0 {
        UserLayout::Zk6
    } else {
        UserLayout::Zk8
    };
    let _ = records::parse_users(dataset, layout);
}

/// Decodes a live-event payload and a free-sizes reply from the same bytes.
pub fn live_event(data: &[u8]) {
    if let Ok(ev) = records::parse_live_event(data) {
        assert!(ev.time.year() >= 2000);
    }
    if let Ok(c) = DeviceCounts::parse(data) {
        assert_eq!(DeviceCounts::parse(&c.encode()), Ok(c));
    }
}

/// A push (ADMS) request body: parsed as ATTLOG in both column orders, as OPERLOG, as command
/// results and as queued commands. Every line good in one parse must format back to a line that
/// parses to the same value.
pub fn push_body(data: &[u8]) {
    use super::push::{self, ColumnOrder};
    for order in [ColumnOrder::Push, ColumnOrder::UsbDat] {
        for p in push::parse_attlog(data, order) {
            assert!(p.line_no >= 1);
            if let Ok(line) = p.result {
                let again = match order {
                    ColumnOrder::Push => push::format_attlog_line(&line),
                    ColumnOrder::UsbDat => push::format_usb_line(&line),
                };
                assert_eq!(push::parse_attlog_line(again.as_bytes(), order), Ok(line));
            }
        }
    }
    for p in push::parse_operlog(data) {
        if let Ok(push::OperLine::Fp(t)) = p.result {
            let again = push::format_fp_line(&t);
            assert_eq!(
                push::parse_oper_line(again.as_bytes()),
                Ok(push::OperLine::Fp(t))
            );
        }
    }
    let _ = push::parse_results(data);
    for (id, cmd) in push::parse_requests(data) {
        let again = push::format_request(id, &cmd);
        let back = push::parse_requests(again.as_bytes());
        assert_eq!(back.len(), 1);
    }
    let _ = push::parse_options(data);
}

/// `[selector, bytes...]`: the bytes as a template dataset (size prefix + body, as the client
/// reads it) and as a bare body; then as a template upload (CMD_SAVE_USERTEMPS buffer, as the
/// simulator reads it) with 28- or 72-byte users by the selector's low bit. A cleanly decoded
/// body must re-encode to the same bytes.
pub fn templates(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    for body in [records::dataset_body(rest).ok(), Some(rest)]
        .into_iter()
        .flatten()
    {
        if let Ok(set) = records::parse_templates(body) {
            assert!(set.templates.len() + set.rejected.len() <= MAX_TEMPLATES);
            let again = records::encode_templates(&set.templates);
            if set.rejected.is_empty() {
                assert_eq!(again.as_deref(), Ok(body));
            } else if let Ok(bytes) = again {
                let back = records::parse_templates(&bytes).map(|s| s.templates);
                assert_eq!(back, Ok(set.templates));
            }
        }
    }
    let layout = if sel & 1 == 0 {
        UserLayout::Zk6
    } else {
        UserLayout::Zk8
    };
    if let Ok(up) = records::parse_template_upload(rest, layout) {
        for t in &up.templates {
            assert!(t.fid <= 9);
            assert!((1..=MAX_TEMPLATE_LEN).contains(&t.template.len()));
        }
        // A single user's upload re-encodes to something that decodes to the same.
        if let [user] = up.users.as_slice() {
            if up.templates.iter().all(|t| t.uid == user.uid) {
                let entries = [(user.clone(), up.templates.clone())];
                if let Ok(bytes) = records::encode_template_upload(&entries, layout) {
                    let back = records::parse_template_upload(&bytes, layout).map(|u| u.templates);
                    assert_eq!(back, Ok(up.templates.clone()));
                }
            }
        }
    }
}
