#!/usr/bin/env bash
# Checks the arm64 (Raspberry Pi) package on an x86_64 Debian 12 machine. Not part of CI by
# default: it depends on the Debian mirror, qemu and binfmt, and takes minutes.
#
#   packaging/check-arm64.sh           # = --short
#   packaging/check-arm64.sh --short   # cross build, inspect the .deb, run the binary under
#                                      # qemu-aarch64-static, check /health  (~1 min warm)
#   packaging/check-arm64.sh --full    # --short, then boot an arm64 Debian 12 in systemd-nspawn,
#                                      # install the .deb there (postinst starts the unit) and
#                                      # check it as a real Type=notify service with its
#                                      # watchdog, then purge it  (~3 min warm, +2 min for the
#                                      # first debootstrap)
#   packaging/check-arm64.sh --full --no-build   # package the arm64 binary already built
#
# Needs root for --full (debootstrap, binfmt, nspawn). The arm64 root file system is cached in
# target/check-arm64/rootfs; delete it to start over. HADIR_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$HOME/.cargo/bin:$PATH"
mode=${1:---short}
case "$mode" in
  --short | --full) ;;
  -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
  *) echo "check-arm64: unknown option $mode (--short or --full)" >&2; exit 2 ;;
esac
t0=$(date +%s)
step() { echo "--- arm64: $* ($(($(date +%s) - t0))s)"; }
fail() { echo "check-arm64: FAIL: $*" >&2; exit 1; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v file >/dev/null || need+=(file)
command -v curl >/dev/null || need+=(curl)
if [ "$mode" = --full ]; then
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
fi
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "cross build"
deb=$(packaging/build-deb.sh arm64 ${2:+"$2"} | tail -n 1)
deb=$(readlink -f "$deb")
work=$(mktemp -d /tmp/hadir-arm64.XXXXXX)
pid=""
nspawn=""
leader=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
    # Under qemu the container's systemd ignores nspawn's SIGTERM: power it off from inside.
    [ -n "$leader" ] && nsenter -t "$leader" -a systemctl poweroff 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$nspawn" 2>/dev/null || break; sleep 1; done
    kill -KILL "$nspawn" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "inspect $(basename "$deb")"
dpkg-deb -I "$deb" | sed -n 's/^ \(Architecture\|Depends\|Installed-Size\|Version\):/  \1:/p'
[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || fail "Architecture is not arm64"
dpkg-deb -x "$deb" "$work/pkg"
file "$work/pkg/usr/bin/hadir"
file "$work/pkg/usr/bin/hadir" | grep -q 'ELF 64-bit LSB .*ARM aarch64' || fail "not an aarch64 ELF"

step "run under qemu-aarch64-static"
# The binary needs an arm64 glibc: the cross libc from libc6-dev-arm64-cross is used through
# QEMU_LD_PREFIX unless libc6:arm64 is installed (then the system one is found directly).
ld_prefix=()
if [ ! -e /lib/ld-linux-aarch64.so.1 ]; then ld_prefix=(env QEMU_LD_PREFIX=/usr/aarch64-linux-gnu); fi
"${ld_prefix[@]}" qemu-aarch64-static "$work/pkg/usr/bin/hadir" version
mkdir -p "$work/data"
# Every `*listen` key (admin, tablet broker, …) moves to its own free loopback port (the broker
# needs fixed ports); the admin port is remembered for the /health check.
sed -e "s|^data_dir = .*|data_dir = \"$work/data\"|" -e 's/^min_free_mb = .*/min_free_mb = 1/' \
  packaging/hadir.toml >"$work/hadir.toml.in"
port=$(python3 - "$work/hadir.toml.in" "$work/hadir.toml" <<'PY'
import re, socket, sys
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
admin, section, out = None, "", []
for line in open(sys.argv[1]):
    m = re.match(r'^\[(\w+)\]', line)
    if m:
        section = m.group(1)
    m = re.match(r'^([a-z_]*listen) = "', line)
    if m:
        p = free()
        line = f'{m.group(1)} = "127.0.0.1:{p}"\n'
        if section == "admin" and m.group(1) == "listen":
            admin = p
    out.append(line)
open(sys.argv[2], "w").write("".join(out))
print(admin)
PY
)
"${ld_prefix[@]}" qemu-aarch64-static "$work/pkg/usr/bin/hadir" check-config "$work/hadir.toml"
start_ns=$(date +%s%N)
"${ld_prefix[@]}" qemu-aarch64-static "$work/pkg/usr/bin/hadir" run --config "$work/hadir.toml" \
  >"$work/out.log" 2>"$work/err.log" &
pid=$!
for _ in $(seq 1 600); do
  grep -qx 'hadir: ready' "$work/out.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/out.log" "$work/err.log"; fail "hadir exited before ready"; }
  sleep 0.05
done
grep -qx 'hadir: ready' "$work/out.log" || { cat "$work/out.log" "$work/err.log"; fail "not ready within 30 s"; }
echo "ready under qemu in $((($(date +%s%N) - start_ns) / 1000000)) ms"
curl -fsS "http://127.0.0.1:$port/health" | tee "$work/health.json"
echo
grep -q '"status":"ok"' "$work/health.json" || fail "/health is not ok"
doctor_out=$("${ld_prefix[@]}" qemu-aarch64-static "$work/pkg/usr/bin/hadir" doctor --config "$work/hadir.toml") || true
echo "$doctor_out"
grep -q '^OK    admin port: .*served by a running hadir' <<<"$doctor_out" || fail "doctor does not see the gateway"
kill -TERM "$pid"
wait "$pid" || fail "hadir did not stop cleanly (exit $?)"
pid=""

if [ "$mode" = --short ]; then
  step "done (short): $(basename "$deb") $(du -k "$deb" | cut -f1) KiB"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "--full needs root"
step "binfmt for aarch64"
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || fail "qemu-aarch64 binfmt lacks the F flag"

rootfs="$top/target/check-arm64/rootfs"
if [ ! -x "$rootfs/lib/systemd/systemd" ]; then
  step "debootstrap arm64 bookworm (first run only)"
  mkdir -p "$(dirname "$rootfs")"
  rm -rf "$rootfs.tmp"
  debootstrap --arch=arm64 --variant=minbase --include=systemd,systemd-sysv,dbus,adduser,curl \
    bookworm "$rootfs.tmp" "${HADIR_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  mv "$rootfs.tmp" "$rootfs"
fi
if chroot "$rootfs" dpkg -s hadir >/dev/null 2>&1; then
  chroot "$rootfs" dpkg --purge hadir >/dev/null || true
fi
cp "$deb" "$rootfs/root/hadir.deb"
# qemu-user is multithreaded, and a multithreaded process cannot unshare a user namespace
# (EINVAL, "Failed at step USER"): PrivateUsers= cannot work under emulation. A real Pi, or an
# amd64 container, runs the unit unchanged.
mkdir -p "$rootfs/etc/systemd/system/hadir.service.d"
printf '[Service]\nPrivateUsers=no\n' >"$rootfs/etc/systemd/system/hadir.service.d/qemu-user.conf"

step "boot the container (systemd under qemu)"
if pgrep -f "systemd-nspawn -D $rootfs" >/dev/null; then fail "a container on $rootfs is already running"; fi
# Own network namespace: the container's 127.0.0.1:8080 cannot clash with the host's.
systemd-nspawn -D "$rootfs" -b --register=no --keep-unit --console=pipe --private-network \
  --machine=hadir-arm64 >"$work/boot.log" 2>&1 &
nspawn=$!
leader=""
for _ in $(seq 1 120); do
  # The container's init: nspawn's child running systemd (through the qemu binfmt handler).
  leader=$(ps --ppid "$nspawn" -o pid=,args= | awk '/lib\/systemd\/systemd/ { print $1; exit }' || true)
  [ -n "$leader" ] && break
  sleep 0.5
done
[ -n "$leader" ] || { cat "$work/boot.log"; fail "no container init"; }
in_ct() { nsenter -t "$leader" -a "$@"; }
for _ in $(seq 1 180); do
  state=$(in_ct systemctl is-system-running 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  sleep 1
done
echo "container: $state"

step "install in the container (postinst enables and starts hadir.service)"
in_ct dpkg -i /root/hadir.deb
for _ in $(seq 1 120); do
  [ "$(in_ct systemctl is-active hadir 2>/dev/null || true)" = active ] && break
  sleep 1
done
in_ct systemctl --no-pager status hadir || fail "hadir.service is not active"
in_ct systemctl show hadir -p Type -p WatchdogUSec -p User -p NRestarts -p ExecMainStartTimestampMonotonic \
  -p ActiveEnterTimestampMonotonic -p StatusText
show() { in_ct systemctl show hadir -p "$1" --value; }
[ "$(show Type)" = notify ] || fail "Type is not notify"
[ "$(show StatusText)" != "" ] || fail "no STATUS= from the daemon"
ready_ms=$((($(show ActiveEnterTimestampMonotonic) - $(show ExecMainStartTimestampMonotonic)) / 1000))
echo "start to READY=1 under qemu: ${ready_ms} ms"
nsenter -t "$leader" -n curl -fsS http://127.0.0.1:8080/health || fail "/health in the container"
echo
in_ct stat -c '%a %U %G %n' /var/lib/hadir /etc/hadir/hadir.toml /var/lib/hadir/hadir.db

step "watchdog: still active, no restarts, after 45 s (WatchdogSec=30)"
sleep 45
[ "$(show ActiveState)" = active ] || fail "hadir.service is no longer active"
[ "$(show NRestarts)" = 0 ] || fail "hadir.service restarted ($(show NRestarts))"
in_ct journalctl -u hadir --no-pager -n 20 -o short-monotonic || true
in_ct journalctl -u hadir --no-pager | grep -qi 'watchdog timeout' && fail "watchdog timeout in the journal"
step "online systemd-analyze security in the container"
in_ct systemd-analyze security --no-pager hadir.service | tail -n 1

step "SIGKILL by the watchdog when pings stop (SIGSTOP the daemon)"
main_pid=$(show MainPID)
in_ct sh -c "kill -STOP $main_pid" # minbase has no kill(1): the shell builtin
for _ in $(seq 1 90); do
  [ "$(show NRestarts)" != 0 ] && break
  sleep 1
done
[ "$(show NRestarts)" != 0 ] || fail "systemd did not restart a daemon that stopped pinging"
in_ct journalctl -u hadir --no-pager | grep -i 'watchdog' | tail -n 2
for _ in $(seq 1 60); do
  [ "$(show ActiveState)" = active ] && break
  sleep 1
done
[ "$(show ActiveState)" = active ] || fail "not active again after the watchdog restart"

step "restart, purge"
in_ct systemctl restart hadir
[ "$(show ActiveState)" = active ] || fail "restart"
in_ct dpkg --purge hadir >/dev/null
[ "$(in_ct systemctl is-active hadir 2>/dev/null || true)" != active ] || fail "still active after purge"
in_ct test ! -e /var/lib/hadir || fail "/var/lib/hadir left after purge"
in_ct systemctl poweroff || true
for _ in $(seq 1 120); do kill -0 "$nspawn" 2>/dev/null || break; sleep 1; done
nspawn=""
step "done (full)"
