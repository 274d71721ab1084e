//! The text formats of ZKTeco push mode (ADMS / iclock over HTTP) and of USB attlog files:
//! ATTLOG lines, OPERLOG `USER`/`FP` lines, the handshake options, queued commands
//! (`C:<id>:<command>`) and their results (`ID=..&Return=..&CMD=..`).
//!
//! Bodies are text; fields are TAB-separated, records LF-separated (ZKTeco "Attendance PUSH
//! Communication Protocol"; see `docs/reader-protocol.md`). Every parser here takes bytes a
//! reader (or a file) controls and never panics; a malformed line is an error for that line
//! only, so a batch can keep its good lines.

use std::fmt;

use super::time::ZkDateTime;

/// Longest line accepted, bytes (a line with a fingerprint template is ~2–3 KiB).
pub const MAX_LINE: usize = 16 * 1024;
/// Longest PIN (user id) accepted; the 72-byte user record has a 24-byte user id field.
pub const MAX_PIN: usize = 24;
/// Longest base64 fingerprint template accepted.
pub const MAX_TEMPLATE: usize = 12 * 1024;

/// Why one line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE`].
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("not UTF-8 text")]
    NotText,
    /// Too few fields.
    #[error("expected at least {expected} TAB-separated fields, found {found}")]
    Fields {
        /// Fields needed.
        expected: usize,
        /// Fields present.
        found: usize,
    },
    /// The PIN (user id) is empty, too long or has characters other than letters and digits.
    #[error("bad PIN {0:?} (1–24 letters or digits)")]
    Pin(String),
    /// The time is not `YYYY-MM-DD HH:MM:SS` or not a valid reader time.
    #[error("bad time {0:?} (expected YYYY-MM-DD HH:MM:SS, years 2000–2132)")]
    Time(String),
    /// A numeric field is not a number in range.
    #[error("bad {field} {value:?}")]
    Number {
        /// Field name.
        field: &'static str,
        /// Text found.
        value: String,
    },
    /// A required `key=value` is missing.
    #[error("missing {0}=")]
    Missing(&'static str),
    /// The fingerprint template is not base64 or too large.
    #[error("bad fingerprint template ({0})")]
    Template(String),
    /// A line type this parser does not know.
    #[error("unknown line type {0:?}")]
    Unknown(String),
}

/// Column order of the two numeric fields after the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnOrder {
    /// Push ATTLOG: `PIN, time, status (in/out state), verify, workcode, reserved...`.
    Push,
    /// USB `attlog.dat` as most firmware writes it: `PIN, time, verify, state, workcode, ...`.
    UsbDat,
}

/// One attendance line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttLogLine {
    /// User id on the reader (the NIP when the gateway manages the roster).
    pub pin: String,
    /// Reader wall-clock time.
    pub time: ZkDateTime,
    /// In/out state (0 check-in, 1 check-out, 2 break-out, 3 break-in, 4/5 overtime).
    pub state: u8,
    /// How the person verified (0 password, 1 fingerprint, 4 card, 15 face...).
    pub verify: u8,
    /// Work code ("0" when unused).
    pub workcode: String,
}

fn text(line: &[u8]) -> Result<&str, LineError> {
    if line.len() > MAX_LINE {
        return Err(LineError::TooLong);
    }
    let s = std::str::from_utf8(line).map_err(|_| LineError::NotText)?;
    Ok(s.trim_end_matches(['\r', '\n']))
}

fn pin(s: &str) -> Result<String, LineError> {
    let p = s.trim();
    if p.is_empty() || p.len() > MAX_PIN || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(LineError::Pin(p.chars().take(40).collect()));
    }
    Ok(p.to_string())
}

fn number<T: std::str::FromStr>(field: &'static str, s: &str) -> Result<T, LineError> {
    let t = s.trim();
    t.parse().map_err(|_| LineError::Number {
        field,
        value: t.chars().take(40).collect(),
    })
}

