#!/usr/bin/env bash
# CI: a short cargo-fuzz run of every parser target (the committed corpus also runs in the normal
# test suite through drivers/tests/fuzz_corpus.rs). Needs a nightly toolchain; skipped with a
# message when there is none.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
secs=${HADIR_FUZZ_SECS:-15}
if ! rustup toolchain list 2>/dev/null | grep -q nightly; then
  echo "fuzz: SKIPPED: no nightly toolchain (the corpus still ran in the test suite)"
  exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
cd "$top/fuzz"
for target in $(cargo +nightly fuzz list); do
  echo "fuzz: $target for ${secs}s"
  # Work on a copy of the corpus so CI does not grow the committed one.
  work=$(mktemp -d)
  cp -r "corpus/$target/." "$work/" 2>/dev/null || true
  cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$secs" -rss_limit_mb=1024 2>&1 | tail -3
  rm -rf "$work"
done
