#!/usr/bin/env bash
# Start overhead: time from the start call to qemu's exec, excluding first disk creation.
#
#   benches/start-overhead.sh [RUNS]      # default 20, plus one unmeasured warm-up start
#
# A fake `qemu-system-x86_64` first on PATH appends $EPOCHREALTIME to a file and execs the real
# qemu (so the supervisor's QMP handshake and the later stop work as usual). Measured, with
# $EPOCHREALTIME taken by this script just before it execs the process:
#   cli:      `builderbar start` (process start, settings, image manifest, keys, port check,
#             known_hosts, guest keys, run record, spawn) -> the fake qemu runs
#   baseline: the fake qemu spawned directly by this script -> the fake qemu runs
# Also split out: from the supervisor's first log line (state Starting, logged at the top of
# start) to the exec, i.e. without process start-up, argument parsing and settings loading.
# The difference of the medians is Builderbar's own overhead; both include the fake's bash
# start-up, which is why it is subtracted rather than reported as zero. The warm-up start
# creates the state disk, so no measured start does.
# Env: BUILDERBAR_BIN (default $CARGO_TARGET_DIR/debug/builderbar, built if missing),
#      REAL_QEMU (default the qemu-system-x86_64 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-20}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$(realpath "${BUILDERBAR_BIN:-$TARGET/debug/builderbar}" 2>/dev/null || true)
if [[ ! -x $BIN ]]; then cargo build -q -p builderbar-cli && BIN=$(realpath "$TARGET/debug/builderbar"); fi
REAL_QEMU=${REAL_QEMU:-$(command -v qemu-system-x86_64)}
IMAGE=$(bash tests/guest/build.sh 2>/dev/null | tail -1)

WORK=$(mktemp -d /tmp/bb-start-overhead.XXXXXX)
export BUILDERBAR_HOME=$WORK/home
cleanup() {
    "$BIN" stop --timeout 5 >/dev/null 2>&1 || true
    [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/bin"
cat >"$WORK/bin/qemu-system-x86_64" <<EOF
#!/bin/bash
echo "\$EPOCHREALTIME" >>"\$BENCH_EXEC_LOG"
exec "$REAL_QEMU" "\$@"
EOF
chmod +x "$WORK/bin/qemu-system-x86_64"
export PATH=$WORK/bin:$PATH

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" settings set accelerator tcg >/dev/null
"$BIN" settings set image "$IMAGE" >/dev/null
"$BIN" settings set port "$PORT" >/dev/null

export BENCH_EXEC_LOG=$WORK/exec.log
echo "warm-up start (creates the state disk and keys; not measured)" >&2
"$BIN" start >/dev/null
"$BIN" stop --timeout 1 >/dev/null

for i in $(seq 1 "$RUNS"); do
    : >"$BENCH_EXEC_LOG"
    t0=$EPOCHREALTIME
    "$WORK/bin/qemu-system-x86_64" -version >/dev/null
    echo "$t0 $(head -1 "$BENCH_EXEC_LOG")" >>"$WORK/baseline"

    : >"$BENCH_EXEC_LOG"
    t0=$EPOCHREALTIME
    NO_COLOR=1 BUILDERBAR_LOG=info "$BIN" start >/dev/null 2>"$WORK/start.log"
    t1=$(head -1 "$BENCH_EXEC_LOG")
    echo "$t0 $t1" >>"$WORK/cli"
    ts=$(grep -m1 'builder state state=.starting. pid=None' "$WORK/start.log" | awk '{print $1}')
    echo "$(date -d "$ts" +%s.%N) $t1" >>"$WORK/inproc"
    "$BIN" stop --timeout 1 >/dev/null
done

python3 - "$WORK/baseline" "$WORK/cli" "$BIN" "$WORK/inproc" <<'EOF'
import statistics, sys
def lat(p): return [(float(b) - float(a)) * 1000 for a, b in (l.split() for l in open(p))]
base, cli, inproc = lat(sys.argv[1]), lat(sys.argv[2]), lat(sys.argv[4])
mb, mc = statistics.median(base), statistics.median(cli)
print(f"binary: {sys.argv[3]}; runs: {len(cli)}")
print(f"baseline (spawn the fake qemu directly):    median {mb:6.2f} ms  min {min(base):6.2f}  max {max(base):6.2f}")
print(f"builderbar start -> qemu exec:              median {mc:6.2f} ms  min {min(cli):6.2f}  max {max(cli):6.2f}")
print(f"  of which supervisor (state Starting -> qemu exec): median {statistics.median(inproc):6.2f} ms  min {min(inproc):6.2f}  max {max(inproc):6.2f}")
print(f"overhead (difference of medians):           {mc - mb:6.2f} ms   ratio {mc / mb:.1f}x")
EOF
