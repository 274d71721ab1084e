//! The face engine: both models loaded and optimised once (tract-onnx, batch fixed to 1), and
//! per-thread sessions that run decode → detect → crop → embed → match.

use std::path::Path;
use std::sync::Arc;

use hadir_config::Face as FaceConfig;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::detect::{self, Anchor, Detection};
use crate::image::{self, Accept, ImageError, Limits, RgbImage};
use crate::matcher::{best_score, Decision, Embedding, Thresholds};
use crate::quality::{self, Quality};
use crate::sample::{self, Normalisation};

/// A face counts as "in the picture" for the several-faces check when its box is at least this
/// fraction of the largest face's width (a small face far behind the person is ignored).
pub const PROMINENT_RATIO: f32 = 0.5;

type Plan = Arc<TypedRunnableModel>;
type State = TypedSimpleState;

/// Why the engine could not load or run.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// A model file could not be read: check `face.*_model` and the file's permissions.
    #[error("cannot read the {role} model {path}: {source}")]
    ModelRead {
        /// "detector" or "embedder".
        role: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A model loaded but does not fit the configuration (shapes, outputs): fix `[face.*]`.
    #[error("the {role} model {path} cannot be used: {reason}")]
    Model {
        /// "detector" or "embedder".
        role: &'static str,
        /// The file.
        path: String,
        /// What does not fit.
        reason: String,
    },
    /// The photo could not be decoded; ask for another one.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Inference failed at run time (a bug or a model problem); the check is not performed.
    #[error("face inference failed: {0}")]
    Inference(String),
}

/// A detected face in source-image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// Face probability.
    pub score: f32,
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Keypoints (x, y); BlazeFace: right eye, left eye, nose, mouth, right ear, left ear.
    pub keypoints: Vec<(f32, f32)>,
}

impl Face {
    /// Box centre.
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }
}

/// What the engine found in one photo.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Decoded width (after any decode-time downscaling), pixels.
    pub width: usize,
    /// Decoded height, pixels.
    pub height: usize,
    /// Every face, largest first.
    pub faces: Vec<Face>,
    /// Faces at least [`PROMINENT_RATIO`] of the largest one's width.
    pub prominent: usize,
    /// Embedding of the largest face.
    pub embedding: Option<Embedding>,
    /// Quality of the largest face's crop.
    pub quality: Option<Quality>,
}

/// The result of comparing a selfie with enrolled templates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// No face in the photo.
    NoFace,
    /// More than one prominent face.
    SeveralFaces {
        /// How many.
        count: usize,
    },
    /// No template of this model to compare with.
    NotEnrolled,
    /// The largest face compared with the templates.
    Scored {
        /// Best cosine similarity.
        score: f32,
        /// What the score means.
        decision: Decision,
    },
}

/// Why a photo cannot be enrolled. Each variant tells the operator what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// The file cannot be decoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// No face found.
    #[error("no face found in the photo")]
    NoFace,
    /// More than one face found; enrollment photos must show one person.
    #[error("{count} faces found; the photo must show only the employee")]
    SeveralFaces {
        /// How many.
        count: usize,
    },
    /// The face is too small for a reliable template.
    #[error("the face is only {px} pixels wide; at least {min} are needed (move closer or use a larger photo)")]
    FaceTooSmall {
        /// Width of the face, pixels.
        px: u32,
        /// The minimum (`face.min_face_px`).
        min: u32,
    },
    /// Too dark.
    #[error("the face is too dark (brightness {brightness:.0} of 255, at least {min:.0} needed)")]
    TooDark {
        /// Mean brightness.
        brightness: f32,
        /// The minimum.
        min: f32,
    },
    /// Too bright (overexposed).
    #[error("the face is overexposed (brightness {brightness:.0} of 255, at most {max:.0})")]
    TooBright {
        /// Mean brightness.
        brightness: f32,
        /// The maximum.
        max: f32,
    },
    /// Flat, washed-out face.
    #[error("the face has too little contrast ({contrast:.1}, at least {min:.0} needed)")]
    LowContrast {
        /// Brightness standard deviation.
        contrast: f32,
        /// The minimum.
        min: f32,
    },
    /// Blurred or out of focus.
    #[error("the face is blurred (sharpness {sharpness:.1}, at least {min:.0} needed)")]
    Blurry {
        /// Variance of the Laplacian.
        sharpness: f32,
        /// The minimum.
        min: f32,
    },
    /// The engine failed on this photo.
    #[error("face inference failed: {0}")]
    Engine(String),
}

