#!/usr/bin/env bash
# Boots the test guest under qemu (TCG) twice: ssh, a real remote Nix build, clean power-off, boot count.
#
# No Rust involved: this is the spec the Rust supervisor follows, and a debugging aid.
# Needs root (the host's nix-bin runs single-user against /nix, as in FACTS.md).
# SMOKE_KEEP=1 keeps the temp dir (console logs, keys) for inspection.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=$EPOCHREALTIME

say() { printf 'smoke: %s\n' "$*" >&2; }
die() {
  say "FAIL: $*"
  [[ -f "${console:-}" ]] && { say "last console lines:"; tail -n 30 "$console" >&2; }
  exit 1
}
# Seconds since $1 (an EPOCHREALTIME), two decimals.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

for t in qemu-system-x86_64 qemu-img ssh ssh-keygen python3 nix-build base64; do
  command -v "$t" >/dev/null || die "missing host tool $t"
done

b0=$EPOCHREALTIME
image=$("$here/build.sh" | tail -n1)
build_s=$(since "$b0")
say "image $image (build.sh: ${build_s} s)"

# Everything from the manifest, as the app would read it.
read_manifest() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"m": m}))' "$image/builderbar-image.json" "$1"; }
kernel="$image/$(read_manifest 'm["kernel"]')"
initrd="$image/$(read_manifest 'm["initrd"]')"
cmdline=$(read_manifest 'm["cmdline"]')
console_dev=$(read_manifest 'm["console"]')
marker=$(read_manifest 'm["ready_marker"]')
user=$(read_manifest 'm["ssh"]["user"]')
prefix=$(read_manifest 'm["keys"]["prefix"]')
serial=$(read_manifest '[d for d in m["disks"] if d["kind"] == "state"][0]["serial"]')
mem=${SMOKE_MEM:-$(read_manifest 'm["min_memory_mib"]')}

