//! Async client for ZKTeco readers over TCP or UDP (port 4370).
//!
//! One request is in flight at a time; bulk reads fetch one chunk at a time
//! (pipelining chunks times out on slow links). Every wait is bounded by
//! [`ClientOptions::timeout`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::codec::{self, cmd, fct, CodecError, Packet, ZkDateTime};
use super::records::{
    self, AttendanceRecord, DeviceCounts, FingerTemplate, RecordError, RecordLayout, User,
    UserLayout, MAX_DATASET,
};

/// Largest chunk requested per READ_BUFFER on TCP (as pyzk: below 64 KiB + header).
pub const TCP_CHUNK: usize = 0xFFC0;
/// Largest chunk requested per READ_BUFFER on UDP.
pub const UDP_CHUNK: usize = 16 * 1024;
/// Attempts per request on UDP (datagrams get lost); TCP never retries.
pub const UDP_ATTEMPTS: u32 = 3;
/// Event mask for attendance events (EF_ATTLOG).
pub const EF_ATTLOG: u32 = 1;
/// Largest DATA payload per packet of a buffered write (as pyzk and the fact sheet).
pub const WRITE_CHUNK: usize = 1024;
/// Payload of CMD_SAVE_USERTEMPS (`<IHH` 12, 0, 8 as pyzk sends it).
const SAVE_USERTEMPS_ARGS: [u8; 8] = [12, 0, 0, 0, 0, 0, 8, 0];

/// Which socket type to talk to the reader over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP with the `50 50 82 7D` framing.
    Tcp,
    /// One packet per UDP datagram.
    Udp,
}

/// Connection options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Numeric comm key ("password" in the reader's menu); 0 when none is set.
    pub comm_key: u32,
    /// Longest wait for any single reply packet.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            comm_key: 0,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Per-model quirks that cannot be inferred from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceProfile {
    /// 8-byte attendance records use the MA300/ZEM500 order (time at offset 4).
    pub ma300_records: bool,
    /// Force a user record layout instead of inferring it from the user dataset.
    pub user_layout: Option<UserLayout>,
}

/// Identity and counters of a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `~SerialNumber`.
    pub serial: String,
    /// GET_VERSION string, e.g. `Ver 6.60 Apr 28 2017`.
    pub firmware: String,
    /// `~Platform`.
    pub platform: String,
    /// `~DeviceName` (empty when the reader does not know the option).
    pub device_name: String,
    /// GET_FREE_SIZES counters.
    pub counts: DeviceCounts,
}

/// Errors from talking to a reader. Messages name the command and the reader's address.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// No reply in time: check the reader is powered, reachable, and not serving another client.
    #[error("timed out after {after:?} waiting for reply to {command} from {peer}")]
    Timeout {
        /// The timeout that elapsed.
        after: Duration,
        /// The request (and what it was for).
        command: String,
        /// Reader address.
        peer: SocketAddr,
    },
    /// The reader refused the connection: wrong address/port, or the reader is down.
    #[error("connection to {peer} refused: {source}")]
    Refused {
        /// Reader address.
        peer: SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Network I/O failed (reset, unreachable): reconnect and retry later.
    #[error("network error talking to {peer}: {source}")]
    Io {
        /// Reader address.
        peer: SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The reader closed the connection: reconnect (readers often allow one session at a time).
    #[error("{peer} closed the connection")]
    Closed {
        /// Reader address.
        peer: SocketAddr,
    },
    /// The reader rejected the comm key: set the key configured in the reader's Comm menu.
    #[error("{peer} rejected the comm key (wrong or missing password)")]
    Unauthorized {
        /// Reader address.
        peer: SocketAddr,
    },
    /// The reader sent bytes that are not a valid packet: reconnect; report if it persists.
    #[error("malformed packet from {peer}: {source}")]
    Protocol {
        /// Reader address.
        peer: SocketAddr,
        /// What was wrong.
        source: CodecError,
    },
    /// The reader answered with a reply that makes no sense here: likely an unsupported model.
    #[error("unexpected reply {reply} ({name}) to {command} from {peer}", name = cmd::name(*reply))]
    UnexpectedReply {
        /// Reader address.
        peer: SocketAddr,
        /// The request.
        command: String,
        /// The reply code received.
        reply: u16,
    },
    /// The reader refused the command (ACK_ERROR or unknown command).
    #[error("{peer} refused {command} with {name} ({code})", name = cmd::name(*code))]
    DeviceError {
        /// Reader address.
        peer: SocketAddr,
        /// The request.
        command: String,
        /// Reply code (2001 ACK_ERROR, 65535 ACK_UNKNOWN, ...).
        code: u16,
    },
    /// Records from the reader could not be decoded: check the device profile.
    #[error("bad data from {peer}: {source}")]
    Record {
        /// Reader address.
        peer: SocketAddr,
        /// What was wrong.
        source: RecordError,
    },
    /// A chunk kept arriving incomplete (lost datagrams): retry later or use TCP.
    #[error("incomplete {command} from {peer}: got {got} of {expected} bytes after retries")]
    Incomplete {
        /// The request.
        command: String,
        /// Reader address.
        peer: SocketAddr,
        /// Bytes announced.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// An earlier error left the connection unusable: reconnect.
    #[error("connection to {peer} is unusable after an earlier error; reconnect")]
    Broken {
        /// Reader address.
        peer: SocketAddr,
    },
}

impl ZkError {
    /// Whether reconnecting later may help (network trouble rather than a refusal).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::Io { .. }
                | Self::Closed { .. }
                | Self::Refused { .. }
                | Self::Incomplete { .. }
                | Self::Broken { .. }
                | Self::Protocol { .. }
        )
    }
}