impl Rejection {
    /// Stable reason code (`enroll.no-face`, `image.truncated`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Image(e) => e.code(),
            Rejection::NoFace => "enroll.no-face",
            Rejection::SeveralFaces { .. } => "enroll.several-faces",
            Rejection::FaceTooSmall { .. } => "enroll.face-too-small",
            Rejection::TooDark { .. } => "enroll.too-dark",
            Rejection::TooBright { .. } => "enroll.too-bright",
            Rejection::LowContrast { .. } => "enroll.low-contrast",
            Rejection::Blurry { .. } => "enroll.blurry",
            Rejection::Engine(_) => "enroll.engine-error",
        }
    }

    /// The message in Bahasa Indonesia.
    pub fn message_id(&self) -> String {
        match self {
            Rejection::Image(e) => e.message_id(),
            Rejection::NoFace => "Tidak ada wajah di foto".into(),
            Rejection::SeveralFaces { count } => {
                format!("Ada {count} wajah di foto; foto harus hanya berisi pegawai")
            }
            Rejection::FaceTooSmall { px, min } => {
                format!("Wajah terlalu kecil ({px} piksel, minimal {min}); ambil foto lebih dekat")
            }
            Rejection::TooDark { .. } => "Wajah terlalu gelap; tambah cahaya".into(),
            Rejection::TooBright { .. } => "Wajah terlalu terang; kurangi cahaya".into(),
            Rejection::LowContrast { .. } => "Wajah kurang jelas (kontras rendah)".into(),
            Rejection::Blurry { .. } => "Foto wajah buram; ambil ulang dengan fokus".into(),
            Rejection::Engine(_) => "Pemeriksaan wajah gagal".into(),
        }
    }
}

/// A photo accepted for enrollment.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The template to store.
    pub embedding: Embedding,
    /// The face it came from.
    pub face: Face,
    /// Its crop quality.
    pub quality: Quality,
}

#[derive(Debug, Clone)]
enum Outputs {
    /// One (score, regressor) output pair per anchor layer.
    Layered(Vec<(usize, usize)>),
    /// One score and one regressor output covering every anchor.
    Concat(usize, usize),
}

struct Detector {
    plan: Plan,
    norm: Normalisation,
    size: usize,
    anchors: Vec<Anchor>,
    outputs: Outputs,
    values_per_anchor: usize,
    box_scale: f32,
    score_threshold: f32,
    iou_threshold: f32,
    nms: hadir_config::NmsKind,
}

struct Embedder {
    plan: Plan,
    norm: Normalisation,
    size: usize,
    output: usize,
    crop_scale: f32,
    align: bool,
}

struct Inner {
    detector: Detector,
    embedder: Embedder,
    model_sha256: String,
    detector_sha256: String,
    thresholds: Thresholds,
    max_image_pixels: u64,
    max_photo_bytes: usize,
    min_face_px: u32,
}

/// Both models, loaded once; cheap to clone and shareable between threads. Run it through a
/// [`Session`] per thread.
#[derive(Clone)]
pub struct FaceEngine(Arc<Inner>);

impl std::fmt::Debug for FaceEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceEngine")
            .field("model_sha256", &self.0.model_sha256)
            .finish_non_exhaustive()
    }
}

fn read_model(role: &'static str, path: &Path) -> Result<(Vec<u8>, String), FaceError> {
    let bytes = std::fs::read(path).map_err(|source| FaceError::ModelRead {
        role,
        path: path.display().to_string(),
        source,
    })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, sha))
}

fn concrete_shape(model: &TypedModel, ix: usize) -> Option<Vec<usize>> {
    let fact = model.output_fact(ix).ok()?;
    fact.shape.as_concrete().map(|s| s.to_vec())
}