/// Parses `YYYY-MM-DD HH:MM:SS`.
pub fn parse_time(s: &str) -> Result<ZkDateTime, LineError> {
    let bad = || LineError::Time(s.chars().take(40).collect());
    let t = s.trim();
    let b = t.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u16, LineError> {
        let part = t.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    ZkDateTime::new(y, mo as u8, d as u8, h as u8, mi as u8, se as u8).map_err(|_| bad())
}

/// Parses one ATTLOG (push) or attlog.dat (USB) line.
pub fn parse_attlog_line(line: &[u8], order: ColumnOrder) -> Result<AttLogLine, LineError> {
    let s = text(line)?;
    let f: Vec<&str> = s.split('\t').collect();
    if f.len() < 4 {
        return Err(LineError::Fields {
            expected: 4,
            found: f.len(),
        });
    }
    let pin = pin(f[0])?;
    let time = parse_time(f[1])?;
    let (state, verify) = match order {
        ColumnOrder::Push => (number("status", f[2])?, number("verify", f[3])?),
        ColumnOrder::UsbDat => (number("state", f[3])?, number("verify", f[2])?),
    };
    let workcode = f.get(4).map(|w| w.trim()).unwrap_or("0");
    if workcode.len() > 32 || !workcode.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(LineError::Number {
            field: "workcode",
            value: workcode.chars().take(40).collect(),
        });
    }
    Ok(AttLogLine {
        pin,
        time,
        state,
        verify,
        workcode: if workcode.is_empty() { "0" } else { workcode }.to_string(),
    })
}

/// One line of a body with its 1-based line number, its bytes and the parse outcome.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// 1-based line number in the body.
    pub line_no: usize,
    /// The line exactly as received (without its LF).
    pub raw: Vec<u8>,
    /// The outcome.
    pub result: Result<T, LineError>,
}

/// Non-empty lines of a body with their 1-based numbers.
pub fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(|b| b.is_ascii_whitespace()))
}

/// Parses every line of an ATTLOG body or attlog.dat file; blank lines are skipped.
pub fn parse_attlog(body: &[u8], order: ColumnOrder) -> Vec<Parsed<AttLogLine>> {
    lines(body)
        .map(|(line_no, raw)| Parsed {
            line_no,
            raw: raw.to_vec(),
            result: parse_attlog_line(raw, order),
        })
        .collect()
}

/// Formats an ATTLOG line as push firmware sends it (7 fields).
pub fn format_attlog_line(l: &AttLogLine) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t0\t0",
        l.pin, l.time, l.state, l.verify, l.workcode
    )
}

/// Formats an attlog.dat line as USB exports write it (right-aligned PIN, verify then state).
pub fn format_usb_line(l: &AttLogLine) -> String {
    format!(
        "{:>9}\t{}\t{}\t{}\t{}\t0",
        l.pin, l.time, l.verify, l.state, l.workcode
    )
}

/// A user as push firmware describes it (`USER PIN=..\tName=..`) and as the gateway sets it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushUser {
    /// User id.
    pub pin: String,
    /// Display name.
    pub name: String,
    /// Privilege (0 user, 14 admin).
    pub privilege: u8,
    /// Keypad password (the gateway never sets one).
    pub password: String,
    /// Card number ("" when none).
    pub card: String,
    /// Group.
    pub group: String,
}

/// A fingerprint template (`FP PIN=..\tFID=..\tSize=..\tValid=..\tTMP=<base64>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTemplate {
    /// User id.
    pub pin: String,
    /// Finger index 0–9.
    pub fid: u8,
    /// Template size in bytes, as stated by the reader.
    pub size: u32,
    /// Valid flag (1 normal, 3 duress).
    pub valid: u8,
    /// The template, base64.
    pub tmp: String,
}

/// One OPERLOG / USERINFO / FINGERTMP line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperLine {
    /// An operation log entry (kept as text).
    Oplog(String),
    /// A user created or changed on the reader.
    User(PushUser),
    /// A fingerprint enrolled on the reader.
    Fp(PushTemplate),
}

/// `key=value` pairs of a TAB-separated line (values may contain `=`).
pub fn key_values(s: &str) -> Vec<(&str, &str)> {
    s.split('\t')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim(), v))
        .collect()
}

fn get<'a>(kv: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    kv.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| *v)
}

fn is_base64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Parses the fields of a user (without the `USER ` prefix).
pub fn parse_user_fields(s: &str) -> Result<PushUser, LineError> {
    let kv = key_values(s);
    let pin = pin(get(&kv, "PIN").ok_or(LineError::Missing("PIN"))?)?;
    let privilege = match get(&kv, "Pri").map(str::trim) {
        None | Some("") => 0,
        Some(p) => number("Pri", p)?,
    };
    let clip = |v: Option<&str>, n: usize| v.unwrap_or("").chars().take(n).collect::<String>();
    Ok(PushUser {
        pin,
        name: clip(get(&kv, "Name"), 64),
        privilege,
        password: clip(get(&kv, "Passwd"), 16),
        card: clip(get(&kv, "Card"), 32),
        group: clip(get(&kv, "Grp"), 8),
    })
}

