//! Face verification in the daemon (issue 5): a bounded pool of inference threads that the
//! check-in intake asks for a [`FaceOutcome`], and enrollment of templates from photos (CLI and
//! web UI).
//!
//! Back-pressure: `face.workers` threads each own a model session and take jobs from a channel
//! holding at most `face.queue` waiting jobs. A check-in whose job does not fit is recorded at
//! once with `face.busy` (review); one that waits longer than `face.wait_ms` is recorded the
//! same way and the worker skips the stale job. So a burst of selfies never blocks other
//! check-ins, the async runtime never runs inference, and memory stays bounded.

pub mod cli;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hadir_face::{Accept, Check, Decision, Embedding, FaceEngine, FaceError, Rejection};
use serde::Serialize;

use crate::store::{NewFaceTemplate, Store, StoreError};
use crate::verify::FaceOutcome;

/// Most photos per enrollment.
pub const MAX_ENROLL_PHOTOS: usize = 5;

struct Job {
    photo: Vec<u8>,
    templates: Vec<Embedding>,
    deadline: Instant,
    reply: tokio::sync::oneshot::Sender<Result<Check, FaceError>>,
}

/// Counters for `/metrics` and logs.
#[derive(Debug, Default)]
pub struct FaceStats {
    /// Checks that ran.
    pub checked: AtomicU64,
    /// Checks answered "busy" (queue full or waited too long).
    pub busy: AtomicU64,
    /// Checks the engine failed on.
    pub failed: AtomicU64,
}

/// The face-check worker pool. Cheap to clone; the worker threads end when the last clone is
/// dropped.
#[derive(Clone)]
pub struct FacePool {
    engine: FaceEngine,
    jobs: SyncSender<Job>,
    wait: Duration,
    selfie_max_bytes: usize,
    stats: Arc<FaceStats>,
}

impl FacePool {
    /// Starts `face.workers` threads. `selfie_max_bytes` caps check-in photos
    /// (`verification.photo_max_kb`).
    pub fn start(
        engine: FaceEngine,
        cfg: &hadir_config::Face,
        selfie_max_bytes: usize,
    ) -> std::io::Result<FacePool> {
        let (jobs, rx) = sync_channel::<Job>(cfg.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let limits = engine.limits(selfie_max_bytes);
        for i in 0..cfg.workers.max(1) {
            let rx = rx.clone();
            let engine = engine.clone();
            std::thread::Builder::new()
                .name(format!("hadir-face-{i}"))
                .spawn(move || worker(engine, rx, limits))?;
        }
        Ok(FacePool {
            engine,
            jobs,
            wait: Duration::from_millis(cfg.wait_ms),
            selfie_max_bytes,
            stats: Arc::new(FaceStats::default()),
        })
    }

    /// The engine the workers run.
    pub fn engine(&self) -> &FaceEngine {
        &self.engine
    }

    /// Counters.
    pub fn stats(&self) -> &FaceStats {
        &self.stats
    }

    /// Compares a selfie with templates (of this model) on a worker. Never waits longer than
    /// `face.wait_ms`; a full queue or a timeout is [`FaceOutcome::Busy`].
    pub async fn check(&self, photo: Vec<u8>, templates: Vec<Embedding>) -> FaceOutcome {
        if photo.len() > self.selfie_max_bytes {
            return FaceOutcome::Failed;
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            photo,
            templates,
            deadline: Instant::now() + self.wait,
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("face check busy: the queue is full; the check-in goes to review");
                return FaceOutcome::Busy;
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!("face workers are gone; the check-in goes to review");
                return FaceOutcome::Failed;
            }
        }
        let result = match tokio::time::timeout(self.wait, answer).await {
            Err(_) | Ok(Err(_)) => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    wait_ms = self.wait.as_millis() as u64,
                    "face check busy: no result within face.wait_ms; the check-in goes to review"
                );
                return FaceOutcome::Busy;
            }
            Ok(Ok(r)) => r,
        };
        self.stats.checked.fetch_add(1, Ordering::Relaxed);
        let threshold = self.engine.thresholds().match_threshold;
        match result {
            Ok(Check::NoFace) => FaceOutcome::NoFace,
            Ok(Check::SeveralFaces { count }) => FaceOutcome::SeveralFaces {
                count: u32::try_from(count).unwrap_or(u32::MAX),
            },
            Ok(Check::NotEnrolled) => FaceOutcome::NotEnrolled { other_models: 0 },
            Ok(Check::Scored { score, decision }) => match decision {
                Decision::Match => FaceOutcome::Match { score, threshold },
                Decision::Uncertain => FaceOutcome::Uncertain { score, threshold },
                Decision::Mismatch => FaceOutcome::Mismatch { score, threshold },
            },
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "face check failed: {e}; the check-in goes to review");
                FaceOutcome::Failed
            }
        }
    }
}

