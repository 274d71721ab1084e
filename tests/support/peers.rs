//! Real peers for upstream tests: Debian's `mosquitto` broker and the reference receiver, each a
//! child process on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mosquitto_bin() -> Option<PathBuf> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A mosquitto broker with password authentication and on-disk persistence.
pub struct Mosquitto {
    child: Option<Child>,
    conf: PathBuf,
    pub port: u16,
}

/// Username and password the broker accepts.
pub const BROKER_USER: &str = "kutim";
pub const BROKER_PASS: &str = "rahasia-provinsi";

impl Mosquitto {
    /// Starts a broker in `dir` (config, password file and persistence live there).
    pub fn start(dir: &Path) -> Mosquitto {
        let bin = mosquitto_bin().expect("mosquitto is not installed: run scripts/ensure-deps.sh");
        let port = free_port();
        let passwd = dir.join("mosquitto.passwd");
        let status = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwd)
            .args([BROKER_USER, BROKER_PASS])
            .status()
            .expect("mosquitto_passwd");
        assert!(status.success());
        // The receiver uses the same account in these tests.
        let persist = dir.join("mosquitto-data");
        std::fs::create_dir_all(&persist).unwrap();
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
        )
        .unwrap();
        let _ = bin;
        let mut m = Mosquitto {
            child: None,
            conf,
            port,
        };
        m.restart();
        m
    }

    /// Starts (again) on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let bin = mosquitto_bin().unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    /// Stops the broker.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Path of the reference receiver binary.
pub fn receiver_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hadir-receiver"))
}

/// The reference receiver as a child process.
pub struct Receiver {
    child: Option<Child>,
    args: Vec<String>,
    pub db: PathBuf,
    pub http_addr: Option<String>,
}

impl Receiver {
    /// Starts `hadir-receiver serve --db <db> <args>` and waits for "ready".
    pub fn start(db: &Path, args: &[&str]) -> Receiver {
        let mut r = Receiver {
            child: None,
            args: args.iter().map(|s| s.to_string()).collect(),
            db: db.to_path_buf(),
            http_addr: None,
        };
        r.restart();
        r
    }

    pub fn restart(&mut self) {
        self.stop();
        let mut child = Command::new(receiver_bin())
            .arg("serve")
            .arg("--db")
            .arg(&self.db)
            .args(&self.args)
            .env("HADIR_RECEIVER_PASSWORD", BROKER_PASS)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hadir-receiver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = lines.next().expect("receiver exited before ready").unwrap();
            if let Some(rest) = line.strip_prefix("hadir-receiver: http http://") {
                self.http_addr = Some(rest.trim_end_matches("/v1/batches").to_string());
            }
            if line == "hadir-receiver: ready" {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every record held, of any kind (attendance, audit, manual entries...).
    pub fn all_record_count(&self) -> usize {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))
            .unwrap() as usize
    }

    /// Ids of the attendance records held (punches and check-ins; audit and other kinds of
    /// records the gateway also forwards are left out).
    pub fn record_ids(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        let mut stmt = conn
            .prepare("SELECT record_id FROM records WHERE kind IN ('punch', 'checkin')")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}