enum Link {
    Tcp(BufReader<TcpStream>),
    Udp { sock: UdpSocket, buf: Vec<u8> },
}

/// Outcome of one chunk request.
enum Chunk {
    Complete,
    Incomplete { expected: usize, got: usize },
    TimedOut,
}

/// Smallest piece requested after losses on UDP (one DATA datagram).
const UDP_DATA_PIECE: usize = 1024;

/// Outcome of waiting for one packet.
enum Recv {
    Packet(Packet),
    TimedOut,
}

/// A connected session with one reader.
pub struct ZkClient {
    link: Link,
    peer: SocketAddr,
    opts: ClientOptions,
    session: u16,
    reply_id: u16,
    profile: DeviceProfile,
    user_layout: Option<UserLayout>,
    broken: bool,
}

impl std::fmt::Debug for ZkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkClient")
            .field("peer", &self.peer)
            .field("transport", &self.transport())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

fn label(command: u16) -> String {
    cmd::name(command).to_owned()
}

impl ZkClient {
    /// Connects, authenticates with the comm key when asked (ACK_UNAUTH), and
    /// re-enables the reader in case an earlier session died while it was disabled.
    pub async fn connect(
        addr: SocketAddr,
        transport: Transport,
        opts: ClientOptions,
    ) -> Result<Self, ZkError> {
        let link = match transport {
            Transport::Tcp => {
                let stream =
                    match tokio::time::timeout(opts.timeout, TcpStream::connect(addr)).await {
                        Err(_) => {
                            return Err(ZkError::Timeout {
                                after: opts.timeout,
                                command: "TCP connect".into(),
                                peer: addr,
                            })
                        }
                        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                            return Err(ZkError::Refused {
                                peer: addr,
                                source: e,
                            })
                        }
                        Ok(Err(e)) => {
                            return Err(ZkError::Io {
                                peer: addr,
                                source: e,
                            })
                        }
                        Ok(Ok(s)) => s,
                    };
                // Latency matters more than segment count for request/reply.
                let _ = stream.set_nodelay(true);
                Link::Tcp(BufReader::with_capacity(128 * 1024, stream))
            }
            Transport::Udp => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let io = |source| ZkError::Io { peer: addr, source };
                let sock = UdpSocket::bind(local).await.map_err(io)?;
                sock.connect(addr).await.map_err(io)?;
                Link::Udp {
                    sock,
                    buf: vec![0; 65_536],
                }
            }
        };
        let mut client = Self {
            link,
            peer: addr,
            opts,
            session: 0,
            reply_id: 0,
            profile: DeviceProfile::default(),
            user_layout: None,
            broken: false,
        };
        let reply = client.exchange(cmd::CONNECT, &[], "CMD_CONNECT").await?;
        client.session = reply.session;
        match reply.command {
            cmd::ACK_OK => {}
            cmd::ACK_UNAUTH => {
                let key = codec::make_commkey(opts.comm_key, client.session);
                let auth = client.exchange(cmd::AUTH, &key, "CMD_AUTH").await?;
                match auth.command {
                    cmd::ACK_OK => {}
                    cmd::ACK_UNAUTH => return Err(ZkError::Unauthorized { peer: addr }),
                    code => return Err(client.device_error("CMD_AUTH", code)),
                }
            }
            code => return Err(client.device_error("CMD_CONNECT", code)),
        }
        tracing::debug!(peer = %addr, session = client.session, "connected to ZK reader");
        client.enable().await?;
        Ok(client)
    }

    /// Sets model quirks (MA300 record order, forced user layout).
    pub fn set_profile(&mut self, profile: DeviceProfile) {
        self.profile = profile;
        if profile.user_layout.is_some() {
            self.user_layout = profile.user_layout;
        }
    }

    /// The user record layout, once known (after [`ZkClient::users`] or a profile).
    pub fn user_layout(&self) -> Option<UserLayout> {
        self.user_layout
    }

    /// Reader address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Transport in use.
    pub fn transport(&self) -> Transport {
        match self.link {
            Link::Tcp(_) => Transport::Tcp,
            Link::Udp { .. } => Transport::Udp,
        }
    }

    /// Session id the reader assigned.
    pub fn session(&self) -> u16 {
        self.session
    }

    fn device_error(&self, command: &str, code: u16) -> ZkError {
        match code {
            cmd::ACK_UNAUTH => ZkError::Unauthorized { peer: self.peer },
            _ => ZkError::DeviceError {
                peer: self.peer,
                command: command.to_owned(),
                code,
            },
        }
    }

    fn next_reply_id(&mut self) -> u16 {
        // Skip 0: live events and their acks use reply id 0.
        self.reply_id = self.reply_id.wrapping_add(1).max(1);
        self.reply_id
    }

    async fn send(&mut self, packet: &Packet) -> Result<(), ZkError> {
        let peer = self.peer;
        let res = match &mut self.link {
            Link::Tcp(stream) => {
                let bytes = packet.encode_tcp();
                let r = stream.get_mut().write_all(&bytes).await;
                if r.is_err() {
                    self.broken = true;
                }
                r
            }
            Link::Udp { sock, .. } => sock.send(&packet.encode()).await.map(|_| ()),
        };
        res.map_err(|source| ZkError::Io { peer, source })
    }

    /// Waits for one well-formed packet. TCP decode errors break the connection;
    /// malformed UDP datagrams are dropped (as if lost).
    async fn recv(&mut self, wait: Option<Duration>) -> Result<Recv, ZkError> {
        let peer = self.peer;
        match &mut self.link {
            Link::Tcp(stream) => {
                let read = async {
                    let mut prefix = [0u8; codec::TCP_PREFIX_LEN];
                    stream.read_exact(&mut prefix).await?;
                    let len = match codec::parse_tcp_prefix(&prefix) {
                        Ok(len) => len,
                        Err(e) => return Ok(Err(e)),
                    };
                    let mut body = vec![0u8; len];
                    stream.read_exact(&mut body).await?;
                    Ok::<_, std::io::Error>(codec::parse_packet(&body))
                };
                let res = match wait {
                    Some(d) => match tokio::time::timeout(d, read).await {
                        Ok(r) => r,
                        Err(_) => {
                            // A partial frame may have been consumed: the stream is out of sync.
                            self.broken = true;
                            return Ok(Recv::TimedOut);
                        }
                    },
                    None => read.await,
                };
                match res {
                    Ok(Ok(p)) => Ok(Recv::Packet(p)),
                    Ok(Err(source)) => {
                        self.broken = true;
                        Err(ZkError::Protocol { peer, source })
                    }
                    Err(e) => {
                        self.broken = true;
                        if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            Err(ZkError::Closed { peer })
                        } else {
                            Err(ZkError::Io { peer, source: e })
                        }
                    }
                }
            }
            Link::Udp { sock, buf } => {
                let deadline = wait.map(|d| tokio::time::Instant::now() + d);
                loop {
                    let got = match deadline {
                        Some(at) => match tokio::time::timeout_at(at, sock.recv(buf)).await {
                            Ok(r) => r,
                            Err(_) => return Ok(Recv::TimedOut),
                        },
                        None => sock.recv(buf).await,
                    };
                    let n = got.map_err(|source| match source.kind() {
                        std::io::ErrorKind::ConnectionRefused => ZkError::Refused { peer, source },
                        _ => ZkError::Io { peer, source },
                    })?;
                    match codec::parse_packet(&buf[..n]) {
                        Ok(p) => return Ok(Recv::Packet(p)),
                        Err(e) => {
                            tracing::warn!(peer = %peer, error = %e, "dropping malformed datagram");
                        }
                    }
                }
            }
        }
    }

    /// Acknowledges a live event (ACK_OK, our session, reply id 0).
    async fn ack_event(&mut self) -> Result<(), ZkError> {
        let ack = Packet::new(cmd::ACK_OK, self.session, 0, Vec::new());
        self.send(&ack).await
    }

    /// Waits for the packet answering `reply_id`; acks and drops stray live events.
    async fn await_reply(&mut self, reply_id: u16) -> Result<Recv, ZkError> {
        loop {
            match self.recv(Some(self.opts.timeout)).await? {
                Recv::TimedOut => return Ok(Recv::TimedOut),
                Recv::Packet(p) if p.command == cmd::REG_EVENT && p.reply == 0 => {
                    self.ack_event().await?;
                }
                Recv::Packet(p) if p.reply == reply_id => return Ok(Recv::Packet(p)),
                Recv::Packet(p) => {
                    tracing::debug!(peer = %self.peer, reply = p.reply, want = reply_id, "dropping stale reply");
                }
            }
        }
    }

    fn attempts(&self) -> u32 {
        match self.link {
            Link::Tcp(_) => 1,
            Link::Udp { .. } => UDP_ATTEMPTS,
        }
    }

    fn check_usable(&self) -> Result<(), ZkError> {
        if self.broken {
            Err(ZkError::Broken { peer: self.peer })
        } else {
            Ok(())
        }
    }

    /// Sends a request and returns the first reply packet (retrying on UDP).
    async fn exchange(
        &mut self,
        command: u16,
        payload: &[u8],
        what: &str,
    ) -> Result<Packet, ZkError> {
        self.exchange_with(command, payload, what, self.attempts())
            .await
    }

    /// Sends a request up to `attempts` times until a reply arrives.
    async fn exchange_with(
        &mut self,
        command: u16,
        payload: &[u8],
        what: &str,
        attempts: u32,
    ) -> Result<Packet, ZkError> {
        self.check_usable()?;
        for _ in 0..attempts.max(1) {
            let reply_id = self.next_reply_id();
            let packet = Packet::new(command, self.session, reply_id, payload.to_vec());
            self.send(&packet).await?;
            if let Recv::Packet(p) = self.await_reply(reply_id).await? {
                return Ok(p);
            }
            tracing::debug!(peer = %self.peer, command = what, "no reply, retrying");
        }
        Err(ZkError::Timeout {
            after: self.opts.timeout,
            command: what.to_owned(),
            peer: self.peer,
        })
    }

    /// Sends a command that must succeed (ACK_OK/ACK_DATA/DATA) and returns the reply.
    async fn command(&mut self, command: u16, payload: &[u8]) -> Result<Packet, ZkError> {
        let what = label(command);
        let reply = self.exchange(command, payload, &what).await?;
        match reply.command {
            cmd::ACK_OK | cmd::ACK_DATA | cmd::DATA => Ok(reply),
            code => Err(self.device_error(&what, code)),
        }
    }

    /// Like [`ZkClient::command`], sent once: for requests that must not be repeated on UDP
    /// (a resent DATA chunk would be appended twice).
    async fn command_once(&mut self, command: u16, payload: &[u8]) -> Result<Packet, ZkError> {
        let what = label(command);
        let reply = self.exchange_with(command, payload, &what, 1).await?;
        match reply.command {
            cmd::ACK_OK | cmd::ACK_DATA | cmd::DATA => Ok(reply),
            code => Err(self.device_error(&what, code)),
        }
    }

    /// Reads an option (`~SerialNumber`); `None` when the reader does not know it.
    pub async fn read_option(&mut self, name: &str) -> Result<Option<String>, ZkError> {
        let mut payload = name.as_bytes().to_vec();
        payload.push(0);
        let reply = self
            .exchange(cmd::OPTIONS_RRQ, &payload, "CMD_OPTIONS_RRQ")
            .await?;
        match reply.command {
            cmd::ACK_OK | cmd::ACK_DATA => {}
            cmd::ACK_ERROR | cmd::ACK_UNKNOWN => return Ok(None),
            code => return Err(self.device_error("CMD_OPTIONS_RRQ", code)),
        }
        let text = reply.payload.split(|&b| b == 0).next().unwrap_or(&[]);
        let value = match text.iter().position(|&b| b == b'=') {
            Some(i) => &text[i + 1..],
            None => text,
        };
        Ok(Some(String::from_utf8_lossy(value).into_owned()))
    }

    /// Counts and capacities (GET_FREE_SIZES).
    pub async fn free_sizes(&mut self) -> Result<DeviceCounts, ZkError> {
        let reply = self.command(cmd::GET_FREE_SIZES, &[]).await?;
        DeviceCounts::parse(&reply.payload).map_err(|source| ZkError::Record {
            peer: self.peer,
            source,
        })
    }

    /// Firmware version string (GET_VERSION).
    pub async fn firmware_version(&mut self) -> Result<String, ZkError> {
        let reply = self.command(cmd::GET_VERSION, &[]).await?;
        let text = reply.payload.split(|&b| b == 0).next().unwrap_or(&[]);
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    /// Serial number, firmware, platform, name and counters.
    pub async fn device_info(&mut self) -> Result<DeviceInfo, ZkError> {
        let serial = self.read_option("~SerialNumber").await?.unwrap_or_default();
        let platform = self.read_option("~Platform").await?.unwrap_or_default();
        let device_name = self.read_option("~DeviceName").await?.unwrap_or_default();
        let firmware = self.firmware_version().await?;
        let counts = self.free_sizes().await?;
        Ok(DeviceInfo {
            serial,
            firmware,
            platform,
            device_name,
            counts,
        })
    }

    /// Locks the reader's keypad and sensor (DISABLEDEVICE).
    pub async fn disable(&mut self) -> Result<(), ZkError> {
        self.command(cmd::DISABLEDEVICE, &[]).await.map(drop)
    }

    /// Unlocks the reader again (ENABLEDEVICE).
    pub async fn enable(&mut self) -> Result<(), ZkError> {
        self.command(cmd::ENABLEDEVICE, &[]).await.map(drop)
    }

    /// Runs `f` with the reader disabled and always tries to re-enable it,
    /// even when `f` fails (the first error wins).
    pub async fn with_disabled<T, F>(&mut self, f: F) -> Result<T, ZkError>
    where
        F: AsyncFnOnce(&mut ZkClient) -> Result<T, ZkError>,
    {
        self.disable().await?;
        let result = f(self).await;
        let enabled = if self.broken {
            Err(ZkError::Broken { peer: self.peer })
        } else {
            self.enable().await
        };
        match (result, enabled) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(enable_err)) => {
                tracing::warn!(peer = %self.peer, error = %enable_err,
                    "could not re-enable reader; it will be re-enabled on the next connect");
                Err(e)
            }
        }
    }

    /// One attempt at reading chunk `[start, start+len)` of the prepared buffer into `out`.
    /// On anything but `Complete`, `out` is left as it was.
    async fn read_chunk_once(
        &mut self,
        start: usize,
        len: usize,
        out: &mut Vec<u8>,
        label: &str,
    ) -> Result<Chunk, ZkError> {
        let mut payload = Vec::with_capacity(8);
        payload.extend_from_slice(&(start as u32).to_le_bytes());
        payload.extend_from_slice(&(len as u32).to_le_bytes());
        let is_udp = matches!(self.link, Link::Udp { .. });
        self.check_usable()?;
        let reply_id = self.next_reply_id();
        let packet = Packet::new(cmd::READ_BUFFER, self.session, reply_id, payload);
        self.send(&packet).await?;
        let first = match self.await_reply(reply_id).await? {
            Recv::Packet(p) => p,
            Recv::TimedOut => return Ok(Chunk::TimedOut),
        };
        let size = match first.command {
            // A direct DATA reply carries the whole chunk. On UDP a short one means
            // PREPARE_DATA was lost; the rest of that reply is discarded by reply id.
            cmd::DATA if is_udp && first.payload.len() != len => {
                return Ok(Chunk::Incomplete {
                    expected: len,
                    got: first.payload.len(),
                })
            }
            cmd::DATA => {
                if first.payload.len() > len {
                    return Err(self.unexpected(label, first.command));
                }
                out.extend_from_slice(&first.payload);
                return Ok(Chunk::Complete);
            }
            cmd::PREPARE_DATA => {
                let size = first
                    .payload
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
                match size {
                    Some(s) if s <= len && s > 0 => s,
                    _ => return Err(self.unexpected(label, first.command)),
                }
            }
            // UDP: PREPARE_DATA was lost and the rest arrived; ask again.
            cmd::ACK_OK if is_udp => {
                return Ok(Chunk::Incomplete {
                    expected: len,
                    got: 0,
                })
            }
            code => return Err(self.device_error(label, code)),
        };
        let mark = out.len();
        loop {
            let p = match self.await_reply(reply_id).await? {
                Recv::Packet(p) => p,
                Recv::TimedOut => {
                    out.truncate(mark);
                    return Ok(Chunk::TimedOut);
                }
            };
            match p.command {
                cmd::DATA => {
                    if out.len() - mark + p.payload.len() > size {
                        return Err(self.unexpected(label, p.command));
                    }
                    out.extend_from_slice(&p.payload);
                    // On UDP the trailing ACK_OK is discarded later by its reply id.
                    if is_udp && out.len() - mark == size {
                        return Ok(Chunk::Complete);
                    }
                }
                cmd::ACK_OK if out.len() - mark == size => return Ok(Chunk::Complete),
                cmd::ACK_OK => {
                    let got = out.len() - mark;
                    out.truncate(mark);
                    if !is_udp {
                        return Err(ZkError::Incomplete {
                            command: label.to_owned(),
                            peer: self.peer,
                            expected: size,
                            got,
                        });
                    }
                    return Ok(Chunk::Incomplete {
                        expected: size,
                        got,
                    });
                }
                code => return Err(self.device_error(label, code)),
            }
        }
    }

    /// Reads `[start, start+len)`, retrying on UDP with smaller pieces after losses.
    async fn read_range(
        &mut self,
        start: usize,
        len: usize,
        out: &mut Vec<u8>,
        what: &str,
    ) -> Result<(), ZkError> {
        let end = start + len;
        let mut pos = start;
        let mut piece = len;
        let mut failures = 0;
        while pos < end {
            let n = piece.min(end - pos);
            let label = format!("CMD_READ_BUFFER ({what}, bytes {pos}..{})", pos + n);
            match self.read_chunk_once(pos, n, out, &label).await? {
                Chunk::Complete => {
                    pos += n;
                    failures = 0;
                }
                failure => {
                    failures += 1;
                    if failures >= self.attempts() {
                        return Err(match failure {
                            Chunk::Incomplete { expected, got } => ZkError::Incomplete {
                                command: label,
                                peer: self.peer,
                                expected,
                                got,
                            },
                            _ => ZkError::Timeout {
                                after: self.opts.timeout,
                                command: label,
                                peer: self.peer,
                            },
                        });
                    }
                    // Fewer datagrams per request make a lossy link likelier to get through.
                    piece = (piece / 2).max(UDP_DATA_PIECE);
                    tracing::debug!(peer = %self.peer, chunk = %label, "lost part of a chunk, retrying");
                }
            }
        }
        Ok(())
    }

    fn unexpected(&mut self, command: &str, reply: u16) -> ZkError {
        self.broken = matches!(self.link, Link::Tcp(_));
        ZkError::UnexpectedReply {
            peer: self.peer,
            command: command.to_owned(),
            reply,
        }
    }

    /// Bulk-reads a dataset (PREPARE_BUFFER, READ_BUFFER chunks, FREE_DATA).
    /// Returns the raw dataset, starting with its u32 size.
    pub async fn read_dataset(
        &mut self,
        command: u16,
        fct: i32,
        ext: i32,
    ) -> Result<Vec<u8>, ZkError> {
        let what = label(command);
        let mut payload = Vec::with_capacity(11);
        payload.push(1);
        payload.extend_from_slice(&command.to_le_bytes());
        payload.extend_from_slice(&fct.to_le_bytes());
        payload.extend_from_slice(&ext.to_le_bytes());
        let prep_label = format!("CMD_PREPARE_BUFFER ({what})");
        let reply = self
            .exchange(cmd::PREPARE_BUFFER, &payload, &prep_label)
            .await?;
        let size = match reply.command {
            cmd::DATA => return Ok(reply.payload),
            cmd::ACK_OK => match reply.payload.get(1..5) {
                Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                None => return Err(self.unexpected(&prep_label, reply.command)),
            },
            code => return Err(self.device_error(&prep_label, code)),
        };
        if size > MAX_DATASET {
            return Err(ZkError::Record {
                peer: self.peer,
                source: RecordError::TooLarge {
                    size,
                    max: MAX_DATASET,
                },
            });
        }
        let chunk = match self.link {
            Link::Tcp(_) => TCP_CHUNK,
            Link::Udp { .. } => UDP_CHUNK,
        };
        let mut data = Vec::with_capacity(size);
        let mut start = 0;
        while start < size {
            let len = chunk.min(size - start);
            self.read_range(start, len, &mut data, &what).await?;
            start += len;
        }
        self.command(cmd::FREE_DATA, &[]).await?;
        Ok(data)
    }

    fn record_err(&self, source: RecordError) -> ZkError {
        ZkError::Record {
            peer: self.peer,
            source,
        }
    }

    async fn read_users_enabled(&mut self) -> Result<Vec<User>, ZkError> {
        let counts = self.free_sizes().await?;
        if counts.users == 0 {
            return Ok(Vec::new());
        }
        let data = self.read_dataset(cmd::USERTEMP_RRQ, fct::USER, 0).await?;
        let body = records::dataset_body(&data).map_err(|e| self.record_err(e))?;
        let layout = match self.profile.user_layout {
            Some(l) => l,
            None => UserLayout::infer(body.len(), counts.users as usize)
                .map_err(|e| self.record_err(e))?,
        };
        self.user_layout = Some(layout);
        records::parse_users(body, layout).map_err(|e| self.record_err(e))
    }

    /// All enrolled users (reader disabled meanwhile).
    pub async fn users(&mut self) -> Result<Vec<User>, ZkError> {
        self.with_disabled(async |c: &mut ZkClient| c.read_users_enabled().await)
            .await
    }

    async fn read_attendance_enabled(&mut self) -> Result<Vec<AttendanceRecord>, ZkError> {
        let counts = self.free_sizes().await?;
        if counts.records == 0 {
            return Ok(Vec::new());
        }
        let data = self.read_dataset(cmd::ATTLOG_RRQ, 0, 0).await?;
        let body = records::dataset_body(&data).map_err(|e| self.record_err(e))?;
        let layout = RecordLayout::infer(
            body.len(),
            counts.records as usize,
            self.profile.ma300_records,
        )
        .map_err(|e| self.record_err(e))?;
        let set = records::parse_attendance(body, layout).map_err(|e| self.record_err(e))?;
        for e in &set.rejected {
            tracing::warn!(peer = %self.peer, error = %e, "skipping corrupt attendance record");
        }
        let mut out = set.records;
        match layout {
            RecordLayout::Compact8 | RecordLayout::Ma300 => {
                let users = self.read_users_enabled().await?;
                let by_uid: HashMap<u16, &str> =
                    users.iter().map(|u| (u.uid, u.user_id.as_str())).collect();
                for r in &mut out {
                    if let Some(id) = by_uid.get(&r.uid) {
                        r.user_id = (*id).to_owned();
                    }
                }
            }
            RecordLayout::Extended16 => {
                let users = self.read_users_enabled().await?;
                let by_id: HashMap<&str, u16> =
                    users.iter().map(|u| (u.user_id.as_str(), u.uid)).collect();
                for r in &mut out {
                    if let Some(uid) = by_id.get(r.user_id.as_str()) {
                        r.uid = *uid;
                    }
                }
            }
            RecordLayout::Full40 | RecordLayout::SpeedFace49 => {}
        }
        Ok(out)
    }

    /// The whole attendance log (reader disabled meanwhile; re-enabled even on error).
    /// Records with corrupt content are skipped with a warning.
    pub async fn attendance(&mut self) -> Result<Vec<AttendanceRecord>, ZkError> {
        self.with_disabled(async |c: &mut ZkClient| c.read_attendance_enabled().await)
            .await
    }

    /// Reader clock (GET_TIME).
    pub async fn get_time(&mut self) -> Result<ZkDateTime, ZkError> {
        let reply = self.command(cmd::GET_TIME, &[]).await?;
        let raw = reply
            .payload
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let Some(raw) = raw else {
            return Err(self.unexpected("CMD_GET_TIME", reply.command));
        };
        ZkDateTime::from_zk(raw)
            .map_err(|source| self.record_err(RecordError::BadTime { index: 0, source }))
    }

    /// Sets the reader clock (SET_TIME); pass office-local wall time.
    pub async fn set_time(&mut self, time: ZkDateTime) -> Result<(), ZkError> {
        self.command(cmd::SET_TIME, &time.to_zk().to_le_bytes())
            .await
            .map(drop)
    }

    /// Deletes every attendance record on the reader (CLEAR_ATTLOG).
    pub async fn clear_attendance(&mut self) -> Result<(), ZkError> {
        self.command(cmd::CLEAR_ATTLOG, &[]).await.map(drop)
    }

    async fn learn_user_layout(&mut self) -> Result<UserLayout, ZkError> {
        if let Some(l) = self.user_layout {
            return Ok(l);
        }
        self.read_users_enabled().await?;
        let guess = match self.link {
            Link::Tcp(_) => UserLayout::Zk8,
            Link::Udp { .. } => UserLayout::Zk6,
        };
        Ok(self.user_layout.unwrap_or(guess))
    }

    /// Creates or replaces a user (USER_WRQ, then REFRESHDATA).
    pub async fn set_user(&mut self, user: &User) -> Result<(), ZkError> {
        let layout = self.learn_user_layout().await?;
        let rec = records::encode_user(user, layout).map_err(|e| self.record_err(e))?;
        self.command(cmd::USER_WRQ, &rec).await?;
        self.command(cmd::REFRESHDATA, &[]).await.map(drop)
    }

    /// Deletes a user by slot number (DELETE_USER, then REFRESHDATA).
    pub async fn delete_user(&mut self, uid: u16) -> Result<(), ZkError> {
        self.command(cmd::DELETE_USER, &uid.to_le_bytes()).await?;
        self.command(cmd::REFRESHDATA, &[]).await.map(drop)
    }

    async fn read_templates_enabled(&mut self) -> Result<Vec<FingerTemplate>, ZkError> {
        let counts = self.free_sizes().await?;
        if counts.fingers == 0 {
            return Ok(Vec::new());
        }
        let data = self.read_dataset(cmd::DB_RRQ, fct::FINGERTMP, 0).await?;
        let body = records::dataset_body(&data).map_err(|e| self.record_err(e))?;
        let set = records::parse_templates(body).map_err(|e| self.record_err(e))?;
        for e in &set.rejected {
            tracing::warn!(peer = %self.peer, error = %e, "skipping unusable fingerprint template");
        }
        Ok(set.templates)
    }

    /// All fingerprint templates (DB_RRQ with fct 2), keyed by user slot (`uid`; map it to the
    /// enrolment number with [`ZkClient::users`]). The reader is disabled meanwhile; empty or
    /// oversized templates are skipped with a warning. The read is bounded by [`MAX_DATASET`].
    pub async fn templates(&mut self) -> Result<Vec<FingerTemplate>, ZkError> {
        self.with_disabled(async |c: &mut ZkClient| c.read_templates_enabled().await)
            .await
    }

    /// Fills the reader's write buffer: FREE_DATA, PREPARE_DATA (u32 size), then DATA packets
    /// of at most [`WRITE_CHUNK`] bytes, each acknowledged.
    async fn write_buffer(&mut self, data: &[u8]) -> Result<(), ZkError> {
        let size = u32::try_from(data.len()).map_err(|_| {
            self.record_err(RecordError::TooLarge {
                size: data.len(),
                max: MAX_DATASET,
            })
        })?;
        self.command(cmd::FREE_DATA, &[]).await?;
        self.command_once(cmd::PREPARE_DATA, &size.to_le_bytes())
            .await?;
        for chunk in data.chunks(WRITE_CHUNK) {
            self.command_once(cmd::DATA, chunk).await?;
        }
        Ok(())
    }

    /// Creates or replaces users together with fingerprint templates in one upload (the buffer
    /// of [`records::encode_template_upload`] sent with the buffered write, then
    /// CMD_SAVE_USERTEMPS and REFRESHDATA), as pyzk's `save_user_template`. Templates are
    /// stored under their user's slot; the valid flag is not carried (readers store 1).
    /// On UDP a lost acknowledgement restarts the whole upload.
    pub async fn save_user_templates(
        &mut self,
        entries: &[(User, Vec<FingerTemplate>)],
    ) -> Result<(), ZkError> {
        let layout = self.learn_user_layout().await?;
        let buf =
            records::encode_template_upload(entries, layout).map_err(|e| self.record_err(e))?;
        if buf.len() > MAX_DATASET {
            return Err(self.record_err(RecordError::TooLarge {
                size: buf.len(),
                max: MAX_DATASET,
            }));
        }
        let attempts = self.attempts();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.upload_and_save(&buf).await {
                Ok(()) => break,
                Err(ZkError::Timeout { .. }) if tries < attempts => {
                    tracing::debug!(peer = %self.peer, "template upload lost a reply, sending it again");
                }
                Err(e) => return Err(e),
            }
        }
        self.command(cmd::REFRESHDATA, &[]).await.map(drop)
    }

    async fn upload_and_save(&mut self, buf: &[u8]) -> Result<(), ZkError> {
        self.write_buffer(buf).await?;
        self.command_once(cmd::SAVE_USERTEMPS, &SAVE_USERTEMPS_ARGS)
            .await
            .map(drop)
    }

    /// Deletes one fingerprint template by user slot and finger (DELETE_USERTEMP, then
    /// REFRESHDATA). False when the reader answers that it held none.
    pub async fn delete_template(&mut self, uid: u16, fid: u8) -> Result<bool, ZkError> {
        let mut payload = uid.to_le_bytes().to_vec();
        payload.push(fid);
        let reply = self
            .exchange(cmd::DELETE_USERTEMP, &payload, "CMD_DELETE_USERTEMP")
            .await?;
        match reply.command {
            cmd::ACK_OK => {}
            cmd::ACK_ERROR => return Ok(false),
            code => return Err(self.device_error("CMD_DELETE_USERTEMP", code)),
        }
        self.command(cmd::REFRESHDATA, &[]).await.map(|_| true)
    }

    /// Ends the session (EXIT) and closes the socket.
    pub async fn disconnect(mut self) -> Result<(), ZkError> {
        self.command(cmd::EXIT, &[]).await.map(drop)
    }

    /// Switches to live mode: registers for attendance events and returns a
    /// stream of punches. Each event is acknowledged as it arrives.
    pub async fn live_events(mut self) -> Result<LiveEvents, ZkError> {
        let users = self.read_users_enabled().await?;
        let uids: HashMap<String, u16> = users.into_iter().map(|u| (u.user_id, u.uid)).collect();
        self.command(cmd::CANCELCAPTURE, &[]).await?;
        self.command(cmd::STARTVERIFY, &[]).await?;
        self.enable().await?;
        self.command(cmd::REG_EVENT, &EF_ATTLOG.to_le_bytes())
            .await?;
        let (tx, rx) = mpsc::channel(1024);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(live_loop(self, uids, tx, stop_rx));
        Ok(LiveEvents {
            rx,
            stop: Some(stop_tx),
            task,
        })
    }
}

