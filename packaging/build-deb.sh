#!/usr/bin/env bash
# Builds the Hadir Debian package: target/debian/hadir_<version>_<arch>.deb
#
#   packaging/build-deb.sh            # amd64 (this machine)
#   packaging/build-deb.sh arm64      # Raspberry Pi (64-bit Raspberry Pi OS), cross-built here
#
# Installs what is missing: cargo-deb (cargo install --locked), and for arm64 the rustup target
# aarch64-unknown-linux-gnu and the Debian cross compiler gcc-aarch64-linux-gnu (linker set in
# .cargo/config.toml). Extra arguments go to `cargo deb` (e.g. --fast, --no-build).
# Prints the path of the .deb as its last line.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$HOME/.cargo/bin:$PATH"

arch=${1:-amd64}
[ $# -gt 0 ] && shift
case "$arch" in
  amd64) target=x86_64-unknown-linux-gnu ;;
  arm64) target=aarch64-unknown-linux-gnu ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "build-deb: unknown architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  echo "build-deb: installing $*" >&2
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

command -v cargo >/dev/null || HADIR_DEPS=run "$top/scripts/ensure-deps.sh"
if ! cargo deb --version >/dev/null 2>&1; then
  echo "build-deb: installing cargo-deb" >&2
  cargo install --locked cargo-deb
fi

host=$(rustc -vV | sed -n 's/^host: //p')
target_args=()
if [ "$target" != "$host" ]; then
  target_args=(--target "$target")
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
  fi
  if [ "$arch" = arm64 ] && ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  fi
  if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
    # cargo-deb strips with the target's binutils (found on PATH as <triple>-strip/objcopy).
    command -v aarch64-linux-gnu-strip >/dev/null || apt_install binutils-aarch64-linux-gnu
  fi
fi

if [ "$arch" = arm64 ]; then
  # The Pi package: whole-program LTO in one codegen unit (tract inference, see
  # scripts/bench-face.sh, which is built the same way). Not for the amd64 package CI
  # builds, where it would add minutes to every run.
  export CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
fi
mkdir -p target/debian
# cargo-deb prints the path of the package it wrote as its last line.
out=$(cargo deb -p hadir "${target_args[@]}" --output target/debian/ "$@" | tail -n 1)
case "$out" in
  *.deb) ;;
  *) echo "build-deb: cargo deb did not report a .deb (got: $out)" >&2; exit 1 ;;
esac
echo "build-deb: $(du -h "$out" | cut -f1) $out" >&2
echo "$out"
