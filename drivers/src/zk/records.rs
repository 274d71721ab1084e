//! Record layouts: attendance logs, users, fingerprint templates, free sizes and
//! live-event payloads.
//!
//! Every parser works on bounded slices, checks lengths before reading and
//! returns [`RecordError`] instead of panicking on device bytes.

use nom::bytes::complete::take;
use nom::number::complete::{le_i16, le_i32, le_u16, le_u32, u8 as byte};
use nom::{IResult, Parser};

use super::time::{TimeError, ZkDateTime};

/// Largest dataset (users, attendance or templates) accepted from a device: 64 MiB.
pub const MAX_DATASET: usize = 64 << 20;
/// Largest fingerprint template accepted from or written to a reader (bytes). ZKFinger
/// templates are 0.5–2 KiB; the cap keeps every template within what push readers accept.
pub const MAX_TEMPLATE_LEN: usize = 8 * 1024;
/// Most template records decoded from one dataset (readers hold a few thousand).
pub const MAX_TEMPLATES: usize = 100_000;
/// Bytes before the template in a template-dataset record: size u16, uid u16, fid u8, valid u8.
pub const TEMPLATE_HEADER_LEN: usize = 6;
/// Offset added to the finger index in the template table of a template upload.
const UPLOAD_FINGER_BASE: u8 = 0x10;
/// Bytes of one entry of the template table of a template upload.
const UPLOAD_TABLE_ENTRY: usize = 8;
/// Tag byte before each user record and table entry of a template upload.
const UPLOAD_TAG: u8 = 2;

/// Why a record, dataset or event could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The dataset is shorter than its u32 size prefix says: the transfer was cut; pull again.
    #[error("dataset truncated: declares {declared} bytes, {available} present")]
    Truncated {
        /// Size declared by the prefix.
        declared: usize,
        /// Bytes actually present.
        available: usize,
    },
    /// The dataset declares more than the 64 MiB cap: refuse it (corrupt reply or hostile peer).
    #[error("dataset of {size} bytes exceeds the {max}-byte cap")]
    TooLarge {
        /// Declared size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Size / count gives a record size this driver does not know: set the device profile or report the model.
    #[error("unknown record size: {size} bytes for {count} records")]
    UnknownRecordSize {
        /// Dataset body size.
        size: usize,
        /// Record count the device reported.
        count: usize,
    },
    /// The body is not a whole number of records: the transfer or the layout guess is wrong.
    #[error("{len} bytes is not a whole number of {stride}-byte records")]
    Misaligned {
        /// Body length.
        len: usize,
        /// Record stride.
        stride: usize,
    },
    /// A record holds an impossible time: the record is corrupt.
    #[error("record {index}: {source}")]
    BadTime {
        /// Zero-based record index.
        index: usize,
        /// What was wrong with the time.
        source: TimeError,
    },
    /// A field does not fit the layout (e.g. a 30-byte name in a 24-byte slot): shorten it.
    #[error("field {field} is {len} bytes; the layout allows {max}")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Encoded length.
        len: usize,
        /// Slot size.
        max: usize,
    },
    /// The layout stores this field as a number, but the value is not one: use a numeric id.
    #[error("field {field} must be numeric for this layout, got {value:?}")]
    NotNumeric {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// A live event payload of a length no known firmware sends: ignore the event.
    #[error("live event payload of unknown length {0}")]
    UnknownEventLength(usize),
    /// The free-sizes reply is shorter than 80 bytes: the device is not answering as a ZK reader.
    #[error("free-sizes reply has {0} bytes, need 80")]
    FreeSizesTooShort(usize),
    /// A template record declares a size smaller than its own 6-byte header: the dataset is corrupt.
    #[error("template record {index} at byte {offset} declares {size} bytes, less than its 6-byte header")]
    TemplateSizeTooSmall {
        /// Zero-based record index.
        index: usize,
        /// Byte offset of the record in the dataset body.
        offset: usize,
        /// Declared record size.
        size: usize,
    },
    /// A template record runs past the end of the dataset: the transfer was cut or the size is corrupt.
    #[error(
        "template record {index} at byte {offset} declares {declared} bytes, {available} remain"
    )]
    TemplateOverrun {
        /// Zero-based record index.
        index: usize,
        /// Byte offset of the record in the dataset body.
        offset: usize,
        /// Bytes the record declares (or the header needs).
        declared: usize,
        /// Bytes left in the body.
        available: usize,
    },
    /// A template is longer than [`MAX_TEMPLATE_LEN`]: it is set aside (or refused for writing).
    #[error("template {index} has {len} bytes; at most {max} are accepted")]
    TemplateTooLarge {
        /// Zero-based record index.
        index: usize,
        /// Template length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A template has no bytes: it is set aside (or refused for writing).
    #[error("template {index} is empty")]
    TemplateEmpty {
        /// Zero-based record index.
        index: usize,
    },
    /// The dataset holds more template records than [`MAX_TEMPLATES`]: refuse it.
    #[error("template dataset holds more than {max} records")]
    TooManyTemplates {
        /// The cap.
        max: usize,
    },
    /// A finger index outside 0–9 cannot be written.
    #[error("finger index {0} is outside 0..=9")]
    BadFinger(u8),
    /// A template upload buffer (CMD_SAVE_USERTEMPS) is malformed.
    #[error("template upload malformed: {0}")]
    BadUpload(&'static str),
}

/// Wire layout of one attendance record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordLayout {
    /// 8 bytes: uid @0, status @2, time @3, punch @7.
    Compact8,
    /// 8 bytes, MA300/ZEM500 order: uid @0, status @2, punch @3, time @4.
    Ma300,
    /// 16 bytes: numeric user id @0, time @4, status @8, punch @9, workcode @12.
    Extended16,
    /// 40 bytes: uid @0, user id string @2, status @26, time @27, punch @31.
    Full40,
    /// SpeedFace: the 40-byte fields with a 49-byte stride.
    SpeedFace49,
}

impl RecordLayout {
    /// Bytes per record on the wire.
    pub const fn stride(self) -> usize {
        match self {
            Self::Compact8 | Self::Ma300 => 8,
            Self::Extended16 => 16,
            Self::Full40 => 40,
            Self::SpeedFace49 => 49,
        }
    }