async fn live_loop(
    mut client: ZkClient,
    uids: HashMap<String, u16>,
    tx: mpsc::Sender<Result<AttendanceRecord, ZkError>>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let got = tokio::select! {
            _ = &mut stop => break,
            got = client.recv(None) => got,
        };
        let packet = match got {
            Ok(Recv::Packet(p)) => p,
            Ok(Recv::TimedOut) => continue,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        if packet.command != cmd::REG_EVENT {
            continue;
        }
        if let Err(e) = client.ack_event().await {
            let _ = tx.send(Err(e)).await;
            return;
        }
        // The event code travels in the session field; 1 = attendance.
        if u32::from(packet.session) != EF_ATTLOG {
            continue;
        }
        let item = match records::parse_live_event(&packet.payload) {
            Ok(ev) => Ok(AttendanceRecord {
                uid: uids.get(&ev.user_id).copied().unwrap_or(0),
                user_id: ev.user_id,
                time: ev.time,
                status: ev.status,
                punch: ev.punch,
                workcode: 0,
            }),
            Err(e) => {
                tracing::warn!(peer = %client.peer, error = %e, "ignoring undecodable live event");
                continue;
            }
        };
        if tx.send(item).await.is_err() {
            break;
        }
    }
    // Best effort: unregister and end the session without waiting for replies.
    let session = client.session;
    let unreg = Packet::new(
        cmd::REG_EVENT,
        session,
        client.next_reply_id(),
        0u32.to_le_bytes().to_vec(),
    );
    let _ = client.send(&unreg).await;
    let exit = Packet::new(cmd::EXIT, session, client.next_reply_id(), Vec::new());
    let _ = client.send(&exit).await;
}

/// A stream of live punches from one reader.
#[derive(Debug)]
pub struct LiveEvents {
    rx: mpsc::Receiver<Result<AttendanceRecord, ZkError>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LiveEvents {
    /// The next punch; `None` once the stream has ended (after an error or [`LiveEvents::stop`]).
    pub async fn next(&mut self) -> Option<Result<AttendanceRecord, ZkError>> {
        self.rx.recv().await
    }

    /// Unregisters, ends the session and waits for the background task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for LiveEvents {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // Let the task unregister on its own; it exits right after.
            let _ = stop.send(());
        } else {
            self.task.abort();
        }
    }
}
