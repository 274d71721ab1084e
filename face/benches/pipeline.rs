//! Verification latency and throughput with the real models, against onnxruntime as the
//! reference in the same run: `cargo bench -p hadir-face --bench pipeline`.
//!
//! One verification = decode the JPEG selfie + detect + crop + embed + match against 3
//! templates. Prints p50/p99 per stage and in total, single-thread and 2-thread throughput, the
//! memory the loaded models add (RSS delta), then runs `face/benches/ort_pipeline.py` (the
//! same pipeline in Python with onnxruntime, one thread) and prints the ratio.
//!
//! Environment: `HADIR_MODELS_DIR` (default `../shared/models`), `HADIR_BENCH_N` (default
//! 200), `HADIR_FACE_PYTHON` (default `target/face-venv/bin/python`, made by
//! `scripts/ensure-deps.sh`; the reference is skipped with a message when absent).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hadir_face::{image, Accept, Check, FaceEngine, RgbImage};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            &img.data,
            img.width as u16,
            img.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encodes");
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let models = std::env::var_os("HADIR_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/models"));
    if !models.join("faceres.onnx").exists() {
        eprintln!("SKIPPED: no models in {}", models.display());
        return;
    }
    let n: usize = std::env::var("HADIR_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let cfg = hadir_config::Face {
        detector_model: Some(models.join("blazeface.onnx")),
        embedder_model: Some(models.join("faceres.onnx")),
        ..Default::default()
    };
    // The selfie: the portrait on a 640×640 background, as a phone would send it.
    let portrait = {
        let bytes = std::fs::read(models.join("astronaut.png")).expect("astronaut.png");
        image::decode(&bytes, &Default::default(), Accept::JpegOrPng).expect("decodes")
    };
    let mut canvas = RgbImage::filled(640, 640, [60, 70, 80]);
    canvas.paste(&portrait, 64, 100);
    let selfie = jpeg(&canvas, 85);

    let before = rss_kib();
    let t = Instant::now();
    let engine = FaceEngine::load(&cfg).expect("models load");
    let mut session = engine.session().expect("session");
    // One warm-up run so lazily allocated buffers count as model memory.
    let limits = engine.limits(1 << 20);
    let warm = session
        .analyse(&selfie, &limits, Accept::JpegOnly)
        .expect("warm-up");
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    let model_mib = (rss_kib().saturating_sub(before)) as f64 / 1024.0;
    let probe = warm.embedding.expect("a face in the selfie");
    let templates = vec![probe.clone(), probe.clone(), probe];

    let mut total = Vec::with_capacity(n);
    let (mut dec, mut det, mut emb) = (Vec::new(), Vec::new(), Vec::new());
    let run_start = Instant::now();
    for _ in 0..n {
        let t0 = Instant::now();
        let img = image::decode(&selfie, &limits, Accept::JpegOnly).expect("decode");
        let t1 = Instant::now();
        let faces = session.detect(&img).expect("detect");
        let t2 = Instant::now();
        let e = session.embed(&img, &faces[0]).expect("embed");
        let score = hadir_face::matcher::best_score(&e, &templates).expect("score");
        let t3 = Instant::now();
        assert!(score > 0.99);
        dec.push(t1 - t0);
        det.push(t2 - t1);
        emb.push(t3 - t2);
        total.push(t3 - t0);
    }
    let single_rate = n as f64 / run_start.elapsed().as_secs_f64();
    // The full verify() path (decode + detect + embed + match + several-faces check).
    match session
        .verify(&selfie, &limits, Accept::JpegOnly, &templates)
        .expect("verify")
    {
        Check::Scored { .. } => {}
        other => panic!("unexpected {other:?}"),
    }
    // Two workers (the Pi 4 has 4 cores; this machine 2).
    let two_rate = {
        let per = n / 2;
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..2 {
                let engine = engine.clone();
                let (selfie, templates) = (&selfie, &templates);
                s.spawn(move || {
                    let mut sess = engine.session().expect("session");
                    for _ in 0..per {
                        sess.verify(selfie, &limits, Accept::JpegOnly, templates)
                            .expect("verify");
                    }
                });
            }
        });
        (2 * per) as f64 / start.elapsed().as_secs_f64()
    };
    for v in [&mut total, &mut dec, &mut det, &mut emb] {
        v.sort();
    }
    println!(
        "hadir-face pipeline (tract-onnx), {n} verifications of a 640×640 JPEG selfie, 1 thread"
    );
    println!(
        "  model load + optimise: {load_ms:.0} ms; model memory (RSS delta): {model_mib:.1} MiB"
    );
    println!(
        "  decode      p50 {:6.2} ms  p99 {:6.2} ms",
        pct(&dec, 0.5),
        pct(&dec, 0.99)
    );
    println!(
        "  detect      p50 {:6.2} ms  p99 {:6.2} ms",
        pct(&det, 0.5),
        pct(&det, 0.99)
    );
    println!(
        "  embed+match p50 {:6.2} ms  p99 {:6.2} ms",
        pct(&emb, 0.5),
        pct(&emb, 0.99)
    );
    let (p50, p99) = (pct(&total, 0.5), pct(&total, 0.99));
    println!("  total       p50 {p50:6.2} ms  p99 {p99:6.2} ms");
    println!(
        "  throughput: {single_rate:.1} verifications/s (1 thread), {two_rate:.1}/s (2 threads)"
    );

    let python = std::env::var_os("HADIR_FACE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/face-venv/bin/python"));
    if !python.exists() {
        println!(
            "onnxruntime reference SKIPPED: no {} (run scripts/ensure-deps.sh)",
            python.display()
        );
        return;
    }
    let tmp = std::env::temp_dir().join(format!("hadir-face-bench-{}.jpg", std::process::id()));
    if std::fs::write(&tmp, &selfie).is_err() {
        println!(
            "onnxruntime reference SKIPPED: cannot write {}",
            tmp.display()
        );
        return;
    }
    let out = std::process::Command::new(&python)
        .arg(root.join("face/benches/ort_pipeline.py"))
        .arg(&models)
        .arg(&tmp)
        .arg(n.to_string())
        .output();
    let _ = std::fs::remove_file(&tmp);
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "onnxruntime reference FAILED: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return;
        }
        Err(e) => {
            println!("onnxruntime reference FAILED: {e}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    if let (Some(o50), Some(o99), Some(orate)) = (
        field("ort_total_p50_ms"),
        field("ort_total_p99_ms"),
        field("ort_rate_per_s"),
    ) {
        println!(
            "ratio tract/onnxruntime: p50 {:.2}×, p99 {:.2}×, throughput {:.2}× (goal: latency within 1.5×)",
            p50 / o50,
            p99 / o99,
            orate / single_rate
        );
    }
}
