//! A ZKTeco reader simulator serving the binary protocol over TCP and UDP on
//! one port, with fault injection, for tests, benchmarks and field rehearsal.
//!
//! It answers as the fact sheet describes real readers: the session id comes
//! in the CONNECT reply, reply ids are echoed, ACK_UNAUTH asks for the comm
//! key, and READ_BUFFER is answered by PREPARE_DATA, DATA and ACK_OK.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::client::Transport;
use super::codec::{self, cmd, fct, Packet, ZkDateTime};
use super::records::{
    self, AttendanceRecord, DeviceCounts, FingerTemplate, LiveEvent, LiveEventFormat, RecordLayout,
    User, UserLayout, MAX_DATASET,
};

/// Most UDP peers tracked at once; older sessions are forgotten beyond this.
const MAX_UDP_SESSIONS: usize = 1024;
/// Largest DATA payload per datagram on UDP.
const UDP_DATA_MAX: usize = 1024;
/// Fingerprint capacity reported by GET_FREE_SIZES.
const FINGER_CAPACITY: u32 = 3000;

/// Faults to inject into the simulator's replies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Sleep this long before sending each reply.
    pub reply_delay: Duration,
    /// Silently drop every n-th outgoing UDP datagram.
    pub drop_every_nth_udp: Option<u32>,
    /// Reset each TCP connection (RST) after it has carried this many bytes to the client.
    pub reset_after_bytes: Option<usize>,
    /// Replace every n-th outgoing packet (either transport) with random bytes.
    pub garbage_every_nth: Option<u32>,
}

/// Everything the simulated reader holds and how it behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to serve on (TCP and UDP share the port); port 0 picks a free one.
    pub listen: SocketAddr,
    /// Enrolled users.
    pub users: Vec<User>,
    /// Attendance log.
    pub records: Vec<AttendanceRecord>,
    /// Fingerprint templates enrolled at start (keyed by user slot `uid`).
    pub templates: Vec<FingerTemplate>,
    /// Comm key; 0 = none (CONNECT answers ACK_OK instead of ACK_UNAUTH).
    pub comm_key: u32,
    /// User record layout served (28 or 72 bytes).
    pub user_layout: UserLayout,
    /// Attendance record layout served (8, MA300 8, 16, 40 or 49-stride).
    pub record_layout: RecordLayout,
    /// Shape of live-event payloads.
    pub event_format: LiveEventFormat,
    /// `~SerialNumber`.
    pub serial: String,
    /// `~Platform`.
    pub platform: String,
    /// `~DeviceName`.
    pub device_name: String,
    /// GET_VERSION string.
    pub firmware: String,
    /// Injected faults.
    pub faults: Faults,
    /// Device clock = host UTC clock + this many seconds.
    pub clock_offset_secs: i64,
    /// Datasets up to this many bytes are answered inline with one DATA packet.
    pub inline_data_max: usize,
    /// On TCP, split each chunk into DATA frames of this many bytes with the
    /// frame index in the session field (a quirk of real captures).
    pub tcp_data_frame: Option<usize>,
    /// Pause between PREPARE_DATA and its DATA on TCP (clients that read the
    /// reply with one fixed-size `recv`, like pyzk, need the first frame alone).
    pub tcp_prepare_gap: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: Vec::new(),
            records: Vec::new(),
            templates: Vec::new(),
            comm_key: 0,
            user_layout: UserLayout::Zk8,
            record_layout: RecordLayout::Full40,
            event_format: LiveEventFormat::Long36,
            serial: "HADIRSIM0001".into(),
            platform: "ZMM220_TFT".into(),
            device_name: "Hadir Sim".into(),
            firmware: "Ver 6.60 Apr 28 2017".into(),
            faults: Faults::default(),
            clock_offset_secs: 0,
            inline_data_max: 0,
            tcp_data_frame: None,
            tcp_prepare_gap: Duration::from_millis(1),
        }
    }
}

