#!/usr/bin/env bash
# Installs what building and testing Hadir needs on a Debian machine, skipping what is present.
# Safe to run repeatedly. Used by scripts/run-default.sh, scripts/test.sh and .ci/run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ "${HADIR_DEPS:-test}" = test ]; then
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
  command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
  command -v npm >/dev/null 2>&1 || need_apt+=(npm)   # sample faces for the face tests
  # Headless Chromium and its WebDriver for the web UI browser test (tests/browser.rs).
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromedriver ] || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${need_apt[*]}"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "ensure-deps: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

if [ "${HADIR_DEPS:-test}" = test ]; then
  # pyzk, the independent reference client, for cross-validating the reader simulator.
  venv="$top/target/pyzk-venv"
  if ! "$venv/bin/python" -c 'import zk' >/dev/null 2>&1; then
    echo "ensure-deps: creating $venv with pyzk"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check pyzk==0.9
  fi
  # iclockhelper, an independent parser of ADMS push bodies, cross-checks the push parser
  # (issue 7). It imports pkg_resources, hence the setuptools pin.
  if ! "$venv/bin/python" -c 'import iclockhelper' >/dev/null 2>&1; then
    echo "ensure-deps: adding iclockhelper to $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check iclockhelper==0.0.4 'setuptools<81'
  fi
fi

if [ "${HADIR_DEPS:-test}" = test ]; then
  # Face verification (issue 5): sample faces for the embedding tests, and onnxruntime as the
  # benchmark's reference. The models themselves are in ../shared/models (not downloaded).
  samples="$top/target/face-samples"
  if [ ! -s "$samples/screenshot-facematch.jpg" ] && command -v npm >/dev/null 2>&1; then
    echo "ensure-deps: fetching sample faces from npm @vladmandic/human@3.3.6 into $samples"
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent @vladmandic/human@3.3.6 >/dev/null 2>&1); then
      mkdir -p "$samples"
      tar -xzf "$tmp"/vladmandic-human-3.3.6.tgz -C "$tmp" package/assets/screenshot-facematch.jpg package/assets/samples.jpg
      cp "$tmp"/package/assets/screenshot-facematch.jpg "$tmp"/package/assets/samples.jpg "$samples/"
    else
      echo "ensure-deps: WARNING: npm pack failed; face tests that need sample faces will skip"
    fi
    rm -rf "$tmp"
  fi
  venv="$top/target/face-venv"
  if ! "$venv/bin/python" -c 'import onnxruntime, numpy, PIL' >/dev/null 2>&1; then
    echo "ensure-deps: creating $venv with onnxruntime"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check onnxruntime numpy pillow
  fi
fi
