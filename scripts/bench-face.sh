#!/usr/bin/env bash
# The face verification benchmark (issue #5) built the way the Raspberry Pi package is built:
# whole-program LTO in one codegen unit, code generated for the CPU it runs on (here: this
# machine, `target-cpu=native`; the Pi package: `cortex-a72`, see .cargo/config.toml and
# packaging/build-deb.sh). Runs the same pipeline in onnxruntime in the same run and prints the
# ratio. Uses its own target directory so the normal builds are not invalidated.
#
#   scripts/bench-face.sh              # 200 verifications
#   HADIR_BENCH_N=500 scripts/bench-face.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/ensure-deps.sh   # also the onnxruntime venv for the reference
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$top/target/bench-native"
export CARGO_PROFILE_BENCH_LTO=fat
export CARGO_PROFILE_BENCH_CODEGEN_UNITS=1
export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native"
exec cargo bench -p hadir-face --bench pipeline "$@"