/// Where a live-registered session receives events.
enum LiveSink {
    Tcp(mpsc::Sender<Packet>),
    Udp(SocketAddr),
}

struct DeviceState {
    users: Vec<User>,
    records: Vec<AttendanceRecord>,
    templates: Vec<FingerTemplate>,
    enabled: bool,
    clock_offset: i64,
    next_session: u16,
    live: HashMap<u16, LiveSink>,
    events_acked: u64,
    sessions_opened: u64,
    faults: Faults,
}

struct Settings {
    comm_key: u32,
    user_layout: UserLayout,
    record_layout: RecordLayout,
    event_format: LiveEventFormat,
    serial: String,
    platform: String,
    device_name: String,
    firmware: String,
    inline_data_max: usize,
    tcp_data_frame: Option<usize>,
    tcp_prepare_gap: Duration,
}

struct Shared {
    settings: Settings,
    state: Mutex<DeviceState>,
    udp: Arc<UdpSocket>,
    packets_sent: AtomicU64,
    udp_sent: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, DeviceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    fn device_time(&self) -> ZkDateTime {
        let offset = self.state().clock_offset;
        ZkDateTime::from_civil_seconds(host_now() + offset).unwrap_or(ZkDateTime::EPOCH)
    }

    /// Whether the next outgoing packet should be replaced with garbage.
    fn garbage_now(&self, faults: &Faults) -> bool {
        let n = self.packets_sent.fetch_add(1, Ordering::Relaxed) + 1;
        matches!(faults.garbage_every_nth, Some(k) if k > 0 && n % u64::from(k) == 0)
    }
}

fn host_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Deterministic junk that never starts like a TCP frame.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out: Vec<u8> = (0..len.max(8))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    out[0] = 0xEE;
    out
}

/// Per-session protocol state.
struct Session {
    id: u16,
    authed: bool,
    /// Dataset prepared for READ_BUFFER.
    buffer: Option<Vec<u8>>,
    /// Buffered write in progress: declared size and the bytes received so far.
    upload: Option<(usize, Vec<u8>)>,
}

/// Inserts or replaces the template of one user and finger.
fn upsert_template(templates: &mut Vec<FingerTemplate>, t: FingerTemplate) {
    match templates
        .iter_mut()
        .find(|x| x.uid == t.uid && x.fid == t.fid)
    {
        Some(slot) => *slot = t,
        None => templates.push(t),
    }
}

/// Applies a CMD_SAVE_USERTEMPS upload; false when it is malformed or names unknown users.
fn save_upload(st: &mut DeviceState, buf: &[u8], layout: UserLayout) -> bool {
    let Ok(up) = records::parse_template_upload(buf, layout) else {
        return false;
    };
    let known =
        |uid: u16| up.users.iter().any(|u| u.uid == uid) || st.users.iter().any(|u| u.uid == uid);
    if !up.templates.iter().all(|t| known(t.uid)) {
        return false;
    }
    for user in up.users {
        match st.users.iter_mut().find(|u| u.uid == user.uid) {
            Some(slot) => *slot = user,
            None => st.users.push(user),
        }
    }
    for t in up.templates {
        upsert_template(&mut st.templates, t);
    }
    true
}

/// What to send back for one request.
#[derive(Default)]
struct Reply {
    packets: Vec<Packet>,
    /// Send the first packet alone, pause, then the rest (PREPARE_DATA on TCP).
    gap_after_first: bool,
    close: bool,
}