    /// The layout for a record size; `ma300` picks the MA300 order for 8-byte records.
    pub fn from_record_size(size: usize, ma300: bool) -> Option<Self> {
        match size {
            8 if ma300 => Some(Self::Ma300),
            8 => Some(Self::Compact8),
            16 => Some(Self::Extended16),
            40 => Some(Self::Full40),
            49 => Some(Self::SpeedFace49),
            _ => None,
        }
    }

    /// The layout from dataset size and record count, as pyzk infers it. A reader that logged a
    /// few punches between reporting its count and sending the log (firmware that keeps logging
    /// while disabled) sends up to [`LATE_PUNCHES`] more records than counted; the one known
    /// record size that explains the body with that many extra records is taken then.
    pub fn infer(body_len: usize, count: usize, ma300: bool) -> Result<Self, RecordError> {
        let unknown = RecordError::UnknownRecordSize {
            size: body_len,
            count,
        };
        if count == 0 {
            return Err(unknown);
        }
        if body_len % count == 0 {
            if let Some(layout) = Self::from_record_size(body_len / count, ma300) {
                return Ok(layout);
            }
        }
        let mut fits = [8usize, 16, 40, 49].into_iter().filter(|&stride| {
            body_len % stride == 0 && (count..=count + LATE_PUNCHES).contains(&(body_len / stride))
        });
        match (fits.next(), fits.next()) {
            (Some(stride), None) => Self::from_record_size(stride, ma300).ok_or(unknown),
            _ => Err(unknown),
        }
    }
}

/// Punches a reader may log between reporting its record count and sending its log.
pub const LATE_PUNCHES: usize = 64;

/// Wire layout of one user record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserLayout {
    /// 28 bytes (ZK6 firmware): numeric user id, 8-byte name.
    Zk6,
    /// 72 bytes (ZK8 firmware): string user id, 24-byte name.
    Zk8,
}

impl UserLayout {
    /// Bytes per user record.
    pub const fn stride(self) -> usize {
        match self {
            Self::Zk6 => 28,
            Self::Zk8 => 72,
        }
    }

    /// The layout for a record size.
    pub fn from_record_size(size: usize) -> Option<Self> {
        match size {
            28 => Some(Self::Zk6),
            72 => Some(Self::Zk8),
            _ => None,
        }
    }

    /// The layout from dataset size and user count.
    pub fn infer(body_len: usize, count: usize) -> Result<Self, RecordError> {
        let unknown = RecordError::UnknownRecordSize {
            size: body_len,
            count,
        };
        if count == 0 || body_len % count != 0 {
            return Err(unknown);
        }
        Self::from_record_size(body_len / count).ok_or(unknown)
    }
}

/// One punch from the attendance log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttendanceRecord {
    /// Internal slot number (0 when the layout does not carry it and it was not resolved).
    pub uid: u16,
    /// Enrolment number shown on the reader.
    pub user_id: String,
    /// Reader wall-clock time of the punch.
    pub time: ZkDateTime,
    /// Byte the libraries call "status" (ZP: verify type — password/finger/card/face).
    pub status: u8,
    /// Byte the libraries call "punch" (ZP: verify state — 0 in, 1 out, ...).
    pub punch: u8,
    /// Work code (16-byte layout only; 0 otherwise).
    pub workcode: u32,
}

/// One enrolled user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// Internal slot number.
    pub uid: u16,
    /// Privilege bits: 0 user, 2 enroller, 6 manager, 14 admin; bit 0 = disabled.
    pub privilege: u8,
    /// Keypad password.
    pub password: String,
    /// Display name, decoded lossily from [`User::name_raw`].
    pub name: String,
    /// Name bytes as stored on the device (may be GBK or another non-UTF-8 encoding).
    pub name_raw: Vec<u8>,
    /// Card number.
    pub card: u32,
    /// Group (numeric on 28-byte firmware).
    pub group: String,
    /// Enrolment number (numeric on 28-byte firmware).
    pub user_id: String,
}

impl User {
    /// A plain user: privilege 0, no password, card or group.
    pub fn new(uid: u16, user_id: impl Into<String>, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            uid,
            privilege: 0,
            password: String::new(),
            name_raw: name.as_bytes().to_vec(),
            name,
            card: 0,
            group: String::new(),
            user_id: user_id.into(),
        }
    }

    /// Name bytes to write: the raw bytes if they still match `name`, else `name` as UTF-8.
    pub fn name_bytes(&self) -> &[u8] {
        if String::from_utf8_lossy(&self.name_raw) == self.name {
            &self.name_raw
        } else {
            self.name.as_bytes()
        }
    }
}

/// Counts and capacities reported by GET_FREE_SIZES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceCounts {
    /// Enrolled users.
    pub users: u32,
    /// Stored fingerprints.
    pub fingers: u32,
    /// Attendance records.
    pub records: u32,
    /// Operation-log entries.
    pub oplogs: u32,
    /// Admins (pyzk calls this field "cards").
    pub admins: u32,
    /// Fingerprint capacity.
    pub finger_capacity: u32,
    /// User capacity.
    pub user_capacity: u32,
    /// Record capacity.
    pub record_capacity: u32,
    /// Remaining fingerprint slots.
    pub fingers_available: u32,
    /// Remaining user slots.
    pub users_available: u32,
    /// Remaining record slots.
    pub records_available: u32,
    /// Enrolled faces, when the reply carries the face block.
    pub faces: Option<u32>,
    /// Face capacity, when the reply carries the face block.
    pub face_capacity: Option<u32>,
}

/// A decoded live-event payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    /// Enrolment number.
    pub user_id: String,
    /// Status byte (verify type).
    pub status: u8,
    /// Punch byte (verify state).
    pub punch: u8,
    /// Reader wall-clock time.
    pub time: ZkDateTime,
}

