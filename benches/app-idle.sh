#!/usr/bin/env bash
# App idle cost: release build, builder VM running (test guest, TCG), 60 s each:
#   1. all windows closed (the app at rest: the Rust process alone),
#   2. the dashboard open (a second launch opens it in the first, as a user would).
# Measures RSS (sum of VmRSS) and CPU (% of one core) of every process of the app — the app
# and its WebKit children — excluding qemu. Runs under Xvfb with trayer as the tray host.
#
#   benches/app-idle.sh                 # DURATION=60 by default
#   DURATION=20 BUILDERBAR_E2E_IMAGE=DIR benches/app-idle.sh
#   BUILDERBAR_E2E_DIST=DIR benches/app-idle.sh    # a built UI other than ui/dist
#
# Needs what tests/e2e/run.sh needs (minus tauri-driver). Writes test-output/bench/app-idle.txt.
# The measuring is benches/app_idle.py; the home, display and tray host are tests/e2e/harness.py's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-60}
OUT=$ROOT/test-output/bench
mkdir -p "$OUT"

# IMAGE, UI and TAURI_CONFIG: the same choice as the e2e test's.
. "$ROOT/tests/e2e/app-env.sh"
cargo build --release -p builderbar-app --features tauri/custom-protocol
APP=$CARGO_TARGET_DIR/release/builderbar-app

exec dbus-run-session -- python3 "$ROOT/benches/app_idle.py" "$APP" "$IMAGE" "$DURATION" "$OUT/app-idle.txt" "$UI"