impl Reply {
    fn one(p: Packet) -> Self {
        Self {
            packets: vec![p],
            ..Self::default()
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Handles one request packet; `live` makes the sink for REG_EVENT.
fn handle(
    shared: &Shared,
    session: &mut Option<Session>,
    req: &Packet,
    transport: Transport,
    live: impl FnOnce() -> LiveSink,
) -> Reply {
    let s = &shared.settings;
    let sid = session.as_ref().map_or(0, |x| x.id);
    let ack = |code: u16, payload: Vec<u8>| Packet::new(code, sid, req.reply, payload);
    if req.command == cmd::CONNECT {
        let mut st = shared.state();
        st.next_session = st.next_session.wrapping_add(0x1F3).max(1);
        st.sessions_opened += 1;
        let id = st.next_session;
        *session = Some(Session {
            id,
            authed: s.comm_key == 0,
            buffer: None,
            upload: None,
        });
        let code = if s.comm_key == 0 {
            cmd::ACK_OK
        } else {
            cmd::ACK_UNAUTH
        };
        return Reply::one(Packet::new(code, id, req.reply, Vec::new()));
    }
    if req.command == cmd::ACK_OK {
        // A client acknowledging a live event: no reply.
        shared.state().events_acked += 1;
        return Reply::default();
    }
    let Some(sess) = session.as_mut() else {
        return Reply::one(ack(cmd::ACK_UNAUTH, Vec::new()));
    };
    match req.command {
        cmd::AUTH => {
            if codec::commkey_matches(&req.payload, s.comm_key, sess.id) {
                sess.authed = true;
                return Reply::one(ack(cmd::ACK_OK, Vec::new()));
            }
            return Reply::one(ack(cmd::ACK_UNAUTH, Vec::new()));
        }
        cmd::EXIT => {
            shared.state().live.remove(&sess.id);
            *session = None;
            return Reply {
                packets: vec![ack(cmd::ACK_OK, Vec::new())],
                gap_after_first: false,
                close: true,
            };
        }
        _ if !sess.authed => return Reply::one(ack(cmd::ACK_UNAUTH, Vec::new())),
        _ => {}
    }
    let ok = || Reply::one(ack(cmd::ACK_OK, Vec::new()));
    let err = || Reply::one(ack(cmd::ACK_ERROR, Vec::new()));
    match req.command {
        cmd::ENABLEDEVICE => {
            shared.state().enabled = true;
            ok()
        }
        cmd::DISABLEDEVICE => {
            shared.state().enabled = false;
            ok()
        }
        cmd::RESTART
        | cmd::POWEROFF
        | cmd::REFRESHDATA
        | cmd::TESTVOICE
        | cmd::CANCELCAPTURE
        | cmd::STARTVERIFY
        | cmd::OPTIONS_WRQ
        | cmd::UNLOCK
        | cmd::WRITE_LCD => ok(),
        cmd::GET_VERSION => {
            let mut v = s.firmware.as_bytes().to_vec();
            v.push(0);
            Reply::one(ack(cmd::ACK_OK, v))
        }
        cmd::OPTIONS_RRQ => {
            let key = req.payload.split(|&b| b == 0).next().unwrap_or(&[]);
            let key = String::from_utf8_lossy(key);
            let value = match key.as_ref() {
                "~SerialNumber" => s.serial.clone(),
                "~Platform" => s.platform.clone(),
                "~DeviceName" => s.device_name.clone(),
                "~ZKFPVersion" => "10".into(),
                "~ExtendFmt" | "~UserExtFmt" | "FaceFunOn" | "CompatOldFirmware" => "0".into(),
                "~OS" => "1".into(),
                _ => return err(),
            };
            let mut v = format!("{key}={value}").into_bytes();
            v.push(0);
            Reply::one(ack(cmd::ACK_OK, v))
        }
        cmd::GET_FREE_SIZES => {
            let st = shared.state();
            let users = st.users.len() as u32;
            let recs = st.records.len() as u32;
            let fingers = st.templates.len() as u32;
            let counts = DeviceCounts {
                users,
                fingers,
                records: recs,
                admins: st.users.iter().filter(|u| u.privilege & !1 == 14).count() as u32,
                finger_capacity: FINGER_CAPACITY.max(fingers),
                user_capacity: 10_000.max(users),
                record_capacity: 200_000.max(recs),
                fingers_available: FINGER_CAPACITY.saturating_sub(fingers),
                users_available: 10_000u32.saturating_sub(users),
                records_available: 200_000u32.saturating_sub(recs),
                faces: Some(0),
                face_capacity: Some(0),
                ..DeviceCounts::default()
            };
            Reply::one(ack(cmd::ACK_OK, counts.encode()))
        }
        cmd::PREPARE_BUFFER => {
            let Some(b) = req.payload.get(1..3) else {
                return err();
            };
            let what = u16::from_le_bytes([b[0], b[1]]);
            let fct = u32_at(&req.payload, 3).unwrap_or(0);
            let body = {
                let st = shared.state();
                match (what, fct) {
                    (cmd::ATTLOG_RRQ, _) => {
                        records::encode_attendance(&st.records, s.record_layout)
                    }
                    (cmd::USERTEMP_RRQ, 5) => records::encode_users(&st.users, s.user_layout),
                    (cmd::DB_RRQ | cmd::USERTEMP_RRQ, 2) => {
                        records::encode_templates(&st.templates)
                    }
                    (cmd::USERTEMP_RRQ | cmd::DB_RRQ, _) => Ok(Vec::new()),
                    _ => return err(),
                }
            };
            let Ok(body) = body else {
                return err();
            };
            let data = records::dataset_with_prefix(&body);
            if data.len() <= s.inline_data_max {
                sess.buffer = None;
                return Reply::one(ack(cmd::DATA, data));
            }
            let size = (data.len() as u32).to_le_bytes();
            let mut p = vec![0u8];
            p.extend_from_slice(&size);
            p.extend_from_slice(&size);
            p.extend_from_slice(&0u32.to_le_bytes());
            sess.buffer = Some(data);
            Reply::one(ack(cmd::ACK_OK, p))
        }
        cmd::READ_BUFFER => {
            let (Some(start), Some(len)) = (u32_at(&req.payload, 0), u32_at(&req.payload, 4))
            else {
                return err();
            };
            let Some(buf) = sess.buffer.as_ref() else {
                return err();
            };
            let start = start as usize;
            let end = start.saturating_add(len as usize).min(buf.len());
            if start >= end {
                return err();
            }
            let chunk = &buf[start..end];
            let mut prep = (chunk.len() as u32).to_le_bytes().to_vec();
            prep.extend_from_slice(&1008u32.to_le_bytes());
            let mut packets = vec![ack(cmd::PREPARE_DATA, prep)];
            let frame = match transport {
                Transport::Udp => Some(UDP_DATA_MAX),
                Transport::Tcp => s.tcp_data_frame.filter(|&n| n > 0),
            };
            match frame {
                Some(n) => {
                    for (i, piece) in chunk.chunks(n).enumerate() {
                        let session_field = match transport {
                            Transport::Tcp => i as u16,
                            Transport::Udp => sid,
                        };
                        packets.push(Packet::new(
                            cmd::DATA,
                            session_field,
                            req.reply,
                            piece.to_vec(),
                        ));
                    }
                }
                None => packets.push(ack(cmd::DATA, chunk.to_vec())),
            }
            packets.push(ack(cmd::ACK_OK, Vec::new()));
            Reply {
                packets,
                gap_after_first: transport == Transport::Tcp,
                close: false,
            }
        }
        cmd::FREE_DATA => {
            sess.buffer = None;
            sess.upload = None;
            ok()
        }
        cmd::PREPARE_DATA => match u32_at(&req.payload, 0) {
            Some(size) if size as usize <= MAX_DATASET => {
                sess.upload = Some((size as usize, Vec::new()));
                ok()
            }
            _ => err(),
        },
        cmd::DATA => match sess.upload.as_mut() {
            Some((size, data)) if data.len() + req.payload.len() <= *size => {
                data.extend_from_slice(&req.payload);
                ok()
            }
            _ => {
                sess.upload = None;
                err()
            }
        },
        cmd::SAVE_USERTEMPS => {
            let Some((size, data)) = sess.upload.take() else {
                return err();
            };
            if data.len() != size || !save_upload(&mut shared.state(), &data, s.user_layout) {
                return err();
            }
            ok()
        }
        cmd::DELETE_USERTEMP => {
            let (Some(b), Some(&fid)) = (req.payload.get(..2), req.payload.get(2)) else {
                return err();
            };
            let uid = u16::from_le_bytes([b[0], b[1]]);
            let mut st = shared.state();
            let before = st.templates.len();
            st.templates.retain(|t| !(t.uid == uid && t.fid == fid));
            if st.templates.len() == before {
                return err();
            }
            ok()
        }
        cmd::GET_TIME => {
            let t = shared.device_time().to_zk();
            Reply::one(ack(cmd::ACK_OK, t.to_le_bytes().to_vec()))
        }
        cmd::SET_TIME => {
            let t = u32_at(&req.payload, 0).map(ZkDateTime::from_zk);
            match t {
                Some(Ok(t)) => {
                    shared.state().clock_offset = t.to_civil_seconds() - host_now();
                    ok()
                }
                _ => err(),
            }
        }
        cmd::CLEAR_ATTLOG => {
            shared.state().records.clear();
            ok()
        }
        cmd::CLEAR_DATA => {
            let mut st = shared.state();
            match req.payload.first().map(|&b| i32::from(b)) {
                Some(fct::ATTLOG) => st.records.clear(),
                Some(fct::FINGERTMP) => st.templates.clear(),
                Some(fct::USER) => {
                    st.users.clear();
                    st.templates.clear();
                }
                _ => {
                    st.users.clear();
                    st.records.clear();
                    st.templates.clear();
                }
            }
            ok()
        }
        cmd::USER_WRQ => {
            let parsed = UserLayout::from_record_size(req.payload.len())
                .map(|l| records::parse_user(&req.payload, l));
            let Some(Ok(user)) = parsed else {
                return err();
            };
            if records::encode_user(&user, s.user_layout).is_err() {
                return err();
            }
            let mut st = shared.state();
            match st.users.iter_mut().find(|u| u.uid == user.uid) {
                Some(slot) => *slot = user,
                None => st.users.push(user),
            }
            ok()
        }
        cmd::DELETE_USER => {
            let Some(b) = req.payload.get(..2) else {
                return err();
            };
            let uid = u16::from_le_bytes([b[0], b[1]]);
            let mut st = shared.state();
            st.users.retain(|u| u.uid != uid);
            st.templates.retain(|t| t.uid != uid);
            ok()
        }
        cmd::REG_EVENT => {
            let mask = u32_at(&req.payload, 0).unwrap_or(0);
            let mut st = shared.state();
            if mask == 0 {
                st.live.remove(&sess.id);
            } else {
                st.live.insert(sess.id, live());
            }
            ok()
        }
        _ => Reply::one(ack(cmd::ACK_UNKNOWN, Vec::new())),
    }
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds TCP and UDP on the same port and starts serving.
    pub async fn start(cfg: SimConfig) -> io::Result<SimHandle> {
        let (listener, udp) = bind_pair(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let udp = Arc::new(udp);
        let shared = Arc::new(Shared {
            settings: Settings {
                comm_key: cfg.comm_key,
                user_layout: cfg.user_layout,
                record_layout: cfg.record_layout,
                event_format: cfg.event_format,
                serial: cfg.serial,
                platform: cfg.platform,
                device_name: cfg.device_name,
                firmware: cfg.firmware,
                inline_data_max: cfg.inline_data_max,
                tcp_data_frame: cfg.tcp_data_frame,
                tcp_prepare_gap: cfg.tcp_prepare_gap,
            },
            state: Mutex::new(DeviceState {
                users: cfg.users,
                records: cfg.records,
                templates: cfg.templates,
                enabled: true,
                clock_offset: cfg.clock_offset_secs,
                next_session: 0x45CF,
                live: HashMap::new(),
                events_acked: 0,
                sessions_opened: 0,
                faults: cfg.faults,
            }),
            udp: udp.clone(),
            packets_sent: AtomicU64::new(0),
            udp_sent: AtomicU64::new(0),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let tcp_task = tokio::spawn(serve_tcp(listener, shared.clone(), stop_rx.clone()));
        let udp_task = tokio::spawn(serve_udp(udp, shared.clone(), stop_rx));
        tracing::info!(%addr, "ZK simulator listening (TCP+UDP)");
        Ok(SimHandle {
            addr,
            shared,
            stop: stop_tx,
            tasks: vec![tcp_task, udp_task],
        })
    }
}

async fn bind_pair(listen: SocketAddr) -> io::Result<(TcpListener, UdpSocket)> {
    let mut last = None;
    for _ in 0..16 {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        match UdpSocket::bind(addr).await {
            Ok(udp) => return Ok((listener, udp)),
            Err(e) if listen.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("could not bind TCP and UDP on one port")))
}

/// A running simulator: its address, state accessors and controls.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Address served (TCP and UDP share it).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP address (same as [`SimHandle::addr`]).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.addr
    }

    /// UDP address (same as [`SimHandle::addr`]).
    pub fn udp_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Records a punch and delivers it as a live event to every registered
    /// session; returns how many sessions it was sent to.
    pub fn push_live_event(&self, record: AttendanceRecord) -> usize {
        let s = &self.shared.settings;
        let ev = LiveEvent {
            user_id: record.user_id.clone(),
            status: record.status,
            punch: record.punch,
            time: record.time,
        };
        let payload = match records::encode_live_event(&ev, s.event_format) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode live event in the configured format");
                return 0;
            }
        };
        let mut st = self.shared.state();
        st.records.push(record);
        let mut delivered = 0;
        for sink in st.live.values() {
            // The event code (1 = attendance) travels in the session field; reply id 0.
            let packet = Packet::new(cmd::REG_EVENT, 1, 0, payload.clone());
            let sent = match sink {
                LiveSink::Tcp(tx) => tx.try_send(packet).is_ok(),
                LiveSink::Udp(peer) => self.shared.udp.try_send_to(&packet.encode(), *peer).is_ok(),
            };
            delivered += usize::from(sent);
        }
        delivered
    }

    /// Users currently stored.
    pub fn users(&self) -> Vec<User> {
        self.shared.state().users.clone()
    }

    /// Attendance records currently stored.
    pub fn records(&self) -> Vec<AttendanceRecord> {
        self.shared.state().records.clone()
    }

    /// Fingerprint templates currently stored.
    pub fn templates(&self) -> Vec<FingerTemplate> {
        self.shared.state().templates.clone()
    }

    /// Enrols (or re-enrols) a finger on the reader, as if at its sensor.
    pub fn enroll(&self, template: FingerTemplate) {
        upsert_template(&mut self.shared.state().templates, template);
    }

    /// The simulated reader's clock now.
    pub fn device_time(&self) -> ZkDateTime {
        self.shared.device_time()
    }

    /// Whether the reader is enabled (not locked by DISABLEDEVICE).
    pub fn is_enabled(&self) -> bool {
        self.shared.state().enabled
    }

    /// Live events acknowledged by clients so far.
    pub fn events_acked(&self) -> u64 {
        self.shared.state().events_acked
    }

    /// Sessions opened (CONNECT requests) so far.
    pub fn sessions_opened(&self) -> u64 {
        self.shared.state().sessions_opened
    }

    /// Sessions currently registered for live events.
    pub fn live_sessions(&self) -> usize {
        self.shared.state().live.len()
    }

    /// Moves the reader's clock by `secs` (a drifting or mis-set clock).
    pub fn skew_clock(&self, secs: i64) {
        self.shared.state().clock_offset += secs;
    }

    /// Replaces the fault settings (takes effect for the next packets).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.state().faults = faults;
    }

    /// Stops serving and waits for the listeners to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.retain(|c| !c.is_finished());
                    conns.push(tokio::spawn(serve_conn(stream, peer, shared.clone(), stop.clone())));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    // Wait until every connection's socket is closed, so that a new simulator can take over
    // this address as soon as `shutdown` returns.
    for c in &conns {
        c.abort();
    }
    for c in conns {
        let _ = c.await;
    }
}

/// Bytes-sent accounting for the reset fault on one TCP connection.
struct TcpOut {
    stream: TcpStream,
    sent: usize,
}

impl TcpOut {
    /// Writes bytes, honouring the reset-after-bytes fault. `Err` ends the connection.
    async fn write(&mut self, bytes: &[u8], faults: &Faults) -> io::Result<()> {
        if let Some(limit) = faults.reset_after_bytes {
            if self.sent + bytes.len() > limit {
                let allowed = limit.saturating_sub(self.sent);
                self.stream.write_all(&bytes[..allowed]).await?;
                self.stream.flush().await?;
                self.stream.set_zero_linger()?;
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "simulated reset",
                ));
            }
        }
        self.stream.write_all(bytes).await?;
        self.sent += bytes.len();
        Ok(())
    }
}

