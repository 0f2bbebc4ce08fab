#!/usr/bin/env bash
# Ready detection lag: time from the readiness line reaching the host (qemu appends
# BUILDERBAR-READY to the VM dir's console.log) to the supervisor's state Running, side by
# side with a naive detector: `ssh <pinned-key argv> true` in a loop with `sleep 1` between
# failed attempts (the argv `builderbar ssh -- true` runs), measured from the same line.
#
#   benches/ready-lag.sh [BOOTS]   # BOOTS boots for each detector (default 10), alternating,
#                                  # plus one unmeasured warm-up boot
#
# The detectors get alternate boots: the guest has one vCPU under TCG, and a naive ssh
# handshake in flight (seconds of emulated crypto) would delay the supervisor's banner probe.
# Clocks: all events are wall-clock (CLOCK_REALTIME) timestamps on this host:
#  - readiness line: a separate process polls console.log every 1 ms (adds <= ~1 ms);
#  - Running: the CLI's own log line `builder state state="running"` (BUILDERBAR_LOG=info,
#    microsecond timestamps), written by the supervisor when it sets the state;
#  - naive: the moment its ssh first exits 0.
# BENCH_FLOOR=1 adds a diagnostic detector to the supervisor boots: the poller itself reads the
# SSH banner the moment it sees the line, which shows how long the guest (under TCG) takes to
# answer at all. It competes with the supervisor's own probe, so headline numbers come from
# runs without it.
# Env: BUILDERBAR_BIN (default $CARGO_TARGET_DIR/debug/builderbar, built if missing),
#      BENCH_ACCEL (default tcg), BENCH_KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

BOOTS=${1:-10}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${BUILDERBAR_BIN:-$TARGET/debug/builderbar}
if [[ ! -x $BIN ]]; then cargo build -q -p builderbar-cli; fi
IMAGE=$(bash tests/guest/build.sh 2>/dev/null | tail -1)
MARKER=$(jq -r .ready_marker "$IMAGE/builderbar-image.json")

WORK=$(mktemp -d /tmp/bb-ready-lag.XXXXXX)
export BUILDERBAR_HOME=$WORK/home NO_COLOR=1
VM=$BUILDERBAR_HOME/data/vm
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    "$BIN" stop --timeout 10 >/dev/null 2>&1 || true
    [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" settings set accelerator "${BENCH_ACCEL:-tcg}" >/dev/null
"$BIN" settings set image "$IMAGE" >/dev/null
"$BIN" settings set port "$PORT" >/dev/null

# Prints the wall-clock time at which a line equal to the marker appears in the file.
cat >"$WORK/poll.py" <<'EOF'
import os, socket, sys, time
path, marker, port = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
while not os.path.exists(path):
    time.sleep(0.001)
buf, f = b"", open(path, "rb")
while True:
    chunk = f.read()
    if chunk:
        buf += chunk
        lines = buf.split(b"\n")
        if any(l.strip() == marker for l in lines[:-1]):
            print(f"{time.time():.6f}")
            if os.environ.get("BENCH_FLOOR"):
                # The guest's own answer time: an independent banner probe, started now.
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    got = b""
                    while b"\n" not in got:
                        got += s.recv(256)
                print(f"{time.time():.6f}")
            break
        buf = lines[-1]
    else:
        time.sleep(0.001)
EOF

naive() {
    local argv=(ssh -F /dev/null -o "UserKnownHostsFile=$VM/known_hosts" -o GlobalKnownHostsFile=/dev/null
        -o StrictHostKeyChecking=yes -o HostKeyAlias=builderbar-builder -o IdentitiesOnly=yes
        -o "IdentityFile=$BUILDERBAR_HOME/data/keys/client_ed25519" -o IdentityAgent=none -o BatchMode=yes
        -o ConnectTimeout=10 -o LogLevel=ERROR -p "$PORT" -l builder 127.0.0.1 -- true)
    until "${argv[@]}" </dev/null >/dev/null 2>&1; do sleep 1; done
    date +%s.%N
}

boot() { # $1 = label, $2 = 1 to run the naive loop; leaves times in $WORK/$1.{marker,running,naive}
    rm -f "$VM/console.log"
    timeout 180 python3 "$WORK/poll.py" "$VM/console.log" "$MARKER" "$PORT" >"$WORK/$1.marker" &
    local poll=$!
    PIDS+=("$poll")
    local nv=
    if [[ $2 == 1 ]]; then
        naive >"$WORK/$1.naive" &
        nv=$!
        PIDS+=("$nv")
    fi
    BUILDERBAR_LOG=info "$BIN" start --wait --timeout 120 >"$WORK/$1.out" 2>"$WORK/$1.log"
    wait "$poll"
    if [[ -n $nv ]]; then
        for _ in $(seq 600); do kill -0 "$nv" 2>/dev/null || break; sleep 0.1; done
        kill "$nv" 2>/dev/null || true
        wait "$nv" || true
    fi
    local ts
    ts=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/$1.log" | grep -m1 'builder state state=.running' | awk '{print $1}')
    date -d "$ts" +%s.%N >"$WORK/$1.running"
    "$BIN" stop --timeout 30 >/dev/null 2>&1
}

echo "warm-up boot (creates and formats the state disk; not measured)" >&2
boot warmup 0
for i in $(seq 1 "$BOOTS"); do
    boot "s$i" 0
    m=$(head -1 "$WORK/s$i.marker") r=$(cat "$WORK/s$i.running") f=$(sed -n 2p "$WORK/s$i.marker")
    echo "$m $r $f" >>"$WORK/sup"
    python3 -c "print(f'boot {2 * $i - 1:2d}: supervisor      {($r - $m) * 1000:7.1f} ms')"
    boot "n$i" 1
    m=$(head -1 "$WORK/n$i.marker") n=$(cat "$WORK/n$i.naive")
    echo "$m $n" >>"$WORK/naive"
    python3 -c "print(f'boot {2 * $i:2d}: naive ssh loop  {($n - $m) * 1000:7.1f} ms')"
done

python3 - "$WORK/sup" "$WORK/naive" <<'EOF'
import statistics, sys
rows = lambda p: [list(map(float, l.split())) for l in open(p)]
sup = [(r[1] - r[0]) * 1000 for r in rows(sys.argv[1])]
floor = [(r[2] - r[0]) * 1000 for r in rows(sys.argv[1]) if len(r) > 2]
nai = [(r[1] - r[0]) * 1000 for r in rows(sys.argv[2])]
ms, mn = statistics.median(sup), statistics.median(nai)
print(f"boots: {len(sup)} supervisor, {len(nai)} naive")
print(f"supervisor (marker -> Running): median {ms:.1f} ms  min {min(sup):.1f}  max {max(sup):.1f}")
print(f"naive ssh loop (marker -> ssh ok): median {mn:.1f} ms  min {min(nai):.1f}  max {max(nai):.1f}")
if floor:
    print(f"independent banner probe started at the marker (BENCH_FLOOR=1): median {statistics.median(floor):.1f} ms  min {min(floor):.1f}  max {max(floor):.1f}")
print(f"ratio naive/supervisor (medians): {mn / ms:.1f}x" if ms > 0 else "ratio: supervisor median <= 0")
EOF
