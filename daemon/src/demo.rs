//! `hadir demo`: a whole office on one machine in one command. It starts the reference
//! provincial receiver and a fingerprint-reader simulator on loopback, writes a demo config
//! (Kutai Timur, WITA), starts the real gateway binary on it, registers staff and tablets, and
//! plays a morning: honest check-ins, fake GPS, a replayed photo, an expired office code, official
//! travel with an SPT, fingerprint punches. It prints every verdict as the gateway replies, and
//! the upstream status, until Ctrl-C (or `--for`).

pub mod scenario;
pub mod tablet;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use hadir_drivers::zk::push_sim::{PushSim, PushSimConfig};
use hadir_drivers::zk::sim::{SimConfig, SimHandle, Simulator};
use hadir_receiver::db::KeyPolicy;
use hadir_receiver::ReceiverDb;
use tokio::io::AsyncBufReadExt;

use scenario::{Person, Scene};

/// Options of `hadir demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the demo office lives (config, database, receiver database). Default: a new
    /// folder under the system temp dir, removed at the end unless `keep`.
    pub dir: Option<PathBuf>,
    /// Admin UI port on 127.0.0.1 (a free one is used when it is taken).
    pub admin_port: u16,
    /// Stop by itself after this long (tests, screenshots); default: until Ctrl-C.
    pub run_for: Option<Duration>,
    /// Keep the demo folder at the end.
    pub keep: bool,
}

/// The demo office's admin login printed for the visitor.
pub const DEMO_USER: &str = "demo";

/// Everything the demo started, stopped in reverse order.
struct Office {
    dir: PathBuf,
    config: hadir_config::Config,
    api_token: String,
    admin: SocketAddr,
    tablets: SocketAddr,
    gateway: tokio::process::Child,
    reader: SimHandle,
    push_reader: PushSim,
    receiver_db: Arc<Mutex<ReceiverDb>>,
    http: reqwest::Client,
}

/// Runs the demo until Ctrl-C or `run_for`.
pub async fn run(opts: DemoOptions) -> anyhow::Result<()> {
    let (dir, temporary) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("hadir-demo-{}", std::process::id())),
            !opts.keep,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = run_in(&dir, &opts).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("demo files kept in {}", dir.display());
    }
    result
}

async fn run_in(dir: &Path, opts: &DemoOptions) -> anyhow::Result<()> {
    let people = scenario::people();
    let mut office = start_office(dir, opts.admin_port, &people).await?;
    let outcome = play(&mut office, &people, opts.run_for).await;
    stop_office(office).await;
    outcome
}

async fn start_office(dir: &Path, admin_port: u16, people: &[Person]) -> anyhow::Result<Office> {
    // The provincial side: the reference receiver over HTTP with Basic auth.
    let receiver_db = Arc::new(Mutex::new(
        ReceiverDb::open(&dir.join("provinsi.db"), KeyPolicy::TrustOnFirstUse)
            .context("opening the receiver database")?,
    ));
    let upstream_password = random_secret();
    let receiver_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_addr = receiver_listener.local_addr()?;
    let app = hadir_receiver::http::router(
        receiver_db.clone(),
        hadir_receiver::http::Behaviour::default(),
        Some(("kutim".into(), upstream_password.clone())),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(receiver_listener, app).await {
            tracing::error!("demo receiver stopped: {e}");
        }
    });

    // A fingerprint reader at the front door whose clock is 95 s fast (the gateway fixes it).
    let reader = Simulator::start(SimConfig {
        users: scenario::reader_users(people),
        records: scenario::overnight_punches(people),
        serial: "CKZK212260001".into(),
        device_name: "Pintu Depan".into(),
        clock_offset_secs: scenario::WITA_OFFSET_S + 95,
        ..SimConfig::default()
    })
    .await
    .context("starting the reader simulator")?;

    let admin = match std::net::TcpListener::bind(("127.0.0.1", admin_port)) {
        Ok(l) => l.local_addr()?,
        Err(_) => std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?,
    };
    let tablets = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let push = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let api_token = random_secret();
    let config_path = dir.join("hadir.toml");
    let text = scenario::config_toml(&scenario::ConfigInputs {
        data_dir: &dir.join("data"),
        admin,
        tablets,
        reader: reader.addr(),
        receiver: receiver_addr,
        push,
        api_token: &api_token,
        upstream_password: &upstream_password,
    });
    std::fs::write(&config_path, text)?;
    let config = hadir_config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;

    let exe = std::env::current_exe().context("locating the hadir binary")?;
    scenario::create_demo_login(&exe, &config_path).await?;
    let mut gateway = tokio::process::Command::new(exe)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(dir.join("gateway.log"))?))
        .kill_on_drop(true)
        .spawn()
        .context("starting the gateway")?;
    let stdout = gateway.stdout.take().context("gateway stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut admin_seen = None;
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("hadir: admin http://") {
                admin_seen = rest.split('/').next().and_then(|a| a.parse().ok());
            }
            if line == "hadir: ready" {
                return Ok::<bool, std::io::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        let _ = gateway.start_kill();
        anyhow::bail!(
            "the gateway did not become ready; see {}",
            dir.join("gateway.log").display()
        );
    }
    // Keep draining the gateway's stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // A newer reader at the back door pushes over HTTP (ADMS); its users come from the roster.
    let push_reader = PushSim::start(PushSimConfig {
        server: format!("http://{push}"),
        serial: scenario::PUSH_SERIAL.into(),
        utc_offset_secs: scenario::WITA_OFFSET_S,
        poll_interval: Some(Duration::from_secs(1)),
        ..PushSimConfig::default()
    })
    .context("starting the push reader simulator")?;

    let office = Office {
        dir: dir.to_path_buf(),
        config,
        api_token,
        admin: admin_seen.unwrap_or(admin),
        tablets,
        gateway,
        reader,
        push_reader,
        receiver_db,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    };
    for p in people {
        office.put_employee(p).await?;
    }
    office.travel_order(&people[scenario::TRAVELLER]).await?;
    Ok(office)
}