async fn send_tcp(
    out: &mut TcpOut,
    shared: &Shared,
    packets: &[Packet],
    gap_after_first: bool,
) -> io::Result<()> {
    let faults = shared.faults();
    if !faults.reply_delay.is_zero() {
        tokio::time::sleep(faults.reply_delay).await;
    }
    let mut bytes = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        if shared.garbage_now(&faults) {
            let n = codec::TCP_PREFIX_LEN + codec::HEADER_LEN + p.payload.len();
            bytes.extend_from_slice(&garbage(n, shared.packets_sent.load(Ordering::Relaxed)));
        } else {
            p.encode_tcp_into(&mut bytes);
        }
        let gap = gap_after_first && i == 0 && packets.len() > 1;
        if gap || i + 1 == packets.len() {
            out.write(&bytes, &faults).await?;
            bytes.clear();
            if gap && !shared.settings.tcp_prepare_gap.is_zero() {
                out.stream.flush().await?;
                tokio::time::sleep(shared.settings.tcp_prepare_gap).await;
            }
        }
    }
    Ok(())
}

async fn serve_conn(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut out = TcpOut { stream, sent: 0 };
    let (live_tx, mut live_rx) = mpsc::channel::<Packet>(256);
    let mut session: Option<Session> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let end = loop {
        // Serve every complete frame already buffered.
        let frame = match codec::decode_tcp_frame(&buf) {
            Ok(f) => f,
            Err(e) => break format!("bad frame: {e}"),
        };
        if let Some((req, used)) = frame {
            buf.drain(..used);
            let tx = live_tx.clone();
            let reply = handle(&shared, &mut session, &req, Transport::Tcp, move || {
                LiveSink::Tcp(tx)
            });
            if !reply.packets.is_empty() {
                if let Err(e) =
                    send_tcp(&mut out, &shared, &reply.packets, reply.gap_after_first).await
                {
                    break format!("write failed: {e}");
                }
            }
            if reply.close {
                break "EXIT".to_owned();
            }
            continue;
        }
        buf.reserve(8192);
        tokio::select! {
            _ = stop.changed() => break "shutdown".to_owned(),
            Some(ev) = live_rx.recv() => {
                if let Err(e) = send_tcp(&mut out, &shared, std::slice::from_ref(&ev), false).await {
                    break format!("write failed: {e}");
                }
            }
            read = out.stream.read_buf(&mut buf) => match read {
                Ok(0) => break "closed by client".to_owned(),
                Ok(_) => {}
                Err(e) => break format!("read failed: {e}"),
            },
        }
    };
    if let Some(s) = session {
        shared.state().live.remove(&s.id);
    }
    tracing::debug!(%peer, reason = %end, "simulator TCP connection ended");
}