fn worker(engine: FaceEngine, rx: Arc<Mutex<Receiver<Job>>>, limits: hadir_face::Limits) {
    let mut session = match engine.session() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "face worker cannot start a session: {e}");
            None
        }
    };
    loop {
        let job = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(j) => j,
                Err(_) => return, // the pool was dropped
            }
        };
        if Instant::now() >= job.deadline || job.reply.is_closed() {
            continue; // the check-in already went on as "busy"
        }
        let result = match session.as_mut() {
            Some(s) => s.verify(&job.photo, &limits, Accept::JpegOnly, &job.templates),
            None => Err(FaceError::Inference("no model session".into())),
        };
        let _ = job.reply.send(result);
    }
}

/// The face outcome for a check-in: not performed without a pool; not enrolled without
/// templates of this model (other models' templates are never compared); otherwise the pool's
/// answer.
pub async fn outcome(
    pool: Option<&FacePool>,
    store: &Store,
    nip: &str,
    photo: &[u8],
) -> FaceOutcome {
    let Some(pool) = pool else {
        return FaceOutcome::NotPerformed;
    };
    let stored = match store.face_templates(nip.to_string()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read face templates: {e}");
            return FaceOutcome::Failed;
        }
    };
    let model = pool.engine().model_sha256();
    let (mine, other): (Vec<_>, Vec<_>) = stored.into_iter().partition(|t| t.model_sha256 == model);
    let templates: Vec<Embedding> = mine
        .iter()
        .filter_map(|t| Embedding::from_bytes(&t.embedding))
        .collect();
    if templates.is_empty() {
        return FaceOutcome::NotEnrolled {
            other_models: u32::try_from(other.len()).unwrap_or(u32::MAX),
        };
    }
    pool.check(photo.to_vec(), templates).await
}

/// One accepted enrollment photo.
#[derive(Debug, Clone, Serialize)]
pub struct EnrolledPhoto {
    /// Position in the request (1-based).
    pub index: usize,
    /// Face width, pixels.
    pub face_px: u32,
    /// Detector score.
    pub detection_score: f32,
    /// Mean brightness (0..255).
    pub brightness: f32,
    /// Sharpness (variance of the Laplacian).
    pub sharpness: f32,
}

/// What an enrollment stored.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollReport {
    /// Employee NIP.
    pub nip: String,
    /// SHA-256 of the embedding model the templates belong to.
    pub model_sha256: String,
    /// Templates stored.
    pub enrolled: usize,
    /// Earlier templates of this model that were replaced.
    pub replaced: usize,
    /// Lowest similarity between two of the photos (1 when there is one photo).
    pub min_agreement: f32,
    /// Each photo.
    pub photos: Vec<EnrolledPhoto>,
}