/// Live-event payload shapes (by length) seen in firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveEventFormat {
    /// 10 bytes: u16 user id, status, punch, 6-byte time.
    Short10,
    /// 12 bytes: u32 user id, status, punch, 6-byte time.
    Short12,
    /// 14 bytes: the 10-byte form plus 4 extra.
    Short14,
    /// 32 bytes: 24-byte user id, status, punch, 6-byte time.
    Long32,
    /// 36 bytes: the 32-byte form plus 4 extra.
    Long36,
    /// 37 bytes: the 32-byte form plus 5 extra.
    Long37,
    /// 52 bytes: the 32-byte form plus 20 extra.
    Long52,
}

impl LiveEventFormat {
    /// Payload length of this format.
    pub const fn payload_len(self) -> usize {
        match self {
            Self::Short10 => 10,
            Self::Short12 => 12,
            Self::Short14 => 14,
            Self::Long32 => 32,
            Self::Long36 => 36,
            Self::Long37 => 37,
            Self::Long52 => 52,
        }
    }

    /// Every known format.
    pub const ALL: [Self; 7] = [
        Self::Short10,
        Self::Short12,
        Self::Short14,
        Self::Long32,
        Self::Long36,
        Self::Long37,
        Self::Long52,
    ];
}

type Res<'a, T> = IResult<&'a [u8], T>;

/// Bytes of a fixed-size string slot up to the first NUL.
fn until_nul(slot: &[u8]) -> &[u8] {
    let end = slot.iter().position(|&b| b == 0).unwrap_or(slot.len());
    &slot[..end]
}

fn lossy(slot: &[u8]) -> String {
    String::from_utf8_lossy(until_nul(slot)).into_owned()
}

fn time6(input: &[u8]) -> Res<'_, [u8; 6]> {
    let (rest, b) = take(6usize).parse(input)?;
    let mut out = [0u8; 6];
    out.copy_from_slice(b);
    Ok((rest, out))
}

/// Splits a dataset (u32 LE total size + body) into its body, checking bounds.
pub fn dataset_body(data: &[u8]) -> Result<&[u8], RecordError> {
    let Ok((rest, total)) = le_u32::<_, nom::error::Error<&[u8]>>(data) else {
        return Err(RecordError::Truncated {
            declared: 4,
            available: data.len(),
        });
    };
    let total = total as usize;
    if total > MAX_DATASET {
        return Err(RecordError::TooLarge {
            size: total,
            max: MAX_DATASET,
        });
    }
    rest.get(..total).ok_or(RecordError::Truncated {
        declared: total,
        available: rest.len(),
    })
}

/// Prefixes a body with its u32 LE size, as a device serves a dataset.
pub fn dataset_with_prefix(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Raw fields of one attendance record before time validation.
struct RawRecord {
    uid: u16,
    user_id: String,
    time: u32,
    status: u8,
    punch: u8,
    workcode: u32,
}

fn raw_compact8(i: &[u8]) -> Res<'_, RawRecord> {
    let (i, (uid, status, time, punch)) = (le_u16, byte, le_u32, byte).parse(i)?;
    let rec = RawRecord {
        uid,
        user_id: uid.to_string(),
        time,
        status,
        punch,
        workcode: 0,
    };
    Ok((i, rec))
}

fn raw_ma300(i: &[u8]) -> Res<'_, RawRecord> {
    let (i, (uid, status, punch, time)) = (le_u16, byte, byte, le_u32).parse(i)?;
    let rec = RawRecord {
        uid,
        user_id: uid.to_string(),
        time,
        status,
        punch,
        workcode: 0,
    };
    Ok((i, rec))
}

fn raw_extended16(i: &[u8]) -> Res<'_, RawRecord> {
    let (i, (user_id, time, status, punch, _reserved, workcode)) =
        (le_u32, le_u32, byte, byte, take(2usize), le_u32).parse(i)?;
    let rec = RawRecord {
        uid: u16::try_from(user_id).unwrap_or(0),
        user_id: user_id.to_string(),
        time,
        status,
        punch,
        workcode,
    };
    Ok((i, rec))
}

fn raw_full40(i: &[u8]) -> Res<'_, RawRecord> {
    let (i, (uid, user_id, status, time, punch)) =
        (le_u16, take(24usize), byte, le_u32, byte).parse(i)?;
    let rec = RawRecord {
        uid,
        user_id: lossy(user_id),
        time,
        status,
        punch,
        workcode: 0,
    };
    Ok((i, rec))
}

/// Attendance records decoded from a body, with the records that were rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttendanceSet {
    /// Records that decoded cleanly, in device order.
    pub records: Vec<AttendanceRecord>,
    /// Records skipped because their content was corrupt (e.g. an impossible time).
    pub rejected: Vec<RecordError>,
}

/// Decodes one attendance record of exactly `layout.stride()` bytes (or more; extra ignored).
pub fn parse_attendance_record(
    rec: &[u8],
    layout: RecordLayout,
    index: usize,
) -> Result<AttendanceRecord, RecordError> {
    let parsed = match layout {
        RecordLayout::Compact8 => raw_compact8(rec),
        RecordLayout::Ma300 => raw_ma300(rec),
        RecordLayout::Extended16 => raw_extended16(rec),
        RecordLayout::Full40 | RecordLayout::SpeedFace49 => raw_full40(rec),
    };
    let Ok((_, raw)) = parsed else {
        return Err(RecordError::Misaligned {
            len: rec.len(),
            stride: layout.stride(),
        });
    };
    let time =
        ZkDateTime::from_zk(raw.time).map_err(|source| RecordError::BadTime { index, source })?;
    Ok(AttendanceRecord {
        uid: raw.uid,
        user_id: raw.user_id,
        time,
        status: raw.status,
        punch: raw.punch,
        workcode: raw.workcode,
    })
}

/// Decodes an attendance body (without the size prefix); corrupt records are set aside.
pub fn parse_attendance(body: &[u8], layout: RecordLayout) -> Result<AttendanceSet, RecordError> {
    let stride = layout.stride();
    if body.len() % stride != 0 {
        return Err(RecordError::Misaligned {
            len: body.len(),
            stride,
        });
    }
    let mut set = AttendanceSet {
        records: Vec::with_capacity(body.len() / stride),
        rejected: Vec::new(),
    };
    for (index, rec) in body.chunks_exact(stride).enumerate() {
        match parse_attendance_record(rec, layout, index) {
            Ok(r) => set.records.push(r),
            Err(e) => set.rejected.push(e),
        }
    }
    Ok(set)
}