async fn serve_udp(sock: Arc<UdpSocket>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = tokio::select! {
            _ = stop.changed() => break,
            got = sock.recv_from(&mut buf) => match got {
                Ok(x) => x,
                // ICMP port-unreachable from a vanished client surfaces here; ignore it.
                Err(_) => continue,
            },
        };
        let req = match codec::parse_packet(&buf[..n]) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "simulator dropped malformed datagram");
                continue;
            }
        };
        let mut session = sessions.remove(&peer);
        let reply = handle(&shared, &mut session, &req, Transport::Udp, || {
            LiveSink::Udp(peer)
        });
        if let Some(s) = session {
            if sessions.len() >= MAX_UDP_SESSIONS {
                sessions.clear();
            }
            sessions.insert(peer, s);
        }
        if reply.packets.is_empty() {
            continue;
        }
        let faults = shared.faults();
        if !faults.reply_delay.is_zero() {
            tokio::time::sleep(faults.reply_delay).await;
        }
        for p in &reply.packets {
            let nth = shared.udp_sent.fetch_add(1, Ordering::Relaxed) + 1;
            if matches!(faults.drop_every_nth_udp, Some(k) if k > 0 && nth % u64::from(k) == 0) {
                continue;
            }
            let bytes = if shared.garbage_now(&faults) {
                garbage(codec::HEADER_LEN + p.payload.len(), nth)
            } else {
                p.encode()
            };
            if let Err(e) = sock.send_to(&bytes, peer).await {
                tracing::debug!(%peer, error = %e, "simulator UDP send failed");
            }
        }
    }
}