# Short path: unix socket names must stay under 104 bytes (macOS).
tmp=$(mktemp -d /tmp/bb-smoke.XXXXXX)
qemu_pid=
cleanup() {
  if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then kill -KILL "$qemu_pid" 2>/dev/null || true; fi
  if [[ "${SMOKE_KEEP:-}" == 1 ]]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -C builderbar-guest-host -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -C builderbar-client -f "$tmp/client_key"
qemu-img create -q -f qcow2 "$tmp/state.qcow2" 8G
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
alias=builderbar-guest
printf '%s %s\n' "$alias" "$(cut -d' ' -f1,2 "$tmp/host_key.pub")" >"$tmp/known_hosts"
cat >"$tmp/ssh_config" <<EOF
Host $alias
  HostName 127.0.0.1
  Port $port
  User $user
  HostKeyAlias $alias
  IdentityFile $tmp/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking yes
  UserKnownHostsFile $tmp/known_hosts
  BatchMode yes
  ConnectTimeout 10
EOF
gssh() { ssh -F "$tmp/ssh_config" "$alias" "$@"; }

# qemu, as the app starts it; boot_args can drop the keys or the disk for the error paths.
start_qemu() {
  local n=$1
  shift
  console="$tmp/console-$n.log"
  : >"$console"
  qemu-system-x86_64 -accel tcg -cpu qemu64 -m "$mem" -smp 2 \
    -nodefaults -no-user-config -display none -vga none \
    -kernel "$kernel" -initrd "$initrd" -append "console=$console_dev $cmdline" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0,romfile= \
    "$@" \
    -chardev "socket,id=ser0,path=$tmp/serial.sock,server=on,wait=off,logfile=$console" -serial chardev:ser0 \
    -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
    -pidfile "$tmp/qemu.pid" &
  qemu_pid=$!
}
keys=(-fw_cfg "name=$prefix/ssh_host_ed25519_key,file=$tmp/host_key"
  -fw_cfg "name=$prefix/authorized_keys,file=$tmp/client_key.pub")
disk=(-drive "if=none,id=state,file=$tmp/state.qcow2,format=qcow2" -device "virtio-blk-pci,drive=state,serial=$serial")

# Boots with keys and state disk (or the given devices) and waits for the ready marker.
boot() {
  local n=$1
  shift
  if (($#)); then start_qemu "$n" "$@"; else start_qemu "$n" "${keys[@]}" "${disk[@]}"; fi
  local s=$EPOCHREALTIME deadline=$((SECONDS + 60))
  until grep -q "^$marker" "$console" 2>/dev/null; do
    kill -0 "$qemu_pid" 2>/dev/null || die "qemu exited before $marker"
    ((SECONDS < deadline)) || die "no $marker within 60 s"
    sleep 0.05
  done
  say "boot $n: qemu start -> $marker: $(since "$s") s"
}

# QMP: capabilities, then one command; python3 so no socat is needed.
qmp() {
  python3 - "$tmp/qmp.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def call(cmd):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
json.loads(f.readline())  # greeting
call("qmp_capabilities")
r = call(sys.argv[2])
if "error" in r: sys.exit("QMP error: %s" % r["error"])
EOF
}

powerdown() {
  local n=$1 s=$EPOCHREALTIME
  qmp system_powerdown
  local i=0
  while kill -0 "$qemu_pid" 2>/dev/null; do
    ((i++ < 300)) || die "qemu still running 15 s after system_powerdown"
    sleep 0.05
  done
  wait "$qemu_pid" || die "qemu exited with an error"
  qemu_pid=
  say "boot $n: system_powerdown -> qemu exit: $(since "$s") s"
  grep -q 'builderbar-guest: shutting down' "$console" || die "console lacks 'builderbar-guest: shutting down'"
}

# --- Boot 1: ssh, a remote build, power-off.
boot 1
grep -q 'builderbar-guest: boot 1' "$console" || die "console lacks 'builderbar-guest: boot 1'"
# The marker promises sshd listens: its banner must come through the forward right away.
s=$EPOCHREALTIME
python3 - "$port" <<'EOF2' || die "no SSH banner on 127.0.0.1:$port after $marker"
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
assert c.recv(64).startswith(b"SSH-2.0-"), "not an SSH banner"
EOF2
say "ready -> ssh banner: $(since "$s") s"
s=$EPOCHREALTIME
out=$(gssh 'uname -a; nix-store --version; id -un; hostname') || die "ssh failed"
say "ssh round trip: $(since "$s") s"
printf '%s\n' "$out" | sed 's/^/smoke:   guest: /' >&2
grep -q 'nix-store (Nix) ' <<<"$out" || die "nix-store --version missing"

# A real remote build from the host's nix (single-user root, temporary config), as
# FACTS.md says; $1 is the URI scheme: ssh-ng (guest nix-daemon --stdio) or ssh
# (guest nix-store --serve). Sets $result.
mkdir -p "$tmp/nixconf"
cat >"$tmp/nixconf/nix.conf" <<EOF
builders = @$tmp/machines
max-jobs = 0
substituters =
build-users-group =
sandbox = false
EOF
remote_build() {
  local scheme=$1 s=$EPOCHREALTIME nonce
  printf '%s://%s@%s x86_64-linux %s 1 1 - - %s\n' "$scheme" "$user" "$alias" "$tmp/client_key" \
    "$(base64 -w0 "$tmp/host_key.pub")" >"$tmp/machines"
  # A nonce makes every run a new derivation, so nothing is already in the host store.
  nonce="$(date +%s%N)-$$"
  result=$(NIX_REMOTE='' NIX_CONF_DIR="$tmp/nixconf" NIX_USER_CONF_FILES=/dev/null NIX_SSHOPTS="-F $tmp/ssh_config" \
    nix-build --no-out-link -E "derivation { name = \"bb-smoke\"; nonce = \"$nonce\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; args = [ \"-c\" \"echo \$(cat /proc/sys/kernel/hostname) > \$out\" ]; }" \
    2>"$tmp/nix-build.log") || { cat "$tmp/nix-build.log" >&2; die "remote build over $scheme:// failed"; }
  say "remote build over $scheme://: $(since "$s") s -> $result"
  [[ "$(cat "$result")" == builderbar-guest ]] || die "build output is '$(cat "$result")', not the guest's hostname"
  gssh "test -e $result" || die "the build's output is not in the guest's store"
}
remote_build ssh-ng
powerdown 1

# --- Boot 2: the state disk kept the boot count and the Nix store.
boot 2
grep -q 'builderbar-guest: boot 2' "$console" || die "console lacks 'builderbar-guest: boot 2'"
grep -q 'not cleanly unmounted' "$console" && die "the power-off left the state disk unclean"
gssh "test -e $result" || die "the guest's store lost $result across a restart"
say "state disk kept boot count and store"
remote_build ssh

# The serial console has a root shell: type into the socket, read the log.
python3 - "$tmp/serial.sock" <<'EOF2'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"\necho console-$((6*7)) $(uname -r)\n"); time.sleep(0.2); s.close()
EOF2
i=0
until grep -q 'console-42 [0-9]' "$console"; do
  ((i++ < 200)) || die "the serial console shell did not answer"
  sleep 0.05
done
say "serial console shell: $(grep -a -o 'console-42 [^[:cntrl:]]*' "$console" | head -n1)"
powerdown 2

# --- Without a state disk the guest still comes up, on tmpfs, and says so. The keys
# come without final newlines this time (a key writer may omit them).
printf '%s' "$(cat "$tmp/host_key")" >"$tmp/host_key.nonl"
printf '%s' "$(cat "$tmp/client_key.pub")" >"$tmp/client_key.pub.nonl"
boot 3 -fw_cfg "name=$prefix/ssh_host_ed25519_key,file=$tmp/host_key.nonl" \
  -fw_cfg "name=$prefix/authorized_keys,file=$tmp/client_key.pub.nonl"
grep -q 'builderbar-guest: no state disk' "$console" || die "console lacks 'builderbar-guest: no state disk'"
gssh 'nix-store --version' >/dev/null || die "ssh without a state disk failed"
# A pinned key that is not the guest's must be refused (no trust on first use).
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other_key"
printf '%s %s\n' "$alias" "$(cut -d' ' -f1,2 "$tmp/other_key.pub")" >"$tmp/wrong_known_hosts"
if ssh -F "$tmp/ssh_config" -o UserKnownHostsFile="$tmp/wrong_known_hosts" "$alias" true 2>/dev/null; then
  die "ssh accepted a host key that is not pinned"
fi
powerdown 3

# --- Without keys the guest says why and powers itself off.
s=$EPOCHREALTIME
start_qemu 4 "${disk[@]}"
i=0
while kill -0 "$qemu_pid" 2>/dev/null; do
  ((i++ < 1200)) || die "qemu without keys did not power off within 60 s"
  sleep 0.05
done
qemu_pid=
grep -q 'builderbar-guest: error: no SSH host key' "$console" || die "console lacks the missing-key error"
grep -q "^$marker" "$console" && die "guest without keys claimed readiness"
say "boot without keys: error and power-off after $(since "$s") s"

say "PASS in $(since "$t0") s"
