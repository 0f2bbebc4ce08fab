#!/usr/bin/env bash
# Trivial remote build round trip through the builder vs `ssh builder true`, in the same run.
# Boots the test guest in a throwaway BUILDERBAR_HOME, runs `builderbar setup` into temp conf
# dirs (elevation none: run as root), then times N of each. The gap is Nix's own overhead
# (ssh-ng handshake, derivation upload, build, output copy back). Substituters are off: this
# machine has no network, and a lookup of cache.nixos.org would be measured instead.
# Usage: benches/remote-build.sh [N]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}

cargo build --quiet --locked -p builderbar-cli
bb=$PWD/target/debug/builderbar
work=$(mktemp -d)
export BUILDERBAR_HOME=$work/home
trap '$bb stop --timeout 5 >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/etc/nix" "$work/etc/ssh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$bb settings set accelerator tcg >/dev/null 2>&1
$bb settings set port "$port" >/dev/null 2>&1
$bb settings set image "$(bash tests/guest/build.sh 2>/dev/null | tail -n1)" >/dev/null 2>&1
dirs=(--nix-conf-dir "$work/etc/nix" --ssh-config-dir "$work/etc/ssh" --elevation none)
$bb setup --yes "${dirs[@]}" >/dev/null 2>&1

ssh_cmd=(ssh -F "$work/etc/ssh/builderbar.conf" -o "UserKnownHostsFile=$BUILDERBAR_HOME/data/vm/known_hosts" -o BatchMode=yes builderbar-builder true)
build_cmd() {
  NIX_CONF_DIR=$work/etc/nix NIX_USER_CONF_FILES=/dev/null NIX_REMOTE='' NIX_SSHOPTS="-F $work/etc/ssh/builderbar.conf" \
    nix-build --no-out-link --max-jobs 0 --quiet --option substituters "" -E \
    "derivation { name = \"bench\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; args = [ \"-c\" \"echo \$nonce > \$out\" ]; nonce = \"$1\"; }" >/dev/null
}
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

ssh_times=() build_times=()
for i in $(seq "$n"); do
  t=$(now); "${ssh_cmd[@]}"; ssh_times+=($(( ($(now) - t) / 1000000 )))
  t=$(now); build_cmd "$$-$i-$(now)"; build_times+=($(( ($(now) - t) / 1000000 )))
done
ssh_med=$(printf '%s\n' "${ssh_times[@]}" | median)
build_med=$(printf '%s\n' "${build_times[@]}" | median)
echo "runs: $n (interleaved)"
echo "ssh builder true:            median ${ssh_med} ms   (all: ${ssh_times[*]})"
echo "nix-build --max-jobs 0:      median ${build_med} ms   (all: ${build_times[*]})"
awk -v b="$build_med" -v s="$ssh_med" 'BEGIN {printf "ratio build/ssh: %.1fx; Nix overhead beyond one ssh login: %d ms\n", b/s, b-s}'