/// `n` deterministic users (uids 1..=n, numeric user ids from 1001) that fit `layout`.
pub fn synthetic_users(n: usize, layout: UserLayout) -> Vec<User> {
    (1..=n.min(usize::from(u16::MAX)))
        .map(|i| {
            let name = match layout {
                UserLayout::Zk6 => format!("S{i}"),
                UserLayout::Zk8 => format!("Staff Member {i}"),
            };
            let mut u = User::new(i as u16, (1000 + i).to_string(), name);
            u.privilege = if i % 10 == 1 { 14 } else { 0 };
            u.password = if i % 3 == 0 {
                format!("{}", 1000 + i % 9000)
            } else {
                String::new()
            };
            u.card = (i as u32) * 7919;
            u.group = "1".into();
            u
        })
        .collect()
}

/// `per_user` deterministic templates (fingers 0, 1, …; 600–1100 bytes) for each of `users`.
pub fn synthetic_templates(users: &[User], per_user: usize) -> Vec<FingerTemplate> {
    users
        .iter()
        .flat_map(|u| {
            (0..per_user.min(10)).map(move |fid| {
                let len = 600 + (usize::from(u.uid) * 37 + fid * 101) % 500;
                let seed = u64::from(u.uid) << 8 | fid as u64;
                FingerTemplate {
                    uid: u.uid,
                    fid: fid as u8,
                    valid: 1,
                    template: garbage(len, seed),
                }
            })
        })
        .collect()
}

/// `n` deterministic punches cycling through `users`, 37 s apart from `start`.
pub fn synthetic_records(n: usize, users: &[User], start: ZkDateTime) -> Vec<AttendanceRecord> {
    let base = start.to_civil_seconds();
    (0..n)
        .map(|i| {
            let (uid, user_id) = match users.get(i % users.len().max(1)) {
                Some(u) => (u.uid, u.user_id.clone()),
                None => {
                    let uid = (i % 100 + 1) as u16;
                    (uid, uid.to_string())
                }
            };
            let time = ZkDateTime::from_civil_seconds(base + 37 * i as i64).unwrap_or(start);
            AttendanceRecord {
                uid,
                user_id,
                time,
                status: [1, 15, 4, 0][i % 4],
                punch: (i % 2) as u8,
                workcode: 0,
            }
        })
        .collect()
}
