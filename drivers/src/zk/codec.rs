//! Wire codec of the ZKTeco binary protocol: TCP framing, the 8-byte header,
//! the RFC 1071 checksum, command codes and the comm-key scramble.
//!
//! UDP carries one packet (header + payload) per datagram; TCP prefixes each
//! packet with `50 50 82 7D` and a u32 LE length.

use nom::number::complete::{le_u16, le_u32};
use nom::{IResult, Parser};

pub use super::time::{TimeError, ZkDateTime};

/// Length of the packet header (command, checksum, session, reply; u16 LE each).
pub const HEADER_LEN: usize = 8;
/// Length of the TCP prefix (magic + u32 length).
pub const TCP_PREFIX_LEN: usize = 8;
/// Magic bytes opening every TCP frame.
pub const TCP_MAGIC: [u8; 4] = [0x50, 0x50, 0x82, 0x7D];
/// Largest header + payload accepted in one TCP frame (a READ_BUFFER chunk is < 64 KiB).
pub const MAX_FRAME_LEN: usize = 1 << 20;

/// Command and reply codes (fact sheet §1).
pub mod cmd {
    /// Open a session.
    pub const CONNECT: u16 = 1000;
    /// Close the session.
    pub const EXIT: u16 = 1001;
    /// Unlock the keypad/sensor again.
    pub const ENABLEDEVICE: u16 = 1002;
    /// Lock the keypad/sensor during bulk work.
    pub const DISABLEDEVICE: u16 = 1003;
    /// Reboot.
    pub const RESTART: u16 = 1004;
    /// Power off.
    pub const POWEROFF: u16 = 1005;
    /// Reload data after writes.
    pub const REFRESHDATA: u16 = 1013;
    /// Play a voice prompt.
    pub const TESTVOICE: u16 = 1017;
    /// Firmware version string.
    pub const GET_VERSION: u16 = 1100;
    /// Comm-key authentication.
    pub const AUTH: u16 = 1102;
    /// Announces the size of data that follows.
    pub const PREPARE_DATA: u16 = 1500;
    /// Carries data.
    pub const DATA: u16 = 1501;
    /// Release the device's prepared buffer.
    pub const FREE_DATA: u16 = 1502;
    /// Prepare a dataset for chunked reading.
    pub const PREPARE_BUFFER: u16 = 1503;
    /// Read one chunk of a prepared dataset.
    pub const READ_BUFFER: u16 = 1504;
    /// Generic database read.
    pub const DB_RRQ: u16 = 7;
    /// Write one user record.
    pub const USER_WRQ: u16 = 8;
    /// Read users/templates.
    pub const USERTEMP_RRQ: u16 = 9;
    /// Read an option (`~SerialNumber`, ...).
    pub const OPTIONS_RRQ: u16 = 11;
    /// Write an option.
    pub const OPTIONS_WRQ: u16 = 12;
    /// Read the attendance log.
    pub const ATTLOG_RRQ: u16 = 13;
    /// Clear data of a kind.
    pub const CLEAR_DATA: u16 = 14;
    /// Clear the attendance log.
    pub const CLEAR_ATTLOG: u16 = 15;
    /// Delete a user.
    pub const DELETE_USER: u16 = 18;
    /// Delete a user's template (payload: uid u16, finger index u8).
    pub const DELETE_USERTEMP: u16 = 19;
    /// Open the door.
    pub const UNLOCK: u16 = 31;
    /// Read the operation log.
    pub const OPLOG_RRQ: u16 = 34;
    /// Counts and capacities.
    pub const GET_FREE_SIZES: u16 = 50;
    /// Save users and templates from the uploaded buffer (undocumented; pyzk
    /// `HR_save_usertemplates`).
    pub const SAVE_USERTEMPS: u16 = 110;
    /// Enter verification mode.
    pub const STARTVERIFY: u16 = 60;
    /// Start enrolment.
    pub const STARTENROLL: u16 = 61;
    /// Cancel capture.
    pub const CANCELCAPTURE: u16 = 62;
    /// Device state.
    pub const STATE_RRQ: u16 = 64;
    /// Write to the LCD.
    pub const WRITE_LCD: u16 = 66;
    /// Read the clock.
    pub const GET_TIME: u16 = 201;
    /// Set the clock.
    pub const SET_TIME: u16 = 202;
    /// Register for live events; also the command code of event packets.
    pub const REG_EVENT: u16 = 500;
    /// Success.
    pub const ACK_OK: u16 = 2000;
    /// Failure.
    pub const ACK_ERROR: u16 = 2001;
    /// Success with data.
    pub const ACK_DATA: u16 = 2002;
    /// A comm key is required (or was wrong).
    pub const ACK_UNAUTH: u16 = 2005;
    /// Unknown command.
    pub const ACK_UNKNOWN: u16 = 0xFFFF;

