//! The processes the soak drives: the gateway (the real binary, killed with SIGKILL), Debian's
//! mosquitto as the provincial broker, and the reference receiver.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Username and password of the provincial broker.
pub const BROKER_USER: &str = "kutim";
/// Password of the provincial broker (a test value, on loopback only).
pub const BROKER_PASS: &str = "soak-provinsi";

/// A free loopback port (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listening on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found; build it with cargo build",
        path.display()
    );
    Ok(path)
}

/// mosquitto with a password file and on-disk persistence.
pub struct Broker {
    child: Option<Child>,
    conf: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Broker {
    /// Writes the broker's config under `dir` and starts it.
    pub fn start(dir: &Path) -> anyhow::Result<Broker> {
        let port = free_port()?;
        let passwd = dir.join("mosquitto.passwd");
        let ok = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwd)
            .args([BROKER_USER, BROKER_PASS])
            .status()
            .context("mosquitto_passwd (install mosquitto: scripts/ensure-deps.sh)")?;
        anyhow::ensure!(ok.success(), "mosquitto_passwd failed");
        let persist = dir.join("mosquitto-data");
        std::fs::create_dir_all(&persist)?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n\
                 persistence true\npersistence_location {}/\nmessage_size_limit 0\n\
                 max_queued_messages 100000\nautosave_interval 1\n",
                passwd.display(),
                persist.display()
            ),
        )?;
        let mut b = Broker {
            child: None,
            conf,
            port,
        };
        b.restart()?;
        Ok(b)
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("mosquitto is not installed: run scripts/ensure-deps.sh")?;
        self.child = Some(
            Command::new(bin)
                .arg("-c")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        wait_for_port(self.port, Duration::from_secs(10))
    }

    /// Stops it (SIGKILL: the broker's own persistence is what is tested).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `mqtt://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The reference receiver subscribed to the broker.
pub struct Receiver {
    child: Child,
    /// Its database.
    pub db: PathBuf,
}

impl Receiver {
    /// Starts `hadir-receiver serve --mqtt` and waits until it has subscribed.
    pub fn start(db: &Path, broker: &Broker) -> anyhow::Result<Receiver> {
        let mut child = Command::new(sibling_binary("hadir-receiver")?)
            .args(["serve", "--tofu", "--db"])
            .arg(db)
            .args(["--mqtt", &broker.url(), "--username", BROKER_USER])
            .env("HADIR_RECEIVER_PASSWORD", BROKER_PASS)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(
                db.with_file_name("receiver.log"),
            )?))
            .spawn()?;
        let stdout = child.stdout.take().context("receiver stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("subscribed") => break,
                Ok(_) => {}
                Err(_) => bail!("the receiver did not subscribe within 20 s"),
            }
        }
        Ok(Receiver {
            child,
            db: db.to_path_buf(),
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway: the real `hadir` binary, started and SIGKILLed by the soak.
pub struct Gateway {
    child: Option<Child>,
    config: PathBuf,
    /// Starts so far.
    pub starts: u32,
}

impl Gateway {
    /// A gateway for `config` (not started).
    pub fn new(config: &Path) -> Gateway {
        Gateway {
            child: None,
            config: config.to_path_buf(),
            starts: 0,
        }
    }

    /// Starts it and waits for "hadir: ready".
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.config.with_file_name("gateway.log"))?;
        let mut child = Command::new(sibling_binary("hadir")?)
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()?;
        let stdout = child.stdout.take().context("gateway stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line == "hadir: ready" => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("the gateway did not become ready; see gateway.log");
                }
            }
        }
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Its process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, as a power cut would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (a clean stop at the end).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A process's resident memory, KiB, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss: u64,
    /// Resident at the peak (`VmHWM`).
    pub peak: u64,
    /// Of `rss`: anonymous memory, the heap and stacks (`RssAnon`); a leak shows here.
    pub anon: u64,
    /// Of `rss`: pages of mapped files, mostly the binary's code (`RssFile`).
    pub file: u64,
    /// Of `rss`: shared memory, e.g. SQLite's WAL index (`RssShmem`).
    pub shmem: u64,
}

/// A process's resident memory now, or `None` once it is gone.
pub fn memory_kib(pid: u32) -> Option<Memory> {
    let status = hadir::memory::ProcStatus::read(Some(pid))?;
    Some(Memory {
        rss: status.kib("VmRSS")?,
        peak: status.kib("VmHWM")?,
        anon: status.kib("RssAnon").unwrap_or(0),
        file: status.kib("RssFile").unwrap_or(0),
        shmem: status.kib("RssShmem").unwrap_or(0),
    })
}