fn put_str(
    out: &mut Vec<u8>,
    field: &'static str,
    value: &[u8],
    slot: usize,
) -> Result<(), RecordError> {
    if value.len() > slot {
        return Err(RecordError::FieldTooLong {
            field,
            len: value.len(),
            max: slot,
        });
    }
    out.extend_from_slice(value);
    out.resize(out.len() + slot - value.len(), 0);
    Ok(())
}

fn numeric<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, RecordError> {
    if value.is_empty() {
        return "0".parse().map_err(|_| RecordError::NotNumeric {
            field,
            value: value.to_owned(),
        });
    }
    value.parse().map_err(|_| RecordError::NotNumeric {
        field,
        value: value.to_owned(),
    })
}

/// Appends one attendance record in `layout` to `out`.
pub fn encode_attendance_record(
    out: &mut Vec<u8>,
    r: &AttendanceRecord,
    layout: RecordLayout,
) -> Result<(), RecordError> {
    let time = r.time.to_zk().to_le_bytes();
    match layout {
        RecordLayout::Compact8 => {
            out.extend_from_slice(&r.uid.to_le_bytes());
            out.push(r.status);
            out.extend_from_slice(&time);
            out.push(r.punch);
        }
        RecordLayout::Ma300 => {
            out.extend_from_slice(&r.uid.to_le_bytes());
            out.push(r.status);
            out.push(r.punch);
            out.extend_from_slice(&time);
        }
        RecordLayout::Extended16 => {
            let id: u32 = numeric("user_id", &r.user_id)?;
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&time);
            out.push(r.status);
            out.push(r.punch);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&r.workcode.to_le_bytes());
        }
        RecordLayout::Full40 | RecordLayout::SpeedFace49 => {
            out.extend_from_slice(&r.uid.to_le_bytes());
            put_str(out, "user_id", r.user_id.as_bytes(), 24)?;
            out.push(r.status);
            out.extend_from_slice(&time);
            out.push(r.punch);
            out.resize(out.len() + layout.stride() - 32, 0);
        }
    }
    Ok(())
}

/// Encodes records as a body (without the size prefix).
pub fn encode_attendance(
    records: &[AttendanceRecord],
    layout: RecordLayout,
) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(records.len() * layout.stride());
    for r in records {
        encode_attendance_record(&mut out, r, layout)?;
    }
    Ok(out)
}

fn user28(i: &[u8]) -> Res<'_, User> {
    let (i, (uid, privilege, password, name, card, _pad, group, _tz, user_id)) = (
        le_u16,
        byte,
        take(5usize),
        take(8usize),
        le_u32,
        byte,
        byte,
        le_i16,
        le_u32,
    )
        .parse(i)?;
    let name_raw = until_nul(name).to_vec();
    let user = User {
        uid,
        privilege,
        password: lossy(password),
        name: String::from_utf8_lossy(&name_raw).into_owned(),
        name_raw,
        card,
        group: group.to_string(),
        user_id: user_id.to_string(),
    };
    Ok((i, user))
}

fn user72(i: &[u8]) -> Res<'_, User> {
    let (i, (uid, privilege, password, name, card, _pad, group, _pad2, user_id)) = (
        le_u16,
        byte,
        take(8usize),
        take(24usize),
        le_u32,
        byte,
        take(7usize),
        byte,
        take(24usize),
    )
        .parse(i)?;
    let name_raw = until_nul(name).to_vec();
    let user = User {
        uid,
        privilege,
        password: lossy(password),
        name: String::from_utf8_lossy(&name_raw).into_owned(),
        name_raw,
        card,
        group: lossy(group),
        user_id: lossy(user_id),
    };
    Ok((i, user))
}

/// Decodes one user record of `layout.stride()` bytes.
pub fn parse_user(rec: &[u8], layout: UserLayout) -> Result<User, RecordError> {
    let parsed = match layout {
        UserLayout::Zk6 => user28(rec),
        UserLayout::Zk8 => user72(rec),
    };
    parsed.map(|(_, u)| u).map_err(|_| RecordError::Misaligned {
        len: rec.len(),
        stride: layout.stride(),
    })
}

/// Decodes a user body (without the size prefix).
pub fn parse_users(body: &[u8], layout: UserLayout) -> Result<Vec<User>, RecordError> {
    let stride = layout.stride();
    if body.len() % stride != 0 {
        return Err(RecordError::Misaligned {
            len: body.len(),
            stride,
        });
    }
    body.chunks_exact(stride)
        .map(|rec| parse_user(rec, layout))
        .collect()
}

/// Encodes one user record in `layout` (what USER_WRQ carries).
pub fn encode_user(u: &User, layout: UserLayout) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(layout.stride());
    out.extend_from_slice(&u.uid.to_le_bytes());
    out.push(u.privilege);
    match layout {
        UserLayout::Zk6 => {
            put_str(&mut out, "password", u.password.as_bytes(), 5)?;
            put_str(&mut out, "name", u.name_bytes(), 8)?;
            out.extend_from_slice(&u.card.to_le_bytes());
            out.push(0);
            out.push(numeric::<u8>("group", &u.group)?);
            out.extend_from_slice(&0i16.to_le_bytes());
            out.extend_from_slice(&numeric::<u32>("user_id", &u.user_id)?.to_le_bytes());
        }
        UserLayout::Zk8 => {
            put_str(&mut out, "password", u.password.as_bytes(), 8)?;
            put_str(&mut out, "name", u.name_bytes(), 24)?;
            out.extend_from_slice(&u.card.to_le_bytes());
            out.push(0);
            put_str(&mut out, "group", u.group.as_bytes(), 7)?;
            out.push(0);
            put_str(&mut out, "user_id", u.user_id.as_bytes(), 24)?;
        }
    }
    Ok(out)
}

/// Encodes users as a body (without the size prefix).
pub fn encode_users(users: &[User], layout: UserLayout) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(users.len() * layout.stride());
    for u in users {
        out.extend_from_slice(&encode_user(u, layout)?);
    }
    Ok(out)
}

