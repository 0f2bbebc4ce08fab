#!/usr/bin/env bash
# The real app end to end under Xvfb, with trayer as the tray host and tauri-driver +
# WebKitWebDriver as the WebDriver server. Idempotent; installs nothing.
#
#   tests/e2e/run.sh                     # image: tests/guest/build.sh's output
#   BUILDERBAR_E2E_IMAGE=DIR tests/e2e/run.sh
#   BUILDERBAR_E2E_DIST=DIR tests/e2e/run.sh   # a built UI other than ui/dist
#
# Needs (Debian 12): xvfb xauth trayer xdotool imagemagick webkit2gtk-driver dbus-daemon
# qemu-system-x86 python3, the Tauri build packages (libwebkit2gtk-4.1-dev
# libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev build-essential pkg-config)
# and tauri-driver (`cargo install tauri-driver --version 2.1.0 --locked`).
# Screenshots and logs go to test-output/e2e/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/test-output/e2e

missing=()
for tool in Xvfb trayer xdotool import WebKitWebDriver dbus-run-session python3 qemu-system-x86_64 cargo; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
TAURI_DRIVER=$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")
[ -x "$TAURI_DRIVER" ] || missing+=(tauri-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e: missing tools: ${missing[*]} (see the header of $0)" >&2
  exit 2
fi

# IMAGE, UI and TAURI_CONFIG: the same choice as the idle benchmark's.
. "$ROOT/tests/e2e/app-env.sh"
echo "e2e: building the app (ui: $UI)"
cargo build -p builderbar-app --features tauri/custom-protocol
cargo build -p builderbar-cli
APP=$CARGO_TARGET_DIR/debug/builderbar-app

rm -rf "$OUT"
mkdir -p "$OUT"
exec dbus-run-session -- python3 "$ROOT/tests/e2e/e2e.py" \
  --app "$APP" --image "$IMAGE" --ui "$UI" --out "$OUT" --tauri-driver "$TAURI_DRIVER" \
  --cli "$CARGO_TARGET_DIR/debug/builderbar"