impl Office {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    async fn put_employee(&self, p: &Person) -> anyhow::Result<()> {
        let mut body = serde_json::json!({"name": p.name, "unit": p.unit, "position": p.position});
        if let Some((lat, lon)) = p.home {
            body["home_lat"] = lat.into();
            body["home_lon"] = lon.into();
        }
        let r = self
            .http
            .put(self.url(&format!("/api/v1/employees/{}", p.nip)))
            .bearer_auth(&self.api_token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "adding {}: {}",
            p.name,
            r.text().await?
        );
        Ok(())
    }

    async fn travel_order(&self, p: &Person) -> anyhow::Result<()> {
        let today = scenario::today();
        let r = self
            .http
            .post(self.url("/api/v1/travel-orders"))
            .bearer_auth(&self.api_token)
            .json(&serde_json::json!({
                "nip": p.nip,
                "spt_number": "094/123/SPT-DISKOMINFO/XI/2026",
                "from": today.to_string(),
                "to": today.saturating_add(jiff::Span::new().days(2)).to_string(),
            }))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "travel order: {}", r.text().await?);
        Ok(())
    }

    /// The office code on the entrance display right now, as a tablet would scan it.
    async fn current_qr(&self) -> anyhow::Result<String> {
        let token = std::fs::read_to_string(self.config.storage.data_dir.join("display-token"))?;
        let r: serde_json::Value = self
            .http
            .get(self.url(&format!("/api/v1/qr?token={}", token.trim())))
            .send()
            .await?
            .json()
            .await?;
        r["code"]
            .as_str()
            .map(str::to_string)
            .context("the QR endpoint gave no code")
    }

    /// The code that was on the display ten minutes ago (a photo of the screen, say).
    fn old_qr(&self) -> anyhow::Result<String> {
        let hex_secret = std::fs::read_to_string(self.config.storage.data_dir.join("qr-secret"))?;
        let secret = hex::decode(hex_secret.trim()).context("qr-secret is not hex")?;
        let then = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
        Ok(crate::verify::qr::code_at(
            &secret,
            self.config.verification.qr_step_s,
            then,
        ))
    }

    async fn health(&self) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .http
            .get(self.url("/health"))
            .send()
            .await?
            .json()
            .await?)
    }

    fn received_upstream(&self) -> u64 {
        self.receiver_db
            .lock()
            .ok()
            .and_then(|db| db.record_count().ok())
            .unwrap_or(0)
    }
}