impl FaceEngine {
    /// Loads and optimises both models from `[face]`. Takes a second or two (longer on a Pi):
    /// call it once at start, off the async runtime.
    pub fn load(cfg: &FaceConfig) -> Result<FaceEngine, FaceError> {
        let missing = |role| FaceError::Model {
            role,
            path: String::new(),
            reason: "no model file configured".into(),
        };
        let det_path = cfg.detector_model.as_deref().ok_or(missing("detector"))?;
        let emb_path = cfg.embedder_model.as_deref().ok_or(missing("embedder"))?;
        let detector = load_detector(det_path, cfg)?;
        let (embedder, model_sha256) = load_embedder(emb_path, cfg)?;
        Ok(FaceEngine(Arc::new(Inner {
            detector: detector.0,
            detector_sha256: detector.1,
            embedder,
            model_sha256,
            thresholds: Thresholds {
                match_threshold: cfg.match_threshold,
                uncertain_band: cfg.uncertain_band,
            },
            max_image_pixels: cfg.max_image_pixels,
            max_photo_bytes: cfg.max_photo_kb as usize * 1024,
            min_face_px: cfg.min_face_px,
        })))
    }

    /// The embedding model's identity: SHA-256 (hex) of its file. Stored with every template;
    /// templates of another model are never compared.
    pub fn model_sha256(&self) -> &str {
        &self.0.model_sha256
    }

    /// SHA-256 (hex) of the detector file (reported, not part of the template identity).
    pub fn detector_sha256(&self) -> &str {
        &self.0.detector_sha256
    }

    /// The match threshold and uncertain band.
    pub fn thresholds(&self) -> Thresholds {
        self.0.thresholds
    }

    /// Decoding limits for a photo of at most `max_bytes`.
    pub fn limits(&self, max_bytes: usize) -> Limits {
        Limits {
            max_bytes,
            max_pixels: self.0.max_image_pixels,
            ..Limits::default()
        }
    }

    /// A session for the calling thread (reuses model state between runs).
    pub fn session(&self) -> Result<Session, FaceError> {
        let det = self.0.detector.plan.spawn().map_err(inference)?;
        let emb = self.0.embedder.plan.spawn().map_err(inference)?;
        Ok(Session {
            engine: self.clone(),
            det,
            emb,
        })
    }
}

fn inference(e: impl std::fmt::Display) -> FaceError {
    FaceError::Inference(e.to_string())
}