/// One fingerprint template as a pull reader stores it (keyed by the internal slot number).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FingerTemplate {
    /// Internal slot number of the user ([`User::uid`]), not the enrolment number.
    pub uid: u16,
    /// Finger index 0–9.
    pub fid: u8,
    /// Valid flag (1 normal, 3 duress; 0 invalid).
    pub valid: u8,
    /// The template bytes (vendor format, opaque).
    pub template: Vec<u8>,
}

/// Templates decoded from a dataset body, with the records that were set aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateSet {
    /// Templates that decoded cleanly, in device order.
    pub templates: Vec<FingerTemplate>,
    /// Records skipped because their template was empty or over [`MAX_TEMPLATE_LEN`].
    pub rejected: Vec<RecordError>,
}

/// What a template upload (CMD_SAVE_USERTEMPS) carries: user records and their templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateUpload {
    /// User records, written (created or replaced) before the templates.
    pub users: Vec<User>,
    /// Templates; `uid` names one of the users and `valid` is not carried (read as 1).
    pub templates: Vec<FingerTemplate>,
}

fn template_header(i: &[u8]) -> Res<'_, (u16, u16, u8, u8)> {
    (le_u16, le_u16, byte, byte).parse(i)
}

/// Decodes a template dataset body (without the size prefix; read with DB_RRQ, fct 2).
///
/// Each record is `size u16` (header included), `uid u16`, `fid u8`, `valid u8`, then
/// `size - 6` template bytes. A record whose size is impossible or runs past the end fails the
/// whole dataset (nothing after it can be framed); empty or oversized templates are set aside.
pub fn parse_templates(body: &[u8]) -> Result<TemplateSet, RecordError> {
    let mut set = TemplateSet::default();
    let mut rest = body;
    let mut index = 0;
    while !rest.is_empty() {
        if index >= MAX_TEMPLATES {
            return Err(RecordError::TooManyTemplates { max: MAX_TEMPLATES });
        }
        let offset = body.len() - rest.len();
        let Ok((after, (size, uid, fid, valid))) = template_header(rest) else {
            return Err(RecordError::TemplateOverrun {
                index,
                offset,
                declared: TEMPLATE_HEADER_LEN,
                available: rest.len(),
            });
        };
        let size = usize::from(size);
        if size < TEMPLATE_HEADER_LEN {
            return Err(RecordError::TemplateSizeTooSmall {
                index,
                offset,
                size,
            });
        }
        let Ok((next, data)) =
            take::<_, _, nom::error::Error<&[u8]>>(size - TEMPLATE_HEADER_LEN).parse(after)
        else {
            return Err(RecordError::TemplateOverrun {
                index,
                offset,
                declared: size,
                available: rest.len(),
            });
        };
        match check_template(data.len(), index) {
            Ok(()) => set.templates.push(FingerTemplate {
                uid,
                fid,
                valid,
                template: data.to_vec(),
            }),
            Err(e) => set.rejected.push(e),
        }
        rest = next;
        index += 1;
    }
    Ok(set)
}

fn check_template(len: usize, index: usize) -> Result<(), RecordError> {
    if len == 0 {
        return Err(RecordError::TemplateEmpty { index });
    }
    if len > MAX_TEMPLATE_LEN {
        return Err(RecordError::TemplateTooLarge {
            index,
            len,
            max: MAX_TEMPLATE_LEN,
        });
    }
    Ok(())
}

/// Encodes templates as a dataset body (without the size prefix), as a reader serves them.
pub fn encode_templates(templates: &[FingerTemplate]) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(
        templates
            .iter()
            .map(|t| TEMPLATE_HEADER_LEN + t.template.len())
            .sum(),
    );
    for (index, t) in templates.iter().enumerate() {
        check_template(t.template.len(), index)?;
        // MAX_TEMPLATE_LEN + 6 fits a u16.
        let size = (TEMPLATE_HEADER_LEN + t.template.len()) as u16;
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&t.uid.to_le_bytes());
        out.push(t.fid);
        out.push(t.valid);
        out.extend_from_slice(&t.template);
    }
    Ok(out)
}

/// Encodes the buffer CMD_SAVE_USERTEMPS stores (pyzk `HR_save_usertemplates`):
/// three u32 lengths (users, table, templates), the user records each behind a tag byte 2,
/// a table of 8-byte entries (tag 2, uid u16, 0x10 + finger u8, offset u32 into the
/// templates), then each template as `len u16` + bytes. Templates go under their user's uid.
pub fn encode_template_upload(
    entries: &[(User, Vec<FingerTemplate>)],
    layout: UserLayout,
) -> Result<Vec<u8>, RecordError> {
    let mut users = Vec::new();
    let mut table = Vec::new();
    let mut fingers = Vec::new();
    let mut index = 0;
    for (user, templates) in entries {
        users.push(UPLOAD_TAG);
        users.extend_from_slice(&encode_user(user, layout)?);
        for t in templates {
            check_template(t.template.len(), index)?;
            index += 1;
            if t.fid > 9 {
                return Err(RecordError::BadFinger(t.fid));
            }
            table.push(UPLOAD_TAG);
            table.extend_from_slice(&user.uid.to_le_bytes());
            table.push(UPLOAD_FINGER_BASE + t.fid);
            table.extend_from_slice(&(fingers.len() as u32).to_le_bytes());
            fingers.extend_from_slice(&(t.template.len() as u16).to_le_bytes());
            fingers.extend_from_slice(&t.template);
        }
    }
    let mut out = Vec::with_capacity(12 + users.len() + table.len() + fingers.len());
    for part in [&users, &table, &fingers] {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&users);
    out.extend_from_slice(&table);
    out.extend_from_slice(&fingers);
    Ok(out)
}

fn upload_head(i: &[u8]) -> Res<'_, (u32, u32, u32)> {
    (le_u32, le_u32, le_u32).parse(i)
}

fn upload_entry(i: &[u8]) -> Res<'_, (u8, u16, u8, u32)> {
    (byte, le_u16, byte, le_u32).parse(i)
}

fn sized_template(i: &[u8]) -> Res<'_, &[u8]> {
    let (i, len) = le_u16(i)?;
    take(usize::from(len)).parse(i)
}

