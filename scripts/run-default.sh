#!/usr/bin/env bash
# Builds and runs the gateway on its embedded default configuration: data in ./hadir-data,
# admin UI and API on http://127.0.0.1:8080/. Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
HADIR_DEPS=run "$top/scripts/ensure-deps.sh"
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --release --manifest-path "$top/Cargo.toml" -p hadir -- run "$@"
