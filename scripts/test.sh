#!/usr/bin/env bash
# Runs the whole test suite (unit, integration with the real binary, real brokers and peers),
# installing what it needs first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/ensure-deps.sh"
export PATH="$HOME/.cargo/bin:$PATH"
export HADIR_PYZK_PYTHON="$top/target/pyzk-venv/bin/python"
cd "$top"
cargo test --workspace "$@"