/// Parses the fields of a fingerprint template (without the `FP ` prefix).
pub fn parse_template_fields(s: &str) -> Result<PushTemplate, LineError> {
    let kv = key_values(s);
    let pin = pin(get(&kv, "PIN").ok_or(LineError::Missing("PIN"))?)?;
    let fid: u8 = number("FID", get(&kv, "FID").ok_or(LineError::Missing("FID"))?)?;
    if fid > 9 {
        return Err(LineError::Number {
            field: "FID",
            value: fid.to_string(),
        });
    }
    let tmp = get(&kv, "TMP").ok_or(LineError::Missing("TMP"))?.trim();
    if tmp.is_empty() || tmp.len() > MAX_TEMPLATE || !is_base64(tmp) {
        return Err(LineError::Template(format!(
            "{} characters, base64 expected, at most {MAX_TEMPLATE}",
            tmp.len()
        )));
    }
    let size = match get(&kv, "Size") {
        Some(v) => number("Size", v)?,
        None => (tmp.len() / 4 * 3) as u32,
    };
    let valid = match get(&kv, "Valid") {
        Some(v) => number("Valid", v)?,
        None => 1,
    };
    Ok(PushTemplate {
        pin,
        fid,
        size,
        valid,
        tmp: tmp.to_string(),
    })
}

/// Parses one OPERLOG / USERINFO / FINGERTMP line. Lines without a `USER`/`FP`/`OPLOG` prefix
/// are read as users when they start with `PIN=` and hold `TMP=` for templates.
pub fn parse_oper_line(line: &[u8]) -> Result<OperLine, LineError> {
    let s = text(line)?;
    if let Some(rest) = s.strip_prefix("OPLOG ") {
        return Ok(OperLine::Oplog(rest.chars().take(256).collect()));
    }
    if let Some(rest) = s.strip_prefix("USER ") {
        return parse_user_fields(rest).map(OperLine::User);
    }
    if let Some(rest) = s.strip_prefix("FP ") {
        return parse_template_fields(rest).map(OperLine::Fp);
    }
    if s.starts_with("PIN=") {
        return if s.contains("\tTMP=") {
            parse_template_fields(s).map(OperLine::Fp)
        } else {
            parse_user_fields(s).map(OperLine::User)
        };
    }
    Err(LineError::Unknown(
        s.split([' ', '\t'])
            .next()
            .unwrap_or("")
            .chars()
            .take(20)
            .collect(),
    ))
}

/// Parses every line of an OPERLOG-style body.
pub fn parse_operlog(body: &[u8]) -> Vec<Parsed<OperLine>> {
    lines(body)
        .map(|(line_no, raw)| Parsed {
            line_no,
            raw: raw.to_vec(),
            result: parse_oper_line(raw),
        })
        .collect()
}

fn user_fields(u: &PushUser) -> String {
    format!(
        "PIN={}\tName={}\tPri={}\tPasswd={}\tCard={}\tGrp={}\tTZ=0000000000000000\tVerify=0",
        u.pin,
        clean(&u.name),
        u.privilege,
        clean(&u.password),
        clean(&u.card),
        clean(&u.group)
    )
}

fn template_fields(t: &PushTemplate) -> String {
    format!(
        "PIN={}\tFID={}\tSize={}\tValid={}\tTMP={}",
        t.pin, t.fid, t.size, t.valid, t.tmp
    )
}

/// Tabs and line breaks would split a field; they become spaces.
fn clean(s: &str) -> String {
    s.replace(['\t', '\r', '\n'], " ")
}

/// Formats a user as an OPERLOG line (`USER PIN=..`).
pub fn format_user_line(u: &PushUser) -> String {
    format!("USER {}", user_fields(u))
}

/// Formats a template as an OPERLOG line (`FP PIN=..`).
pub fn format_fp_line(t: &PushTemplate) -> String {
    format!("FP {}", template_fields(t))
}

/// A command the gateway queues for a push reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `DATA UPDATE USERINFO PIN=..\tName=..`: create or rename a user.
    UpdateUser(PushUser),
    /// `DATA DELETE USERINFO PIN=..`: remove a user and their fingerprints.
    DeleteUser {
        /// User id.
        pin: String,
    },
    /// `DATA UPDATE FINGERTMP PIN=..\tFID=..\tSize=..\tValid=..\tTMP=..`: store a template.
    UpdateTemplate(PushTemplate),
    /// `SET OPTION key=value`; the gateway sets the clock with `DateTime=YYYY-MM-DD HH:MM:SS`.
    SetOption {
        /// Option name.
        key: String,
        /// Value.
        value: String,
    },
    /// `CHECK`: the reader re-runs its handshake (re-reads options and stamps).
    Check,
    /// `INFO`: the reader reports its counts and versions.
    Info,
    /// `REBOOT`.
    Reboot,
    /// Anything else, kept as text.
    Other(String),
}

