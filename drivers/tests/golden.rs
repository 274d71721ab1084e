//! Golden byte vectors for every packet kind the client and simulator exchange.
//!
//! Checksums were computed by an independent implementation of RFC 1071; the
//! sheet's verified vectors (CONNECT 0xFC17, 0x6A29, 0x175A, comm keys) are included.

use hadir_drivers::zk::codec::{self, cmd, parse_packet, parse_tcp_frame, Packet};
use hadir_drivers::zk::records::{self, LiveEventFormat};
use hadir_drivers::zk::{make_commkey, ZkDateTime};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const S: u16 = 0x45CF;

fn check(packet: Packet, golden: &str) {
    let bytes = hex(golden);
    assert_eq!(
        packet.encode(),
        bytes,
        "encode {}",
        cmd::name(packet.command)
    );
    assert_eq!(parse_packet(&bytes).unwrap(), packet);
}

#[test]
fn connect_request_matches_the_sheet_checksum() {
    check(Packet::new(cmd::CONNECT, 0, 0, vec![]), "e80317fc00000000");
}

#[test]
fn connect_over_tcp_is_prefixed_with_magic_and_length() {
    let p = Packet::new(cmd::CONNECT, 0, 0, vec![]);
    let golden = hex("5050827d08000000e80317fc00000000");
    assert_eq!(p.encode_tcp(), golden);
    let (parsed, rest) = parse_tcp_frame(&golden).unwrap();
    assert_eq!((parsed, rest.len()), (p, 0));
}

#[test]
fn the_sheets_header_plus_payload_vectors_check_out() {
    check(
        Packet::new(cmd::ACK_OK, 0x8DF3, 10, vec![0x09]),
        "d007296af38d0a0009",
    );
    check(
        Packet::new(cmd::OPTIONS_RRQ, 0x8DF3, 3, b"ZKFaceVersion\0".to_vec()),
        "0b005a17f38d03005a4b4661636556657273696f6e00",
    );
}

#[test]
fn connect_reply_asking_for_the_comm_key_carries_the_session() {
    check(
        Packet::new(cmd::ACK_UNAUTH, S, 0, vec![]),
        "d5075bb2cf450000",
    );
}

#[test]
fn auth_carries_the_scrambled_comm_key() {
    let key = make_commkey(12, S);
    assert_eq!(key, [0x61, 0x4D, 0x32, 0x3C]);
    assert_eq!(make_commkey(45, S), [0x61, 0xC9, 0x32, 0x3C]);
    check(
        Packet::new(cmd::AUTH, S, 1, key.to_vec()),
        "4e044e2ccf450100614d323c",
    );
}

#[test]
fn option_read_requests_name_the_option_with_a_nul() {
    check(
        Packet::new(cmd::OPTIONS_RRQ, S, 2, b"~SerialNumber\0".to_vec()),
        "0b002071cf4502007e53657269616c4e756d62657200",
    );
}

#[test]
fn prepare_buffer_requests_for_attendance_and_users() {
    check(
        Packet::new(cmd::PREPARE_BUFFER, S, 3, hex("010d000000000000000000")),
        "df054da7cf450300010d000000000000000000",
    );
    check(
        Packet::new(cmd::PREPARE_BUFFER, S, 4, hex("0109000500000000000000")),
        "df054ca6cf4504000109000500000000000000",
    );
}

#[test]
fn buffer_ready_reply_carries_the_size_twice() {
    check(
        Packet::new(cmd::ACK_OK, S, 3, hex("00a40f0000a40f000000000000")),
        "d0073e6acf45030000a40f0000a40f000000000000",
    );
}

#[test]
fn read_buffer_prepare_data_and_odd_length_data() {
    check(
        Packet::new(cmd::READ_BUFFER, S, 5, hex("00000000c0ff0000")),
        "e0058ab4cf45050000000000c0ff0000",
    );
    check(
        Packet::new(cmd::PREPARE_DATA, S, 5, hex("a40f0000f0030000")),
        "dc05bba0cf450500a40f0000f0030000",
    );
    check(
        Packet::new(cmd::DATA, S, 5, vec![1, 2, 3, 4, 5]),
        "dd0545aecf4505000102030405",
    );
}

#[test]
fn set_time_carries_the_packed_time() {
    let t = ZkDateTime::new(2024, 2, 29, 13, 45, 30).unwrap();
    assert_eq!(t.to_zk(), 0x2e48_d9fa);
    check(
        Packet::new(cmd::SET_TIME, S, 6, t.to_zk().to_le_bytes().to_vec()),
        "ca001db1cf450600fad9482e",
    );
}

#[test]
fn live_events_and_their_acks() {
    let golden =
        "f401386f010000003130303100000000000000000000000000000000000000000f0018021d0d2d1e00000000";
    let ev = records::LiveEvent {
        user_id: "1001".into(),
        status: 15,
        punch: 0,
        time: ZkDateTime::new(2024, 2, 29, 13, 45, 30).unwrap(),
    };
    let payload = records::encode_live_event(&ev, LiveEventFormat::Long36).unwrap();
    check(Packet::new(cmd::REG_EVENT, 1, 0, payload.clone()), golden);
    assert_eq!(records::parse_live_event(&payload).unwrap(), ev);
    check(Packet::new(cmd::ACK_OK, S, 0, vec![]), "d00760b2cf450000");
}

#[test]
fn exit_closes_the_session() {
    check(Packet::new(cmd::EXIT, S, 7, vec![]), "e90340b6cf450700");
}

#[test]
fn a_flipped_bit_is_a_checksum_error() {
    let mut bytes = hex("e90340b6cf450700");
    bytes[6] ^= 1;
    assert!(matches!(
        parse_packet(&bytes),
        Err(codec::CodecError::Checksum { .. })
    ));
}

#[test]
fn a_checksum_of_0xffff_is_accepted_for_a_computed_zero() {
    // One's complement has two zeros; pyzk's arithmetic can produce either.
    let mut p = Packet::new(cmd::ACK_OK, 0, 0, vec![]);
    // Choose a session that makes the computed checksum zero.
    p.session = 0xFFFF - cmd::ACK_OK;
    assert_eq!(p.checksum(), 0);
    let mut bytes = p.encode();
    bytes[2] = 0xFF;
    bytes[3] = 0xFF;
    assert_eq!(parse_packet(&bytes).unwrap(), p);
}

#[test]
fn golden_attendance_records_in_each_layout() {
    let t = ZkDateTime::new(2024, 2, 29, 13, 45, 30).unwrap();
    let r = records::AttendanceRecord {
        uid: 7,
        user_id: "1007".into(),
        time: t,
        status: 15,
        punch: 1,
        workcode: 3,
    };
    use records::RecordLayout::*;
    let cases = [
        (Compact8, "07000ffad9482e01"),
        (Ma300, "07000f01fad9482e"),
        (Extended16, "ef030000fad9482e0f01000003000000"),
        (
            Full40,
            "0700313030370000000000000000000000000000000000000000\
             0ffad9482e010000000000000000",
        ),
    ];
    for (layout, golden) in cases {
        let golden = hex(golden);
        let bytes = records::encode_attendance(std::slice::from_ref(&r), layout).unwrap();
        assert_eq!(bytes, golden, "{layout:?}");
    }
}