/// Decodes a CMD_SAVE_USERTEMPS buffer (see [`encode_template_upload`]); user records are in
/// `layout`. Every length and offset is checked against the buffer.
pub fn parse_template_upload(
    buf: &[u8],
    layout: UserLayout,
) -> Result<TemplateUpload, RecordError> {
    let bad = RecordError::BadUpload;
    let Ok((rest, (ulen, tlen, flen))) = upload_head(buf) else {
        return Err(bad("shorter than its 12-byte header"));
    };
    let (ulen, tlen, flen) = (ulen as usize, tlen as usize, flen as usize);
    let total = ulen
        .checked_add(tlen)
        .and_then(|n| n.checked_add(flen))
        .ok_or(bad("section lengths overflow"))?;
    if total != rest.len() {
        return Err(bad("section lengths do not add up to the buffer"));
    }
    let (user_bytes, rest) = rest.split_at(ulen);
    let (table, fingers) = rest.split_at(tlen);
    let stride = layout.stride() + 1;
    if ulen % stride != 0 {
        return Err(bad("user section is not a whole number of records"));
    }
    if tlen % UPLOAD_TABLE_ENTRY != 0 {
        return Err(bad("template table is not a whole number of entries"));
    }
    let mut out = TemplateUpload::default();
    for rec in user_bytes.chunks_exact(stride) {
        out.users.push(parse_user(&rec[1..], layout)?);
    }
    for (index, entry) in table.chunks_exact(UPLOAD_TABLE_ENTRY).enumerate() {
        let Ok((_, (_tag, uid, fnum, offset))) = upload_entry(entry) else {
            return Err(bad("template table entry cut short"));
        };
        let fid = fnum
            .checked_sub(UPLOAD_FINGER_BASE)
            .filter(|f| *f <= 9)
            .ok_or(bad("finger number outside 0x10..=0x19"))?;
        let Some(at) = fingers.get(offset as usize..) else {
            return Err(bad("template offset past the template section"));
        };
        let Ok((_, data)) = sized_template(at) else {
            return Err(bad("template runs past the template section"));
        };
        check_template(data.len(), index)?;
        out.templates.push(FingerTemplate {
            uid,
            fid,
            valid: 1,
            template: data.to_vec(),
        });
    }
    Ok(out)
}

impl DeviceCounts {
    /// Decodes a GET_FREE_SIZES payload (20 i32, optionally 3 more for faces).
    pub fn parse(payload: &[u8]) -> Result<Self, RecordError> {
        let field = |i: usize| -> Option<u32> {
            let b = payload.get(i * 4..i * 4 + 4)?;
            let (_, v) = le_i32::<_, nom::error::Error<&[u8]>>(b).ok()?;
            Some(u32::try_from(v).unwrap_or(0))
        };
        let get = |i: usize| field(i).ok_or(RecordError::FreeSizesTooShort(payload.len()));
        if payload.len() < 80 {
            return Err(RecordError::FreeSizesTooShort(payload.len()));
        }
        let has_faces = payload.len() >= 92;
        Ok(Self {
            users: get(4)?,
            fingers: get(6)?,
            records: get(8)?,
            oplogs: get(10)?,
            admins: get(12)?,
            finger_capacity: get(14)?,
            user_capacity: get(15)?,
            record_capacity: get(16)?,
            fingers_available: get(17)?,
            users_available: get(18)?,
            records_available: get(19)?,
            faces: if has_faces { field(20) } else { None },
            face_capacity: if has_faces { field(22) } else { None },
        })
    }

    /// Encodes as a device would answer GET_FREE_SIZES (92 bytes with the face block).
    pub fn encode(&self) -> Vec<u8> {
        let mut f = [0u32; 23];
        f[4] = self.users;
        f[6] = self.fingers;
        f[8] = self.records;
        f[10] = self.oplogs;
        f[12] = self.admins;
        f[14] = self.finger_capacity;
        f[15] = self.user_capacity;
        f[16] = self.record_capacity;
        f[17] = self.fingers_available;
        f[18] = self.users_available;
        f[19] = self.records_available;
        f[20] = self.faces.unwrap_or(0);
        f[22] = self.face_capacity.unwrap_or(0);
        let n = if self.faces.is_some() || self.face_capacity.is_some() {
            23
        } else {
            20
        };
        f[..n].iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

fn event_short(i: &[u8], wide: bool) -> Res<'_, (String, u8, u8, [u8; 6])> {
    let (i, id) = if wide {
        let (i, v) = le_u32(i)?;
        (i, v.to_string())
    } else {
        let (i, v) = le_u16(i)?;
        (i, v.to_string())
    };
    let (i, (status, punch, t)) = (byte, byte, time6).parse(i)?;
    Ok((i, (id, status, punch, t)))
}

fn event_long(i: &[u8]) -> Res<'_, (String, u8, u8, [u8; 6])> {
    let (i, (id, status, punch, t)) = (take(24usize), byte, byte, time6).parse(i)?;
    Ok((i, (lossy(id), status, punch, t)))
}

/// Decodes a live attendance-event payload by its length; unknown lengths are errors.
pub fn parse_live_event(payload: &[u8]) -> Result<LiveEvent, RecordError> {
    let parsed = match payload.len() {
        10 | 14 => event_short(payload, false),
        12 => event_short(payload, true),
        32 | 36 | 37 => event_long(payload),
        n if n >= 52 => event_long(payload),
        n => return Err(RecordError::UnknownEventLength(n)),
    };
    let Ok((_, (user_id, status, punch, t))) = parsed else {
        return Err(RecordError::UnknownEventLength(payload.len()));
    };
    let time = ZkDateTime::from_event_bytes(t)
        .map_err(|source| RecordError::BadTime { index: 0, source })?;
    Ok(LiveEvent {
        user_id,
        status,
        punch,
        time,
    })
}