impl Command {
    /// The command text after `C:<id>:`.
    pub fn to_wire(&self) -> String {
        match self {
            Command::UpdateUser(u) => format!("DATA UPDATE USERINFO {}", user_fields(u)),
            Command::DeleteUser { pin } => format!("DATA DELETE USERINFO PIN={pin}"),
            Command::UpdateTemplate(t) => {
                format!("DATA UPDATE FINGERTMP {}", template_fields(t))
            }
            Command::SetOption { key, value } => format!("SET OPTION {key}={}", clean(value)),
            Command::Check => "CHECK".into(),
            Command::Info => "INFO".into(),
            Command::Reboot => "REBOOT".into(),
            Command::Other(s) => clean(s),
        }
    }

    /// The short name reported back in `CMD=` (`DATA`, `SET OPTION`, `CHECK`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Command::UpdateUser(_) | Command::DeleteUser { .. } | Command::UpdateTemplate(_) => {
                "DATA"
            }
            Command::SetOption { .. } => "SET OPTION",
            Command::Check => "CHECK",
            Command::Info => "INFO",
            Command::Reboot => "REBOOT",
            Command::Other(_) => "UNKNOWN",
        }
    }

    /// Parses the command text after `C:<id>:`.
    pub fn parse(s: &str) -> Command {
        let s = s.trim_end_matches(['\r', '\n']);
        let other = || Command::Other(s.to_string());
        if let Some(rest) = s.strip_prefix("DATA UPDATE USERINFO ") {
            return parse_user_fields(rest)
                .map(Command::UpdateUser)
                .unwrap_or_else(|_| other());
        }
        if let Some(rest) = s.strip_prefix("DATA DELETE USERINFO ") {
            let kv = key_values(rest);
            return match get(&kv, "PIN").map(pin) {
                Some(Ok(pin)) => Command::DeleteUser { pin },
                _ => other(),
            };
        }
        if let Some(rest) = s.strip_prefix("DATA UPDATE FINGERTMP ") {
            return parse_template_fields(rest)
                .map(Command::UpdateTemplate)
                .unwrap_or_else(|_| other());
        }
        if let Some(rest) = s.strip_prefix("SET OPTION ") {
            return match rest.split_once('=') {
                Some((k, v)) => Command::SetOption {
                    key: k.trim().to_string(),
                    value: v.to_string(),
                },
                None => other(),
            };
        }
        match s {
            "CHECK" => Command::Check,
            "INFO" => Command::Info,
            "REBOOT" => Command::Reboot,
            _ => other(),
        }
    }
}

/// Formats one queued command as served by `GET /iclock/getrequest`.
pub fn format_request(id: u64, cmd: &Command) -> String {
    format!("C:{id}:{}", cmd.to_wire())
}

/// Parses a `getrequest` answer: `OK` (nothing queued) or `C:<id>:<command>` lines.
pub fn parse_requests(body: &[u8]) -> Vec<(u64, Command)> {
    lines(body)
        .filter_map(|(_, raw)| {
            let s = std::str::from_utf8(raw).ok()?;
            let rest = s.strip_prefix("C:")?;
            let (id, cmd) = rest.split_once(':')?;
            Some((id.trim().parse().ok()?, Command::parse(cmd)))
        })
        .collect()
}

/// The outcome of one command, as posted to `/iclock/devicecmd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// The command id from `C:<id>:`.
    pub id: u64,
    /// 0 success; −1 bad parameter; −10 no such user; other negative values are errors.
    pub ret: i32,
    /// The command name (`DATA`, `SET OPTION`, ...).
    pub cmd: String,
}

/// Formats a result line: `ID=<id>&Return=<code>&CMD=<name>`.
pub fn format_result(r: &CommandResult) -> String {
    format!("ID={}&Return={}&CMD={}", r.id, r.ret, r.cmd)
}

/// Parses a `devicecmd` body: one `ID=..&Return=..&CMD=..` per line.
pub fn parse_results(body: &[u8]) -> Vec<Parsed<CommandResult>> {
    lines(body)
        .map(|(line_no, raw)| Parsed {
            line_no,
            raw: raw.to_vec(),
            result: text(raw).and_then(parse_result_line),
        })
        .collect()
}

