//! Runs every committed fuzz corpus file (`/fuzz/corpus/<target>/`) through the
//! same entry points the fuzz targets use, so the corpus is a regression suite
//! under plain `cargo test`.

use std::path::PathBuf;

use hadir_drivers::zk::fuzzing;

/// A fuzz entry point.
type Harness = fn(&[u8]);

const TARGETS: [(&str, Harness); 7] = [
    ("tcp_frame", fuzzing::tcp_frame),
    ("udp_packet", fuzzing::udp_packet),
    ("attendance", fuzzing::attendance),
    ("users", fuzzing::users),
    ("live_event", fuzzing::live_event),
    ("push_body", fuzzing::push_body),
    ("templates", fuzzing::templates),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_file_passes_through_its_parser_without_panicking() {
    let mut total = 0;
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
            n += 1;
        }
        assert!(n > 0, "corpus for {target} is empty");
        total += n;
    }
    println!("ran {total} corpus files");
}

#[test]
fn every_corpus_file_is_also_harmless_to_every_other_parser() {
    for (target, _) in TARGETS {
        for entry in std::fs::read_dir(corpus_dir(target)).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            for (_, run) in TARGETS {
                run(&data);
            }
        }
    }
}