/// Encodes a live event in `format` (extra bytes are zero).
pub fn encode_live_event(ev: &LiveEvent, format: LiveEventFormat) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(format.payload_len());
    match format {
        LiveEventFormat::Short10 | LiveEventFormat::Short14 => {
            out.extend_from_slice(&numeric::<u16>("user_id", &ev.user_id)?.to_le_bytes());
        }
        LiveEventFormat::Short12 => {
            out.extend_from_slice(&numeric::<u32>("user_id", &ev.user_id)?.to_le_bytes());
        }
        _ => put_str(&mut out, "user_id", ev.user_id.as_bytes(), 24)?,
    }
    out.push(ev.status);
    out.push(ev.punch);
    out.extend_from_slice(&ev.time.to_event_bytes());
    out.resize(format.payload_len(), 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> ZkDateTime {
        ZkDateTime::new(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn ma300_records_read_time_at_offset_four() {
        let raw = [0x07, 0x00, 0x28, 0x00, 0xa8, 0xeb, 0xa7, 0x1e];
        let r = parse_attendance_record(&raw, RecordLayout::Ma300, 0).unwrap();
        assert_eq!(r.uid, 7);
        assert_eq!(r.time, t(2016, 1, 1, 19, 2, 0));
        assert_eq!((r.status, r.punch), (0x28, 0));
    }

    #[test]
    fn the_same_bytes_as_standard_compact_layout_give_a_different_time() {
        let raw = [0x07, 0x00, 0x28, 0x00, 0xa8, 0xeb, 0xa7, 0x1e];
        let r = parse_attendance_record(&raw, RecordLayout::Compact8, 0);
        assert_ne!(r.ok().map(|r| r.time), Some(t(2016, 1, 1, 19, 2, 0)));
    }

    #[test]
    fn a_record_with_an_impossible_time_is_set_aside_not_fatal() {
        let good = AttendanceRecord {
            uid: 1,
            user_id: "1".into(),
            time: t(2024, 5, 1, 8, 0, 0),
            status: 1,
            punch: 0,
            workcode: 0,
        };
        let mut body =
            encode_attendance(std::slice::from_ref(&good), RecordLayout::Full40).unwrap();
        let mut bad = body.clone();
        bad[27..31].copy_from_slice(&u32::MAX.to_le_bytes());
        body.extend_from_slice(&bad);
        let set = parse_attendance(&body, RecordLayout::Full40).unwrap();
        assert_eq!(set.records, vec![good]);
        assert_eq!(set.rejected.len(), 1);
    }

    #[test]
    fn layout_inference_divides_size_by_count() {
        assert_eq!(
            RecordLayout::infer(400, 10, false),
            Ok(RecordLayout::Full40)
        );
        assert_eq!(
            RecordLayout::infer(490, 10, false),
            Ok(RecordLayout::SpeedFace49)
        );
        assert_eq!(RecordLayout::infer(80, 10, true), Ok(RecordLayout::Ma300));
        assert!(RecordLayout::infer(81, 10, false).is_err());
        assert!(RecordLayout::infer(0, 0, false).is_err());
        assert_eq!(UserLayout::infer(144, 2), Ok(UserLayout::Zk8));
    }

    #[test]
    fn punches_logged_after_the_count_was_read_still_give_the_layout() {
        // 1,899 counted, 1,901 sent (the soak saw this from a reader that kept logging).
        assert_eq!(
            RecordLayout::infer(1901 * 40, 1899, false),
            Ok(RecordLayout::Full40)
        );
        assert_eq!(
            RecordLayout::infer(13 * 8, 10, false),
            Ok(RecordLayout::Compact8)
        );
        // Too many extra records to be late punches, or two sizes that both fit: refused.
        assert!(RecordLayout::infer((1899 + 65) * 40, 1899, false).is_err());
        assert!(RecordLayout::infer(80, 4, false).is_err());
        // Fewer records than counted is never explained this way.
        assert!(RecordLayout::infer(1898 * 40, 1899, false).is_err());
    }

    #[test]
    fn every_known_live_event_length_decodes_and_others_are_errors() {
        let ev = LiveEvent {
            user_id: "4711".into(),
            status: 15,
            punch: 1,
            time: t(2025, 3, 4, 5, 6, 7),
        };
        for f in LiveEventFormat::ALL {
            let bytes = encode_live_event(&ev, f).unwrap();
            assert_eq!(bytes.len(), f.payload_len());
            assert_eq!(parse_live_event(&bytes).unwrap(), ev, "{f:?}");
        }
        for n in [0, 5, 11, 13, 31, 38, 51] {
            assert_eq!(
                parse_live_event(&vec![0; n]),
                Err(RecordError::UnknownEventLength(n))
            );
        }
    }

    #[test]
    fn free_sizes_without_the_face_block_leave_faces_unknown() {
        let counts = DeviceCounts {
            users: 3,
            records: 9,
            ..Default::default()
        };
        let bytes = counts.encode();
        assert_eq!(bytes.len(), 80);
        assert_eq!(DeviceCounts::parse(&bytes).unwrap(), counts);
        assert!(DeviceCounts::parse(&bytes[..79]).is_err());
    }

    #[test]
    fn non_utf8_names_keep_their_raw_bytes() {
        let mut u = User::new(1, "1", "");
        u.name_raw = vec![0xC0, 0xEE, 0xCB, 0xC4]; // GBK
        u.name = String::from_utf8_lossy(&u.name_raw).into_owned();
        let back = parse_user(&encode_user(&u, UserLayout::Zk8).unwrap(), UserLayout::Zk8).unwrap();
        assert_eq!(back.name_raw, u.name_raw);
        assert_eq!(back, u);
    }

    #[test]
    fn a_declared_dataset_size_over_the_cap_is_refused() {
        let mut d = ((MAX_DATASET + 1) as u32).to_le_bytes().to_vec();
        d.extend_from_slice(&[0; 16]);
        assert!(matches!(
            dataset_body(&d),
            Err(RecordError::TooLarge { .. })
        ));
        assert!(matches!(
            dataset_body(&[8, 0, 0, 0, 1]),
            Err(RecordError::Truncated { .. })
        ));
    }

    fn finger(uid: u16, fid: u8, len: usize) -> FingerTemplate {
        FingerTemplate {
            uid,
            fid,
            valid: 1,
            template: (0..len).map(|i| (i * 7 + usize::from(fid)) as u8).collect(),
        }
    }

    #[test]
    fn templates_round_trip_through_the_dataset_layout() {
        let ts = vec![
            finger(1, 0, 512),
            finger(1, 6, 1),
            finger(300, 9, MAX_TEMPLATE_LEN),
        ];
        let body = encode_templates(&ts).unwrap();
        assert_eq!(
            &body[..6],
            &[0x06, 0x02, 1, 0, 0, 1],
            "size 512 + 6, uid 1, fid 0, valid 1"
        );
        let set = parse_templates(&body).unwrap();
        assert_eq!(set.templates, ts);
        assert!(set.rejected.is_empty());
        assert_eq!(parse_templates(&[]).unwrap(), TemplateSet::default());
        // Behind the dataset's size prefix, as a reader serves it.
        let data = dataset_with_prefix(&body);
        assert_eq!(
            parse_templates(dataset_body(&data).unwrap())
                .unwrap()
                .templates,
            ts
        );
    }

    #[test]
    fn a_truncated_template_record_is_an_error() {
        let body = encode_templates(&[finger(2, 1, 40), finger(3, 2, 40)]).unwrap();
        for cut in [1, 5, 47, 50, 52, body.len() - 1] {
            let err = parse_templates(&body[..cut]).unwrap_err();
            assert!(
                matches!(err, RecordError::TemplateOverrun { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn a_declared_template_size_larger_than_the_data_is_rejected() {
        let mut body = encode_templates(&[finger(2, 1, 40)]).unwrap();
        body[..2].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            parse_templates(&body),
            Err(RecordError::TemplateOverrun {
                index: 0,
                offset: 0,
                declared: 65535,
                available: 46,
            })
        );
    }

    #[test]
    fn a_declared_template_size_below_the_header_is_rejected() {
        let good = encode_templates(&[finger(2, 1, 10)]).unwrap();
        for size in [0u16, 5] {
            let mut body = good.clone();
            body.extend_from_slice(&size.to_le_bytes());
            body.extend_from_slice(&[1, 0, 0, 1]);
            assert_eq!(
                parse_templates(&body),
                Err(RecordError::TemplateSizeTooSmall {
                    index: 1,
                    offset: 16,
                    size: usize::from(size),
                })
            );
        }
    }

    #[test]
    fn empty_and_oversized_templates_are_set_aside_and_refused_for_writing() {
        let big = finger(4, 3, MAX_TEMPLATE_LEN + 1);
        let mut body = Vec::new();
        body.extend_from_slice(&((MAX_TEMPLATE_LEN + 7) as u16).to_le_bytes());
        body.extend_from_slice(&[4, 0, 3, 1]);
        body.extend_from_slice(&big.template);
        body.extend_from_slice(&[6, 0, 5, 0, 1, 1]);
        body.extend_from_slice(&encode_templates(&[finger(5, 0, 8)]).unwrap());
        let set = parse_templates(&body).unwrap();
        assert_eq!(set.templates, vec![finger(5, 0, 8)]);
        assert_eq!(set.rejected.len(), 2);
        assert!(encode_templates(&[big]).is_err());
        assert!(encode_templates(&[finger(1, 1, 0)]).is_err());
    }

    #[test]
    fn a_template_upload_has_the_pyzk_byte_layout() {
        let user = User::new(7, "42", "Siti");
        let t = finger(7, 6, 3);
        let buf =
            encode_template_upload(&[(user.clone(), vec![t.clone()])], UserLayout::Zk6).unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(&29u32.to_le_bytes());
        want.extend_from_slice(&8u32.to_le_bytes());
        want.extend_from_slice(&5u32.to_le_bytes());
        want.push(2);
        want.extend_from_slice(&encode_user(&user, UserLayout::Zk6).unwrap());
        want.extend_from_slice(&[2, 7, 0, 0x16, 0, 0, 0, 0]);
        want.extend_from_slice(&[3, 0]);
        want.extend_from_slice(&t.template);
        assert_eq!(buf, want);
    }

    #[test]
    fn template_uploads_round_trip_in_both_user_layouts() {
        for layout in [UserLayout::Zk6, UserLayout::Zk8] {
            let mut a = User::new(1, "1001", "A");
            let mut b = User::new(2, "1002", "B");
            a.group = "1".into();
            b.group = "1".into();
            let entries = vec![
                (a.clone(), vec![finger(1, 0, 600), finger(1, 9, 700)]),
                (b.clone(), vec![]),
            ];
            let buf = encode_template_upload(&entries, layout).unwrap();
            let up = parse_template_upload(&buf, layout).unwrap();
            assert_eq!(up.users, vec![a, b]);
            assert_eq!(up.templates, vec![finger(1, 0, 600), finger(1, 9, 700)]);
        }
        let user = User::new(1, "1", "x");
        assert_eq!(
            encode_template_upload(&[(user, vec![finger(1, 10, 4)])], UserLayout::Zk8),
            Err(RecordError::BadFinger(10))
        );
    }

    #[test]
    fn malformed_template_uploads_are_errors() {
        let user = User::new(1, "1001", "A");
        let buf =
            encode_template_upload(&[(user, vec![finger(1, 2, 50)])], UserLayout::Zk8).unwrap();
        for cut in [0, 11, 12, 80, buf.len() - 1] {
            assert!(
                parse_template_upload(&buf[..cut], UserLayout::Zk8).is_err(),
                "cut {cut}"
            );
        }
        // The right length for the other user layout.
        assert!(parse_template_upload(&buf, UserLayout::Zk6).is_err());
        // A template offset or length past the template section.
        let table = 12 + 73;
        let mut far = buf.clone();
        far[table + 4..table + 8].copy_from_slice(&1000u32.to_le_bytes());
        assert!(parse_template_upload(&far, UserLayout::Zk8).is_err());
        let mut long = buf.clone();
        long[table + 8..table + 10].copy_from_slice(&51u16.to_le_bytes());
        assert!(parse_template_upload(&long, UserLayout::Zk8).is_err());
        let mut finger_no = buf.clone();
        finger_no[table + 3] = 0x0F;
        assert!(parse_template_upload(&finger_no, UserLayout::Zk8).is_err());
        // Section lengths that overflow or disagree with the buffer.
        let mut lens = buf;
        lens[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_template_upload(&lens, UserLayout::Zk8).is_err());
    }
}