fn parse_result_line(s: &str) -> Result<CommandResult, LineError> {
    let kv: Vec<(&str, &str)> = s.split('&').filter_map(|kv| kv.split_once('=')).collect();
    let id = number("ID", get(&kv, "ID").ok_or(LineError::Missing("ID"))?)?;
    let ret = number(
        "Return",
        get(&kv, "Return").ok_or(LineError::Missing("Return"))?,
    )?;
    Ok(CommandResult {
        id,
        ret,
        cmd: get(&kv, "CMD").unwrap_or("").chars().take(32).collect(),
    })
}

/// The options the gateway answers the handshake (`GET /iclock/cdata?options=all`) with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Last ATTLOG stamp stored for this reader ("0" = send everything).
    pub attlog_stamp: String,
    /// Last OPERLOG stamp stored.
    pub operlog_stamp: String,
    /// Seconds to wait after a failed request.
    pub error_delay_s: u32,
    /// Seconds between `getrequest` polls.
    pub delay_s: u32,
    /// Minutes between batched uploads when not real-time.
    pub trans_interval_min: u32,
    /// Push each punch as it happens.
    pub realtime: bool,
    /// Office offset from UTC, hours (7 WIB, 8 WITA, 9 WIT).
    pub timezone_hours: i32,
    /// Server version string.
    pub server_version: String,
}

impl ServerOptions {
    /// The handshake body.
    pub fn to_body(&self, serial: &str) -> String {
        let mut s = format!("GET OPTION FROM: {serial}\n");
        let lines = [
            format!("ATTLOGStamp={}", self.attlog_stamp),
            format!("OPERLOGStamp={}", self.operlog_stamp),
            "ATTPHOTOStamp=None".into(),
            format!("ErrorDelay={}", self.error_delay_s),
            format!("Delay={}", self.delay_s),
            "TransTimes=00:00;14:05".into(),
            format!("TransInterval={}", self.trans_interval_min),
            "TransFlag=TransData AttLog\tOpLog\tEnrollUser\tChgUser\tEnrollFP\tChgFP\tUserPic"
                .into(),
            format!("TimeZone={}", self.timezone_hours),
            format!("Realtime={}", u8::from(self.realtime)),
            "Encrypt=None".into(),
            format!("ServerVer={}", self.server_version),
            "PushProtVer=2.4.1".into(),
        ];
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }
}

