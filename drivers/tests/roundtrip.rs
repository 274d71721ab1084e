//! Property tests: encode → parse is the identity, and no input makes a parser panic.

use hadir_drivers::zk::codec::{self, Packet};
use hadir_drivers::zk::records::{
    self, AttendanceRecord, DeviceCounts, FingerTemplate, LiveEvent, LiveEventFormat, RecordLayout,
    User, UserLayout, MAX_TEMPLATE_LEN,
};
use hadir_drivers::zk::{fuzzing, ZkDateTime};
use proptest::prelude::*;

fn datetime() -> impl Strategy<Value = ZkDateTime> {
    (
        2000u16..=2132,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| ZkDateTime::new(y, mo, d, h, mi, s).unwrap())
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        prop::collection::vec(any::<u8>(), 0..2048),
    )
        .prop_map(|(c, s, r, p)| Packet::new(c, s, r, p))
}

fn ascii(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9 ]{{0,{max}}}")).unwrap()
}

fn record(layout: RecordLayout) -> impl Strategy<Value = AttendanceRecord> {
    (
        any::<u16>(),
        any::<u32>(),
        datetime(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        ascii(24),
    )
        .prop_map(move |(uid, id, time, status, punch, workcode, sid)| {
            // Keep only what the layout can carry.
            match layout {
                RecordLayout::Compact8 | RecordLayout::Ma300 => AttendanceRecord {
                    uid,
                    user_id: uid.to_string(),
                    time,
                    status,
                    punch,
                    workcode: 0,
                },
                RecordLayout::Extended16 => AttendanceRecord {
                    uid: u16::try_from(id).unwrap_or(0),
                    user_id: id.to_string(),
                    time,
                    status,
                    punch,
                    workcode,
                },
                RecordLayout::Full40 | RecordLayout::SpeedFace49 => AttendanceRecord {
                    uid,
                    user_id: sid.trim_end_matches('\0').to_string(),
                    time,
                    status,
                    punch,
                    workcode: 0,
                },
            }
        })
}

fn user(layout: UserLayout) -> impl Strategy<Value = User> {
    let (pw, name) = match layout {
        UserLayout::Zk6 => (5, 8),
        UserLayout::Zk8 => (8, 24),
    };
    (
        any::<u16>(),
        any::<u8>(),
        ascii(pw),
        prop::collection::vec(1u8..=255, 0..=name),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
        ascii(7),
        ascii(24),
    )
        .prop_map(
            move |(uid, privilege, password, raw, card, g, id, gs, ids)| {
                let (group, user_id) = match layout {
                    UserLayout::Zk6 => (g.to_string(), id.to_string()),
                    UserLayout::Zk8 => (gs, ids),
                };
                User {
                    uid,
                    privilege,
                    password,
                    name: String::from_utf8_lossy(&raw).into_owned(),
                    name_raw: raw,
                    card,
                    group,
                    user_id,
                }
            },
        )
}

const LAYOUTS: [RecordLayout; 5] = [
    RecordLayout::Compact8,
    RecordLayout::Ma300,
    RecordLayout::Extended16,
    RecordLayout::Full40,
    RecordLayout::SpeedFace49,
];

fn finger_template() -> impl Strategy<Value = FingerTemplate> {
    (
        any::<u16>(),
        0u8..=9,
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 1..=MAX_TEMPLATE_LEN),
    )
        .prop_map(|(uid, fid, valid, template)| FingerTemplate {
            uid,
            fid,
            valid,
            template,
        })
}