    /// The conventional `CMD_*` name of a code, for messages and logs.
    pub fn name(code: u16) -> &'static str {
        match code {
            CONNECT => "CMD_CONNECT",
            EXIT => "CMD_EXIT",
            ENABLEDEVICE => "CMD_ENABLEDEVICE",
            DISABLEDEVICE => "CMD_DISABLEDEVICE",
            RESTART => "CMD_RESTART",
            POWEROFF => "CMD_POWEROFF",
            REFRESHDATA => "CMD_REFRESHDATA",
            TESTVOICE => "CMD_TESTVOICE",
            GET_VERSION => "CMD_GET_VERSION",
            AUTH => "CMD_AUTH",
            PREPARE_DATA => "CMD_PREPARE_DATA",
            DATA => "CMD_DATA",
            FREE_DATA => "CMD_FREE_DATA",
            PREPARE_BUFFER => "CMD_PREPARE_BUFFER",
            READ_BUFFER => "CMD_READ_BUFFER",
            DB_RRQ => "CMD_DB_RRQ",
            USER_WRQ => "CMD_USER_WRQ",
            USERTEMP_RRQ => "CMD_USERTEMP_RRQ",
            OPTIONS_RRQ => "CMD_OPTIONS_RRQ",
            OPTIONS_WRQ => "CMD_OPTIONS_WRQ",
            ATTLOG_RRQ => "CMD_ATTLOG_RRQ",
            CLEAR_DATA => "CMD_CLEAR_DATA",
            CLEAR_ATTLOG => "CMD_CLEAR_ATTLOG",
            DELETE_USER => "CMD_DELETE_USER",
            DELETE_USERTEMP => "CMD_DELETE_USERTEMP",
            UNLOCK => "CMD_UNLOCK",
            OPLOG_RRQ => "CMD_OPLOG_RRQ",
            GET_FREE_SIZES => "CMD_GET_FREE_SIZES",
            SAVE_USERTEMPS => "CMD_SAVE_USERTEMPS",
            STARTVERIFY => "CMD_STARTVERIFY",
            STARTENROLL => "CMD_STARTENROLL",
            CANCELCAPTURE => "CMD_CANCELCAPTURE",
            STATE_RRQ => "CMD_STATE_RRQ",
            WRITE_LCD => "CMD_WRITE_LCD",
            GET_TIME => "CMD_GET_TIME",
            SET_TIME => "CMD_SET_TIME",
            REG_EVENT => "CMD_REG_EVENT",
            ACK_OK => "CMD_ACK_OK",
            ACK_ERROR => "CMD_ACK_ERROR",
            ACK_DATA => "CMD_ACK_DATA",
            ACK_UNAUTH => "CMD_ACK_UNAUTH",
            ACK_UNKNOWN => "CMD_ACK_UNKNOWN",
            _ => "CMD_<unknown>",
        }
    }
}

/// Dataset selectors (`fct`) of PREPARE_BUFFER reads.
pub mod fct {
    /// Attendance log.
    pub const ATTLOG: i32 = 1;
    /// Fingerprint templates (read with DB_RRQ).
    pub const FINGERTMP: i32 = 2;
    /// Operation log.
    pub const OPLOG: i32 = 4;
    /// Users (read with USERTEMP_RRQ).
    pub const USER: i32 = 5;
}