/// Parses a handshake body into `key=value` pairs (the first line names the serial).
pub fn parse_options(body: &[u8]) -> Vec<(String, String)> {
    lines(body)
        .filter_map(|(_, raw)| {
            let s = std::str::from_utf8(raw).ok()?;
            let (k, v) = s.split_once('=')?;
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

impl fmt::Display for AttLogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_attlog_line(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> ZkDateTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn a_push_attlog_line_parses_status_then_verify() {
        let l =
            parse_attlog_line(b"1\t2026-11-23 07:31:02\t0\t1\t0\t0\t0", ColumnOrder::Push).unwrap();
        assert_eq!(l.pin, "1");
        assert_eq!(l.time, t("2026-11-23 07:31:02"));
        assert_eq!((l.state, l.verify), (0, 1));
    }

    #[test]
    fn a_usb_line_with_padding_parses_verify_then_state() {
        let l = parse_attlog_line(
            b"      123\t2026-11-23 07:31:02\t1\t0\t0\t0\r",
            ColumnOrder::UsbDat,
        )
        .unwrap();
        assert_eq!(l.pin, "123");
        assert_eq!((l.state, l.verify), (0, 1));
    }

    #[test]
    fn formatted_lines_parse_back_to_the_same_punch() {
        let l = AttLogLine {
            pin: "198703152010011002".into(),
            time: t("2026-11-23 16:02:59"),
            state: 1,
            verify: 15,
            workcode: "0".into(),
        };
        let push = format_attlog_line(&l);
        assert_eq!(
            parse_attlog_line(push.as_bytes(), ColumnOrder::Push).unwrap(),
            l
        );
        let usb = format_usb_line(&l);
        assert_eq!(
            parse_attlog_line(usb.as_bytes(), ColumnOrder::UsbDat).unwrap(),
            l
        );
    }

    #[test]
    fn malformed_lines_are_rejected_with_a_reason_and_the_rest_kept() {
        let body = b"1\t2026-11-23 07:31:02\t0\t1\t0\t0\t0\n\
                     2\t2026-13-23 07:31:02\t0\t1\n\
                     \n\
                     3\t2026-11-23 07:31:05\n\
                     4;drop\t2026-11-23 07:31:05\t0\t1\n\
                     5\t2026-11-23 07:31:06\t999\t1\n\
                     6\t2026-11-23 07:31:07\t1\t1\t0\t0\t0\n";
        let parsed = parse_attlog(body, ColumnOrder::Push);
        let ok: Vec<usize> = parsed
            .iter()
            .filter(|p| p.result.is_ok())
            .map(|p| p.line_no)
            .collect();
        assert_eq!(ok, vec![1, 7]);
        let errs: Vec<String> = parsed
            .iter()
            .filter_map(|p| {
                p.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", p.line_no))
            })
            .collect();
        assert!(errs[0].starts_with("2: bad time"), "{errs:?}");
        assert!(errs[1].starts_with("4: expected at least 4"), "{errs:?}");
        assert!(errs[2].starts_with("5: bad PIN"), "{errs:?}");
        assert!(errs[3].starts_with("6: bad status"), "{errs:?}");
    }

    #[test]
    fn user_and_fingerprint_lines_round_trip() {
        let u = PushUser {
            pin: "42".into(),
            name: "Siti Aminah".into(),
            privilege: 0,
            ..Default::default()
        };
        assert_eq!(
            parse_oper_line(format_user_line(&u).as_bytes()).unwrap(),
            OperLine::User(u.clone())
        );
        let fp = PushTemplate {
            pin: "42".into(),
            fid: 6,
            size: 6,
            valid: 1,
            tmp: "SGFkaXIh".into(),
        };
        assert_eq!(
            parse_oper_line(format_fp_line(&fp).as_bytes()).unwrap(),
            OperLine::Fp(fp.clone())
        );
        assert!(matches!(
            parse_oper_line(b"FP PIN=42\tFID=6\tTMP=not base64!"),
            Err(LineError::Template(_))
        ));
    }

    #[test]
    fn commands_survive_the_wire() {
        let cmds = [
            Command::UpdateUser(PushUser {
                pin: "7".into(),
                name: "Budi".into(),
                ..Default::default()
            }),
            Command::DeleteUser { pin: "7".into() },
            Command::UpdateTemplate(PushTemplate {
                pin: "7".into(),
                fid: 0,
                size: 3,
                valid: 1,
                tmp: "QUJD".into(),
            }),
            Command::SetOption {
                key: "DateTime".into(),
                value: "2026-11-23 07:00:00".into(),
            },
            Command::Check,
        ];
        let body: String = cmds
            .iter()
            .enumerate()
            .map(|(i, c)| format_request(i as u64 + 10, c) + "\n")
            .collect();
        let back = parse_requests(body.as_bytes());
        assert_eq!(back.len(), cmds.len());
        for (i, (id, c)) in back.iter().enumerate() {
            assert_eq!(*id, i as u64 + 10);
            assert_eq!(c, &cmds[i]);
        }
        assert!(parse_requests(b"OK").is_empty());
    }

    #[test]
    fn command_results_parse_per_line() {
        let r =
            parse_results(b"ID=12&Return=0&CMD=DATA\nID=x&Return=0\nID=13&Return=-10&CMD=DATA\n");
        assert_eq!(
            r[0].result,
            Ok(CommandResult {
                id: 12,
                ret: 0,
                cmd: "DATA".into()
            })
        );
        assert!(r[1].result.is_err());
        assert_eq!(r[2].result.as_ref().map(|c| c.ret), Ok(-10));
    }

    #[test]
    fn handshake_options_list_the_stamps_and_time_zone() {
        let o = ServerOptions {
            attlog_stamp: "9999".into(),
            operlog_stamp: "0".into(),
            error_delay_s: 30,
            delay_s: 10,
            trans_interval_min: 1,
            realtime: true,
            timezone_hours: 8,
            server_version: "hadir-0.1.0".into(),
        };
        let body = o.to_body("CKJ1234");
        assert!(body.starts_with("GET OPTION FROM: CKJ1234\n"));
        let kv = parse_options(body.as_bytes());
        let get = |k: &str| kv.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ATTLOGStamp"), Some("9999"));
        assert_eq!(get("TimeZone"), Some("8"));
        assert_eq!(get("Realtime"), Some("1"));
        assert_eq!(get("Delay"), Some("10"));
    }
}