proptest! {
    #[test]
    fn templates_round_trip_through_the_dataset_and_the_upload(
        ts in prop::collection::vec(finger_template(), 0..6),
        user in user(UserLayout::Zk8),
    ) {
        let body = records::encode_templates(&ts).unwrap();
        let data = records::dataset_with_prefix(&body);
        let set = records::parse_templates(records::dataset_body(&data).unwrap()).unwrap();
        prop_assert!(set.rejected.is_empty());
        prop_assert_eq!(&set.templates, &ts);
        let buf = records::encode_template_upload(&[(user.clone(), ts.clone())], UserLayout::Zk8).unwrap();
        let up = records::parse_template_upload(&buf, UserLayout::Zk8).unwrap();
        prop_assert_eq!(up.users, vec![user.clone()]);
        let want: Vec<FingerTemplate> = ts
            .into_iter()
            .map(|t| FingerTemplate { uid: user.uid, valid: 1, ..t })
            .collect();
        prop_assert_eq!(up.templates, want);
    }

    #[test]
    fn no_byte_string_makes_the_template_parsers_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        fuzzing::templates(&bytes);
    }

    #[test]
    fn udp_packets_round_trip(p in packet()) {
        prop_assert_eq!(codec::parse_packet(&p.encode()).unwrap(), p);
    }

    #[test]
    fn tcp_frames_round_trip_and_leave_trailing_bytes(p in packet(), tail in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut bytes = p.encode_tcp();
        let framed = bytes.len();
        bytes.extend_from_slice(&tail);
        let (got, rest) = codec::parse_tcp_frame(&bytes).unwrap();
        prop_assert_eq!(got, p);
        prop_assert_eq!(rest, &tail[..]);
        // Every strict prefix is incomplete, never an error or a panic.
        for cut in [0, 3, 8, framed - 1] {
            prop_assert_eq!(codec::decode_tcp_frame(&bytes[..cut]), Ok(None));
        }
    }

    #[test]
    fn packed_times_round_trip(t in datetime()) {
        prop_assert_eq!(ZkDateTime::from_zk(t.to_zk()).unwrap(), t);
        prop_assert_eq!(ZkDateTime::from_event_bytes(t.to_event_bytes()).unwrap(), t);
        prop_assert_eq!(ZkDateTime::from_civil_seconds(t.to_civil_seconds()).unwrap(), t);
    }

    #[test]
    fn attendance_records_round_trip_in_every_layout(
        (i, recs) in (0usize..LAYOUTS.len())
            .prop_flat_map(|i| (Just(i), prop::collection::vec(record(LAYOUTS[i]), 0..40)))
    ) {
        let layout = LAYOUTS[i];
        let body = records::encode_attendance(&recs, layout).unwrap();
        prop_assert_eq!(body.len(), recs.len() * layout.stride());
        let set = records::parse_attendance(&body, layout).unwrap();
        prop_assert!(set.rejected.is_empty());
        prop_assert_eq!(set.records, recs);
    }

    #[test]
    fn users_round_trip_in_both_layouts(z6 in prop::collection::vec(user(UserLayout::Zk6), 0..20),
                                        z8 in prop::collection::vec(user(UserLayout::Zk8), 0..20)) {
        for (layout, users) in [(UserLayout::Zk6, z6), (UserLayout::Zk8, z8)] {
            let body = records::encode_users(&users, layout).unwrap();
            let data = records::dataset_with_prefix(&body);
            let back = records::parse_users(records::dataset_body(&data).unwrap(), layout).unwrap();
            prop_assert_eq!(back, users);
        }
    }

    #[test]
    fn live_events_round_trip_in_every_format(t in datetime(), id in any::<u16>(), status in any::<u8>(), punch in any::<u8>(), f in 0usize..7) {
        let ev = LiveEvent { user_id: id.to_string(), status, punch, time: t };
        let format = LiveEventFormat::ALL[f];
        let bytes = records::encode_live_event(&ev, format).unwrap();
        prop_assert_eq!(records::parse_live_event(&bytes).unwrap(), ev);
    }

    #[test]
    fn free_sizes_round_trip(v in prop::collection::vec(0u32..i32::MAX as u32, 13), faces in any::<bool>()) {
        let c = DeviceCounts {
            users: v[0], fingers: v[1], records: v[2], oplogs: v[3], admins: v[4],
            finger_capacity: v[5], user_capacity: v[6], record_capacity: v[7],
            fingers_available: v[8], users_available: v[9], records_available: v[10],
            faces: faces.then_some(v[11]), face_capacity: faces.then_some(v[12]),
        };
        prop_assert_eq!(DeviceCounts::parse(&c.encode()).unwrap(), c);
    }

    #[test]
    fn no_byte_string_makes_any_parser_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = codec::parse_packet(&bytes);
        let _ = codec::decode_tcp_frame(&bytes);
        let _ = codec::parse_tcp_frame(&bytes);
        let _ = records::parse_live_event(&bytes);
        let _ = DeviceCounts::parse(&bytes);
        if let Ok(body) = records::dataset_body(&bytes) {
            for l in LAYOUTS {
                let _ = records::parse_attendance(body, l);
            }
        }
        for l in LAYOUTS {
            let _ = records::parse_attendance(&bytes, l);
        }
        for l in [UserLayout::Zk6, UserLayout::Zk8] {
            let _ = records::parse_users(&bytes, l);
        }
    }
}