fn load_detector(path: &Path, cfg: &FaceConfig) -> Result<(Detector, String), FaceError> {
    let d = &cfg.detector;
    let (bytes, sha) = read_model("detector", path)?;
    let bad = |reason: String| FaceError::Model {
        role: "detector",
        path: path.display().to_string(),
        reason,
    };
    let size = d.input_size as usize;
    let norm = Normalisation {
        layout: d.layout,
        channels: d.channels,
        scale: d.scale,
        mean: d.mean,
        std: d.std,
    };
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .and_then(|m| m.with_input_fact(0, f32::fact(norm.shape(size)).into()))
        .and_then(|m| m.into_optimized())
        .map_err(|e| bad(format!("{e:#}")))?;
    let shapes: Vec<Vec<usize>> = (0..model.output_outlets().map(|o| o.len()).unwrap_or(0))
        .map(|i| concrete_shape(&model, i).unwrap_or_default())
        .collect();
    let rows = |s: &Vec<usize>| -> Option<(usize, usize)> {
        // [1, N, C] or [N, C] (C = 1 for scores, ≥ 4 for regressors).
        match s.as_slice() {
            [1, n, c] | [n, c] => Some((*n, *c)),
            _ => None,
        }
    };
    let layers = detect::layer_sizes(d.input_size, &d.strides, &d.anchors_per_cell);
    let total: usize = layers.iter().sum();
    let find = |n: usize, score: bool| -> Vec<usize> {
        shapes
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                rows(s).is_some_and(|(rn, c)| rn == n && if score { c == 1 } else { c >= 4 })
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut layered = Vec::new();
    for &n in &layers {
        match (find(n, true).as_slice(), find(n, false).as_slice()) {
            ([s], [r]) => layered.push((*s, *r)),
            _ => break,
        }
    }
    let outputs = if layered.len() == layers.len() {
        Outputs::Layered(layered)
    } else {
        match (find(total, true).as_slice(), find(total, false).as_slice()) {
            ([s], [r]) => Outputs::Concat(*s, *r),
            _ => {
                return Err(bad(format!(
                    "its outputs have shapes {shapes:?}; with face.detector.strides {:?} and \
                     anchors_per_cell {:?} each layer needs a score output [1, N, 1] and a \
                     regressor output [1, N, ≥4] with N = {layers:?} (or one pair with N = {total})",
                    d.strides, d.anchors_per_cell
                )))
            }
        }
    };
    let reg_ix = match &outputs {
        Outputs::Layered(l) => l.iter().map(|p| p.1).collect::<Vec<_>>(),
        Outputs::Concat(_, r) => vec![*r],
    };
    let widths: Vec<usize> = reg_ix
        .iter()
        .filter_map(|&i| rows(&shapes[i]).map(|r| r.1))
        .collect();
    let values_per_anchor = widths.first().copied().unwrap_or(0);
    if widths.iter().any(|&w| w != values_per_anchor) {
        return Err(bad(format!(
            "regressor outputs differ in width: {widths:?}"
        )));
    }
    let plan = model.into_runnable().map_err(|e| bad(format!("{e:#}")))?;
    let box_scale = if d.box_scale > 0.0 {
        d.box_scale
    } else {
        d.input_size as f32
    };
    Ok((
        Detector {
            plan,
            norm,
            size,
            anchors: detect::anchors(d.input_size, &d.strides, &d.anchors_per_cell),
            outputs,
            values_per_anchor,
            box_scale,
            score_threshold: d.score_threshold,
            iou_threshold: d.iou_threshold,
            nms: d.nms,
        },
        sha,
    ))
}

fn load_embedder(path: &Path, cfg: &FaceConfig) -> Result<(Embedder, String), FaceError> {
    let e = &cfg.embedder;
    let (bytes, sha) = read_model("embedder", path)?;
    let bad = |reason: String| FaceError::Model {
        role: "embedder",
        path: path.display().to_string(),
        reason,
    };
    let size = e.input_size as usize;
    let norm = Normalisation {
        layout: e.layout,
        channels: e.channels,
        scale: e.scale,
        mean: e.mean,
        std: e.std,
    };
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .and_then(|m| m.with_input_fact(0, f32::fact(norm.shape(size)).into()))
        .map_err(|e| bad(format!("{e:#}")))?;
    if let Some(name) = &e.output {
        // Keep only the embedding output: other heads (age, gender) are pruned and never run.
        let names: Vec<String> = model
            .output_outlets()
            .map(|outs| {
                outs.iter()
                    .map(|o| {
                        model
                            .outlet_label(*o)
                            .map(str::to_string)
                            .unwrap_or_else(|| model.node(o.node).name.clone())
                    })
                    .collect()
            })
            .unwrap_or_default();
        model.select_outputs_by_name([name.as_str()]).map_err(|_| {
            bad(format!(
                "it has no output named {name:?} (face.embedder.output); outputs: {names:?}"
            ))
        })?;
    }
    let model = model.into_optimized().map_err(|e| bad(format!("{e:#}")))?;
    let n_out = model.output_outlets().map(|o| o.len()).unwrap_or(0);
    let output = (0..n_out)
        .max_by_key(|&i| {
            concrete_shape(&model, i)
                .map(|s| s.iter().product::<usize>())
                .unwrap_or(0)
        })
        .ok_or_else(|| bad("it has no outputs".into()))?;
    let plan = model.into_runnable().map_err(|e| bad(format!("{e:#}")))?;
    Ok((
        Embedder {
            plan,
            norm,
            size,
            output,
            crop_scale: e.crop_scale,
            align: e.align,
        },
        sha,
    ))
}

/// One thread's use of the engine (model states are reused between runs). Not shared between
/// threads; make one per worker.
pub struct Session {
    engine: FaceEngine,
    det: State,
    emb: State,
}

impl Session {
    /// The engine this session runs.
    pub fn engine(&self) -> &FaceEngine {
        &self.engine
    }

    /// Detects faces in a decoded image; largest first.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<Face>, FaceError> {
        let d = &self.engine.0.detector;
        let (map, lb) = sample::letterbox(img, d.size);
        let pixels = sample::sample(img, &map, d.size);
        let input = d.norm.to_tensor(&pixels, d.size);
        let tensor = Tensor::from_shape(&d.norm.shape(d.size), &input).map_err(inference)?;
        let outs = self.det.run(tvec!(tensor.into())).map_err(inference)?;
        let slice = |i: usize| -> Result<Vec<f32>, FaceError> {
            let view = outs
                .get(i)
                .ok_or_else(|| FaceError::Inference(format!("missing detector output {i}")))?
                .to_plain_array_view::<f32>()
                .map_err(inference)?;
            Ok(view.iter().copied().collect())
        };
        let mut logits = Vec::with_capacity(d.anchors.len());
        let mut regs = Vec::with_capacity(d.anchors.len() * d.values_per_anchor);
        match &d.outputs {
            Outputs::Layered(pairs) => {
                for &(s, r) in pairs {
                    logits.extend(slice(s)?);
                    regs.extend(slice(r)?);
                }
            }
            Outputs::Concat(s, r) => {
                logits.extend(slice(*s)?);
                regs.extend(slice(*r)?);
            }
        }
        let dets = detect::decode(
            &d.anchors,
            &logits,
            &regs,
            d.values_per_anchor,
            d.box_scale,
            d.score_threshold,
        );
        let mut faces: Vec<Face> = detect::nms(dets, d.iou_threshold, d.nms)
            .into_iter()
            .map(|det| to_source(&det, &lb))
            .collect();
        faces.sort_by(|a, b| (b.width * b.height).total_cmp(&(a.width * a.height)));
        Ok(faces)
    }

    /// The embedder's input crop of a face: RGB values (0..255) of `size`×`size` pixels.
    pub fn crop(&self, img: &RgbImage, face: &Face, size: usize) -> Vec<[f32; 3]> {
        let e = &self.engine.0.embedder;
        let side = face.width.max(face.height) * e.crop_scale;
        let angle = if e.align {
            eye_angle(face).unwrap_or(0.0)
        } else {
            0.0
        };
        let map = sample::square_crop(face.centre(), side, angle, size);
        sample::sample(img, &map, size)
    }

    /// The embedding of one face.
    pub fn embed(&mut self, img: &RgbImage, face: &Face) -> Result<Embedding, FaceError> {
        let size = self.engine.0.embedder.size;
        let pixels = self.crop(img, face, size);
        let e = &self.engine.0.embedder;
        let input = e.norm.to_tensor(&pixels, size);
        let tensor = Tensor::from_shape(&e.norm.shape(size), &input).map_err(inference)?;
        let outs = self.emb.run(tvec!(tensor.into())).map_err(inference)?;
        let raw = outs
            .get(e.output)
            .ok_or_else(|| FaceError::Inference("missing embedding output".into()))?
            .to_plain_array_view::<f32>()
            .map_err(inference)?
            .iter()
            .copied()
            .collect();
        Embedding::from_raw(raw)
            .ok_or_else(|| FaceError::Inference("the embedding is zero or not finite".into()))
    }

    /// Decodes a photo, finds its faces, and embeds and measures the largest one.
    pub fn analyse(
        &mut self,
        bytes: &[u8],
        limits: &Limits,
        accept: Accept,
    ) -> Result<Analysis, FaceError> {
        let img = image::decode(bytes, limits, accept)?;
        self.analyse_image(&img)
    }

    /// [`Session::analyse`] on an already decoded image.
    pub fn analyse_image(&mut self, img: &RgbImage) -> Result<Analysis, FaceError> {
        let faces = self.detect(img)?;
        let prominent = match faces.first() {
            Some(big) => faces
                .iter()
                .filter(|f| f.width >= big.width * PROMINENT_RATIO)
                .count(),
            None => 0,
        };
        let (embedding, quality) = match faces.first() {
            Some(f) => {
                let q = quality::measure(&self.crop(img, f, quality::SIZE));
                (Some(self.embed(img, f)?), Some(q))
            }
            None => (None, None),
        };
        Ok(Analysis {
            width: img.width,
            height: img.height,
            faces,
            prominent,
            embedding,
            quality,
        })
    }

    /// Compares a selfie with the employee's templates (already filtered to this model).
    pub fn verify(
        &mut self,
        bytes: &[u8],
        limits: &Limits,
        accept: Accept,
        templates: &[Embedding],
    ) -> Result<Check, FaceError> {
        let img = image::decode(bytes, limits, accept)?;
        self.verify_image(&img, templates)
    }

    /// [`Session::verify`] on an already decoded image.
    pub fn verify_image(
        &mut self,
        img: &RgbImage,
        templates: &[Embedding],
    ) -> Result<Check, FaceError> {
        let a = self.analyse_image(img)?;
        if a.faces.is_empty() {
            return Ok(Check::NoFace);
        }
        if a.prominent > 1 {
            return Ok(Check::SeveralFaces { count: a.prominent });
        }
        let Some(probe) = a.embedding else {
            return Ok(Check::NoFace);
        };
        match best_score(&probe, templates) {
            None => Ok(Check::NotEnrolled),
            Some(score) => Ok(Check::Scored {
                score,
                decision: self.engine.0.thresholds.decide(score),
            }),
        }
    }

    /// Checks a photo for enrollment (one face, large, well lit and sharp) and returns its
    /// template. JPEG or PNG, at most `face.max_photo_kb`.
    pub fn enroll_candidate(&mut self, bytes: &[u8]) -> Result<Candidate, Rejection> {
        let limits = self.engine.limits(self.engine.0.max_photo_bytes);
        let img = image::decode(bytes, &limits, Accept::JpegOrPng)?;
        let a = self
            .analyse_image(&img)
            .map_err(|e| Rejection::Engine(e.to_string()))?;
        let (Some(face), Some(embedding), Some(q)) = (a.faces.first(), a.embedding, a.quality)
        else {
            return Err(Rejection::NoFace);
        };
        if a.faces.len() > 1 {
            return Err(Rejection::SeveralFaces {
                count: a.faces.len(),
            });
        }
        let min = self.engine.0.min_face_px;
        if face.width < min as f32 {
            return Err(Rejection::FaceTooSmall {
                px: face.width.max(0.0).round() as u32,
                min,
            });
        }
        if q.brightness < quality::MIN_BRIGHTNESS {
            return Err(Rejection::TooDark {
                brightness: q.brightness,
                min: quality::MIN_BRIGHTNESS,
            });
        }
        if q.brightness > quality::MAX_BRIGHTNESS {
            return Err(Rejection::TooBright {
                brightness: q.brightness,
                max: quality::MAX_BRIGHTNESS,
            });
        }
        if q.contrast < quality::MIN_CONTRAST {
            return Err(Rejection::LowContrast {
                contrast: q.contrast,
                min: quality::MIN_CONTRAST,
            });
        }
        if q.sharpness < quality::MIN_SHARPNESS {
            return Err(Rejection::Blurry {
                sharpness: q.sharpness,
                min: quality::MIN_SHARPNESS,
            });
        }
        Ok(Candidate {
            embedding,
            face: face.clone(),
            quality: q,
        })
    }
}

/// The angle of the line from the right eye (image left) to the left eye (image right).
fn eye_angle(face: &Face) -> Option<f32> {
    let (r, l) = (face.keypoints.first()?, face.keypoints.get(1)?);
    let a = (l.1 - r.1).atan2(l.0 - r.0);
    a.is_finite().then_some(a)
}

fn to_source(d: &Detection, lb: &sample::Letterbox) -> Face {
    let (cx, cy) = lb.to_source(d.cx, d.cy);
    let (w, h) = (d.w * lb.side, d.h * lb.side);
    Face {
        score: d.score,
        x: cx - w / 2.0,
        y: cy - h / 2.0,
        width: w,
        height: h,
        keypoints: d
            .keypoints
            .iter()
            .map(|&(x, y)| lb.to_source(x, y))
            .collect(),
    }
}
