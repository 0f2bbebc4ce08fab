#!/usr/bin/env bash
# The aarch64 test guest under TCG beside the x86_64 one, in the same run: boot to ready,
# a trivial remote build round trip, and the graceful stop, through the real `builderbar`.
# Each guest gets a throwaway BUILDERBAR_HOME with the same settings (TCG, CORES vCPUs,
# 1024 MiB), `builderbar setup` into temp conf dirs (elevation none: run as root), then
# BOOTS boots (the first one formats the state disk and is reported apart) and BUILDS builds
# per boot, interleaved x86_64/aarch64 so both see the same machine load.
# Usage: benches/aarch64-guest.sh [BOOTS] [BUILDS]   (default 4 boots, 3 builds; CORES=2)
set -euo pipefail
cd "$(dirname "$0")/.."
boots=${1:-4}
builds=${2:-3}
cores=${CORES:-2}

cargo build --quiet --locked -p builderbar-cli
bb=${CARGO_TARGET_DIR:-$PWD/target}/debug/builderbar
declare -A image=(
  [x86_64]=$(bash tests/guest/build.sh 2>/dev/null | tail -n1)
  [aarch64]=$(bash tests/guest/build.sh --arch aarch64 2>/dev/null | tail -n1)
)
declare -A system=([x86_64]=x86_64-linux [aarch64]=aarch64-linux)
arches=(x86_64 aarch64)
work=$(mktemp -d)
cleanup() {
  for a in "${arches[@]}"; do BUILDERBAR_HOME=$work/$a/home "$bb" stop --timeout 5 >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s%N; }
ms_since() { echo $((($(now) - $1) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
bbx() { BUILDERBAR_HOME=$work/$1/home "$bb" "${@:2}"; }

for a in "${arches[@]}"; do
  mkdir -p "$work/$a/etc/nix" "$work/$a/etc/ssh"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  for kv in "accelerator tcg" "cores $cores" "memory_mib 1024" "port $port" "image ${image[$a]}"; do
    read -r k v <<<"$kv"
    bbx "$a" settings set "$k" "$v" >/dev/null 2>&1
  done
  bbx "$a" setup --yes --no-test-build --nix-conf-dir "$work/$a/etc/nix" --ssh-config-dir "$work/$a/etc/ssh" --elevation none >/dev/null 2>&1
done

build() { # arch nonce: one trivial derivation of the guest's system, sent to the guest
  NIX_CONF_DIR=$work/$1/etc/nix NIX_USER_CONF_FILES=/dev/null NIX_REMOTE='' NIX_SSHOPTS="-F $work/$1/etc/ssh/builderbar.conf" \
    nix-build --no-out-link --max-jobs 0 --quiet --option substituters "" -E \
    "derivation { name = \"bench\"; system = \"${system[$1]}\"; builder = \"/bin/sh\"; args = [ \"-c\" \"echo \$nonce > \$out\" ]; nonce = \"$2\"; }" >/dev/null
}

declare -A first boot_t build_t stop_t
for b in $(seq "$boots"); do
  for a in "${arches[@]}"; do
    t=$(now)
    bbx "$a" start --wait >/dev/null 2>&1
    ms=$(ms_since "$t")
    if ((b == 1)); then first[$a]=$ms; else boot_t[$a]+="$ms "; fi
    for n in $(seq "$builds"); do
      t=$(now)
      build "$a" "$$-$b-$n-$(now)"
      build_t[$a]+="$(ms_since "$t") "
    done
    t=$(now)
    bbx "$a" stop >/dev/null 2>&1
    stop_t[$a]+="$(ms_since "$t") "
  done
done

echo "TCG, $cores vCPUs, 1024 MiB; $boots boots x $builds builds per guest, interleaved; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %14s %14s %8s\n' "median (ms)" x86_64 aarch64 ratio
row() { # label, then the two lists
  local x y
  x=$(tr ' ' '\n' <<<"$2" | grep . | median)
  y=$(tr ' ' '\n' <<<"$3" | grep . | median)
  printf '%-36s %14s %14s %7.1fx\n' "$1" "$x" "$y" "$(awk -v x="$x" -v y="$y" 'BEGIN {print y / x}')"
}
row "first boot (formats the disk) -> ready" "${first[x86_64]}" "${first[aarch64]}"
row "boot -> ready (start --wait)" "${boot_t[x86_64]}" "${boot_t[aarch64]}"
row "build round trip (nix-build)" "${build_t[x86_64]}" "${build_t[aarch64]}"
row "graceful stop" "${stop_t[x86_64]}" "${stop_t[aarch64]}"
for a in "${arches[@]}"; do
  echo "$a all: boot ${boot_t[$a]}| build ${build_t[$a]}| stop ${stop_t[$a]}"
done