/// Why bytes could not be decoded as a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Fewer bytes than a header or the declared frame: the packet was truncated; discard it.
    #[error("packet truncated: {got} bytes, need {needed}")]
    TooShort {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A TCP frame did not start with `50 50 82 7D`: the stream is out of sync or the peer is not a ZK reader; reconnect.
    #[error("bad TCP frame magic {found:02x?} (expected 50 50 82 7d): not a ZK reader or stream out of sync")]
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// A TCP frame declared a length outside 8..=1 MiB: treat the stream as corrupt and reconnect.
    #[error("TCP frame declares {len} bytes, outside {min}..={max}")]
    BadLength {
        /// Declared length.
        len: u32,
        /// Smallest valid length (a bare header).
        min: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// The checksum did not match the contents: the packet was corrupted in transit; discard it.
    #[error("checksum mismatch: packet carries {found:#06x}, contents give {expected:#06x}")]
    Checksum {
        /// Checksum computed from the contents.
        expected: u16,
        /// Checksum carried in the header.
        found: u16,
    },
}

/// One protocol packet: header fields plus payload (the checksum is derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Command (request) or reply code.
    pub command: u16,
    /// Session id from the CONNECT reply (0 before; event code in live events).
    pub session: u16,
    /// Reply id: chosen by the client, echoed by the device.
    pub reply: u16,
    /// Command-specific payload.
    pub payload: Vec<u8>,
}

/// Sums LE u16 words (odd last byte added alone) without folding.
fn word_sum(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    let mut sum: u64 = chunks
        .by_ref()
        .map(|c| u64::from(u16::from_le_bytes([c[0], c[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u64::from(*last);
    }
    sum
}

/// Folds carries and takes the one's complement.
fn finish(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// RFC 1071 Internet checksum over `data` (the checksum field must already be zero).
pub fn checksum(data: &[u8]) -> u16 {
    finish(word_sum(data))
}

/// Checksum of a packet with the given header fields and payload.
pub fn packet_checksum(command: u16, session: u16, reply: u16, payload: &[u8]) -> u16 {
    finish(u64::from(command) + u64::from(session) + u64::from(reply) + word_sum(payload))
}

/// One's-complement equality: 0x0000 and 0xFFFF both mean zero.
fn checksum_equivalent(a: u16, b: u16) -> bool {
    a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0)
}

impl Packet {
    /// A packet with the given fields.
    pub fn new(command: u16, session: u16, reply: u16, payload: Vec<u8>) -> Self {
        Self {
            command,
            session,
            reply,
            payload,
        }
    }

    /// The header checksum this packet carries on the wire.
    pub fn checksum(&self) -> u16 {
        packet_checksum(self.command, self.session, self.reply, &self.payload)
    }

    /// Header + payload, as sent in one UDP datagram.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        self.encode_into(&mut out);
        out
    }

    /// Appends header + payload to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.command.to_le_bytes());
        out.extend_from_slice(&self.checksum().to_le_bytes());
        out.extend_from_slice(&self.session.to_le_bytes());
        out.extend_from_slice(&self.reply.to_le_bytes());
        out.extend_from_slice(&self.payload);
    }

    /// TCP prefix + header + payload, as sent on a TCP stream.
    pub fn encode_tcp(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TCP_PREFIX_LEN + HEADER_LEN + self.payload.len());
        self.encode_tcp_into(&mut out);
        out
    }

    /// Appends TCP prefix + header + payload to `out`.
    pub fn encode_tcp_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TCP_MAGIC);
        let len = (HEADER_LEN + self.payload.len()) as u32;
        out.extend_from_slice(&len.to_le_bytes());
        self.encode_into(out);
    }
}

/// Parsed header fields (command, checksum, session, reply).
type Header = (u16, u16, u16, u16);

fn header(input: &[u8]) -> IResult<&[u8], Header> {
    (le_u16, le_u16, le_u16, le_u16).parse(input)
}

fn tcp_prefix(input: &[u8]) -> IResult<&[u8], (&[u8], u32)> {
    (nom::bytes::complete::take(4usize), le_u32).parse(input)
}