async fn play(
    office: &mut Office,
    people: &[Person],
    run_for: Option<Duration>,
) -> anyhow::Result<()> {
    let provisioned = vec![
        crate::tablets::provision::register(&office.config, "Tablet Pintu Depan").await?,
        crate::tablets::provision::register(&office.config, "HP Dinas Luar").await?,
    ];
    print_banner(office);

    // Tablets registered while the gateway runs are picked up within a few seconds.
    let mut tablets = Vec::new();
    for p in &provisioned {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let t = loop {
            match tablet::SimTablet::connect(office.tablets, p).await {
                Ok(t) => break t,
                Err(e) if tokio::time::Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        tablets.push(t);
    }

    println!("\n  time      source      employee               verdict        reasons");
    let qr = office.current_qr().await?;
    let old_qr = office.old_qr()?;
    for scene in scenario::morning(people, &qr, &old_qr) {
        match scene {
            Scene::CheckIn {
                person,
                tablet,
                payload,
            } => {
                let t = &mut tablets[tablet];
                let line = match t.check_in(&payload, Duration::from_secs(10)).await {
                    Ok(reply) => scenario::describe_reply(&people[person], &reply),
                    Err(e) => format!("{:<22} no reply: {e}", people[person].name),
                };
                println!("  {}  tablet      {line}", scenario::clock());
            }
            Scene::FingerPush { person } => {
                office.push_reader.punch(people[person].nip, 0, 1);
                println!(
                    "  {}  fingerprint {:<22} pushed by the back-door reader (ADMS)",
                    scenario::clock(),
                    people[person].name
                );
            }
            Scene::Finger { person } => {
                let record = scenario::punch_now(&people[person], &office.reader);
                office.reader.push_live_event(record);
                println!(
                    "  {}  fingerprint {:<22} stored when the gateway reads the reader",
                    scenario::clock(),
                    people[person].name
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round = 0u64;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                println!("\nstopping the demo…");
                break;
            }
            _ = tick.tick() => {
                round += 1;
                print_status(office).await;
                // Keep the morning going: another honest check-in every 15 s.
                if round % 3 == 0 {
                    let qr = office.current_qr().await?;
                    let (person, payload) = scenario::another_honest(people, &qr, round);
                    if let Ok(reply) = tablets[0].check_in(&payload, Duration::from_secs(10)).await {
                        println!("  {}  tablet      {}", scenario::clock(), scenario::describe_reply(&people[person], &reply));
                    }
                }
                if run_for.is_some_and(|d| started.elapsed() >= d) {
                    break;
                }
            }
        }
    }
    for t in tablets {
        t.disconnect().await;
    }
    Ok(())
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 18] = rand::thread_rng().gen();
    hex::encode(bytes)
}

fn print_banner(office: &Office) {
    let o = &office.config.office;
    println!();
    println!("  Hadir demo — {} ({})", o.name, o.timezone);
    println!("  ────────────────────────────────────────────────────────────────");
    println!("  admin UI      http://{}/", office.admin);
    println!(
        "  login         {DEMO_USER} / {}   (API token {})",
        scenario::DEMO_PASSWORD,
        office.api_token
    );
    println!(
        "  office QR     http://{}/qr?token=<{}>",
        office.admin,
        office
            .config
            .storage
            .data_dir
            .join("display-token")
            .display()
    );
    println!("  health        http://{}/health", office.admin);
    println!(
        "  reader        {} (simulated ZKTeco, serial CKZK212260001)",
        office.reader.addr()
    );
    println!(
        "  push reader   serial {} posting to the gateway",
        office.push_reader.serial()
    );
    println!("  tablets       mqtt://{}", office.tablets);
    println!(
        "  provinsi      reference receiver, database {}",
        office.dir.join("provinsi.db").display()
    );
    println!("  Ctrl-C stops everything.");
}

async fn print_status(office: &Office) {
    let Ok(h) = office.health().await else {
        println!("  {}  status: gateway not answering", scenario::clock());
        return;
    };
    let devices = h["devices"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| {
                    format!(
                        "{} {}",
                        d["name"].as_str().unwrap_or("?"),
                        if d["online"].as_bool() == Some(true) {
                            "online"
                        } else {
                            "offline"
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    println!(
        "  {}  status: {} records stored, backlog {}, provinsi holds {} · readers: {}",
        scenario::clock(),
        h["store"]["records"].as_u64().unwrap_or(0),
        h["store"]["backlog"].as_u64().unwrap_or(0),
        office.received_upstream(),
        devices
    );
}

async fn stop_office(mut office: Office) {
    if let Some(pid) = office
        .gateway
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    match tokio::time::timeout(Duration::from_secs(15), office.gateway.wait()).await {
        Ok(Ok(status)) if status.success() => println!("gateway stopped cleanly"),
        Ok(Ok(status)) => println!("gateway exited with {status}"),
        _ => {
            let _ = office.gateway.start_kill();
            println!("gateway did not stop in 15 s; killed");
        }
    }
    office.push_reader.shutdown().await;
    office.reader.shutdown().await;
}