/// Why nothing was enrolled. Enrollment is all or nothing: fix or replace the named photos and
/// try again.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Not an acceptable NIP.
    #[error("invalid NIP {0:?}: use 1–32 letters, digits or '-'")]
    BadNip(String),
    /// Between 1 and 5 photos are needed.
    #[error("{0} photos given; enroll 1 to {MAX_ENROLL_PHOTOS}")]
    PhotoCount(usize),
    /// Photos that cannot be used, with the reason for each (1-based index).
    #[error("{}", render_rejections(.0))]
    Rejected(Vec<(usize, Rejection)>),
    /// Two photos do not look like the same person.
    #[error("photos {a} and {b} do not look like the same person (similarity {score:.2}); enroll photos of one employee only")]
    Inconsistent {
        /// First photo (1-based).
        a: usize,
        /// Second photo (1-based).
        b: usize,
        /// Their similarity.
        score: f32,
    },
    /// The engine could not run (a bug or broken model).
    #[error("face engine: {0}")]
    Engine(#[from] FaceError),
    /// The templates could not be stored.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

fn render_rejections(r: &[(usize, Rejection)]) -> String {
    r.iter()
        .map(|(i, why)| format!("photo {i}: {} ({})", why, why.code()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn valid_nip(nip: &str) -> bool {
    (1..=32).contains(&nip.len()) && nip.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Enrolls an employee's face from 1–5 photos (JPEG or PNG bytes, e.g. uploaded in the web UI):
/// each must show exactly one large, well-lit, sharp face, and all must look like the same
/// person. Replaces the employee's earlier templates of this model. Stores embeddings only,
/// never the photos; `actor` ("cli", "web:<operator>") is recorded as the source and in the
/// audit log. Runs the models on a blocking thread.
pub async fn enroll_photos(
    engine: &FaceEngine,
    store: &Store,
    nip: &str,
    photos: &[Vec<u8>],
    actor: &str,
) -> Result<EnrollReport, EnrollError> {
    if !valid_nip(nip) {
        return Err(EnrollError::BadNip(nip.to_string()));
    }
    if !(1..=MAX_ENROLL_PHOTOS).contains(&photos.len()) {
        return Err(EnrollError::PhotoCount(photos.len()));
    }
    let engine2 = engine.clone();
    let photos2 = photos.to_vec();
    let results = tokio::task::spawn_blocking(move || {
        let mut session = engine2.session()?;
        Ok::<_, FaceError>(
            photos2
                .iter()
                .map(|p| session.enroll_candidate(p))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .map_err(|e| FaceError::Inference(format!("enrollment task: {e}")))??;
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(c) => accepted.push((i + 1, c)),
            Err(why) => rejected.push((i + 1, why)),
        }
    }
    if !rejected.is_empty() {
        return Err(EnrollError::Rejected(rejected));
    }
    let t = engine.thresholds();
    let floor = t.match_threshold - t.uncertain_band;
    let mut min_agreement = 1f32;
    for (i, (ia, a)) in accepted.iter().enumerate() {
        for (ib, b) in &accepted[i + 1..] {
            let score = a.embedding.cosine(&b.embedding).unwrap_or(-1.0);
            min_agreement = min_agreement.min(score);
            if score < floor {
                return Err(EnrollError::Inconsistent {
                    a: *ia,
                    b: *ib,
                    score,
                });
            }
        }
    }
    let new: Vec<NewFaceTemplate> = accepted
        .iter()
        .map(|(_, c)| NewFaceTemplate {
            dims: c.embedding.dims(),
            embedding: c.embedding.to_bytes(),
            quality: serde_json::json!({
                "face_px": c.face.width.round(),
                "detection_score": c.face.score,
                "brightness": c.quality.brightness,
                "contrast": c.quality.contrast,
                "sharpness": c.quality.sharpness,
            })
            .to_string(),
            source: actor.to_string(),
        })
        .collect();
    let model = engine.model_sha256().to_string();
    let enrolled = new.len();
    let replaced = store
        .replace_face_templates(nip.to_string(), model.clone(), new)
        .await?;
    let detail =
        serde_json::json!({"templates": enrolled, "replaced": replaced, "model_sha256": model})
            .to_string();
    if let Err(e) = store.audit(actor, "face.enroll", nip, &detail).await {
        tracing::warn!(error = %e, "face enrollment stored but not audited: {e}");
    }
    Ok(EnrollReport {
        nip: nip.to_string(),
        model_sha256: model,
        enrolled,
        replaced,
        min_agreement,
        photos: accepted
            .iter()
            .map(|(i, c)| EnrolledPhoto {
                index: *i,
                face_px: c.face.width.max(0.0).round() as u32,
                detection_score: c.face.score,
                brightness: c.quality.brightness,
                sharpness: c.quality.sharpness,
            })
            .collect(),
    })
}

/// Loads the models and starts the pool when `[face]` is configured; `None` (face check "not
/// performed") otherwise. Loading takes seconds, on a blocking thread.
pub async fn start_pool(config: &hadir_config::Config) -> anyhow::Result<Option<FacePool>> {
    use anyhow::Context;
    if !config.face.enabled() {
        tracing::info!(
            "face verification off (no face.detector_model / face.embedder_model): check-ins record face.not-performed"
        );
        return Ok(None);
    }
    let cfg = config.face.clone();
    let started = Instant::now();
    let engine = tokio::task::spawn_blocking(move || FaceEngine::load(&cfg))
        .await
        .context("face model loading task")?
        .context("loading the face models")?;
    tracing::info!(
        model_sha256 = engine.model_sha256(),
        load_ms = started.elapsed().as_millis() as u64,
        workers = config.face.workers,
        queue = config.face.queue,
        "face verification on"
    );
    let selfie_max = config.verification.photo_max_kb as usize * 1024;
    let pool =
        FacePool::start(engine, &config.face, selfie_max).context("starting the face workers")?;
    Ok(Some(pool))
}