/// Parses one packet (header + payload, e.g. a UDP datagram) and verifies its checksum.
pub fn parse_packet(bytes: &[u8]) -> Result<Packet, CodecError> {
    let Ok((payload, (command, found, session, reply))) = header(bytes) else {
        return Err(CodecError::TooShort {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    };
    let expected = packet_checksum(command, session, reply, payload);
    if !checksum_equivalent(expected, found) {
        return Err(CodecError::Checksum { expected, found });
    }
    Ok(Packet::new(command, session, reply, payload.to_vec()))
}

/// Validates an 8-byte TCP prefix and returns the length of the packet that follows.
pub fn parse_tcp_prefix(prefix: &[u8]) -> Result<usize, CodecError> {
    let Ok((_, (magic, len))) = tcp_prefix(prefix) else {
        return Err(CodecError::TooShort {
            needed: TCP_PREFIX_LEN,
            got: prefix.len(),
        });
    };
    if magic != TCP_MAGIC {
        let mut found = [0u8; 4];
        found.copy_from_slice(magic);
        return Err(CodecError::BadMagic { found });
    }
    let n = len as usize;
    if !(HEADER_LEN..=MAX_FRAME_LEN).contains(&n) {
        return Err(CodecError::BadLength {
            len,
            min: HEADER_LEN,
            max: MAX_FRAME_LEN,
        });
    }
    Ok(n)
}

/// Decodes one TCP frame from the front of a stream buffer.
///
/// Returns `Ok(None)` when more bytes are needed, or the packet and the number
/// of bytes it used.
pub fn decode_tcp_frame(buf: &[u8]) -> Result<Option<(Packet, usize)>, CodecError> {
    if buf.len() < TCP_PREFIX_LEN {
        // Reject wrong magic early, even on a partial prefix.
        let n = buf.len().min(4);
        if buf[..n] != TCP_MAGIC[..n] {
            let mut found = [0u8; 4];
            found[..n].copy_from_slice(&buf[..n]);
            return Err(CodecError::BadMagic { found });
        }
        return Ok(None);
    }
    let len = parse_tcp_prefix(&buf[..TCP_PREFIX_LEN])?;
    let end = TCP_PREFIX_LEN + len;
    if buf.len() < end {
        return Ok(None);
    }
    let packet = parse_packet(&buf[TCP_PREFIX_LEN..end])?;
    Ok(Some((packet, end)))
}

/// Parses a complete TCP frame; trailing bytes are returned untouched.
pub fn parse_tcp_frame(buf: &[u8]) -> Result<(Packet, &[u8]), CodecError> {
    match decode_tcp_frame(buf)? {
        Some((packet, used)) => Ok((packet, &buf[used..])),
        None => {
            let needed = if buf.len() < TCP_PREFIX_LEN {
                TCP_PREFIX_LEN
            } else {
                TCP_PREFIX_LEN + parse_tcp_prefix(&buf[..TCP_PREFIX_LEN])?
            };
            Err(CodecError::TooShort {
                needed,
                got: buf.len(),
            })
        }
    }
}

/// The AUTH payload for a numeric comm key and session id (ticks byte 50).
pub fn make_commkey(key: u32, session: u16) -> [u8; 4] {
    make_commkey_with_ticks(key, session, 50)
}

/// The AUTH payload with an explicit ticks byte (the device reads it back from byte 2).
pub fn make_commkey_with_ticks(key: u32, session: u16, ticks: u8) -> [u8; 4] {
    let k = key.reverse_bits().wrapping_add(u32::from(session));
    let b = k.to_le_bytes();
    let x = [b[0] ^ b'Z', b[1] ^ b'K', b[2] ^ b'S', b[3] ^ b'O'];
    // Swap the two 16-bit halves.
    let s = [x[2], x[3], x[0], x[1]];
    [s[0] ^ ticks, s[1] ^ ticks, ticks, s[3] ^ ticks]
}

/// Whether an AUTH payload proves knowledge of `key` for `session`.
pub fn commkey_matches(payload: &[u8], key: u32, session: u16) -> bool {
    match payload {
        [_, _, ticks, _] => payload == make_commkey_with_ticks(key, session, *ticks),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn checksum_matches_the_verified_vectors() {
        assert_eq!(checksum(&hex("e803000000000000")), 0xFC17);
        assert_eq!(checksum(&hex("d0070000f38d0a0009")), 0x6A29);
        assert_eq!(
            checksum(&hex("0b00f38d03005a4b4661636556657273696f6e00")),
            0x175A
        );
    }

    #[test]
    fn commkey_matches_the_verified_vectors() {
        assert_eq!(make_commkey(12, 0x45CF), [0x61, 0x4D, 0x32, 0x3C]);
        assert_eq!(make_commkey(45, 0x45CF), [0x61, 0xC9, 0x32, 0x3C]);
        assert!(commkey_matches(&[0x61, 0x4D, 0x32, 0x3C], 12, 0x45CF));
        assert!(!commkey_matches(&[0x61, 0x4D, 0x32, 0x3C], 13, 0x45CF));
    }

    #[test]
    fn a_partial_tcp_prefix_with_wrong_magic_is_rejected_early() {
        assert!(matches!(
            decode_tcp_frame(&[0x50, 0x51]),
            Err(CodecError::BadMagic { .. })
        ));
        assert_eq!(decode_tcp_frame(&[0x50, 0x50, 0x82]), Ok(None));
    }
}
