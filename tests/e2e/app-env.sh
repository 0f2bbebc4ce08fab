# Sourced by tests/e2e/run.sh and benches/app-idle.sh: which builder image and which built UI
# the app runs with. Needs ROOT and CARGO_TARGET_DIR; sets IMAGE and UI (real|placeholder) and
# exports TAURI_CONFIG when the app must load another dist than ui/dist.
#
#   BUILDERBAR_E2E_IMAGE=DIR   an image directory (default: tests/guest/build.sh's output)
#   BUILDERBAR_E2E_DIST=DIR    a built UI other than ui/dist
#
# Without a built UI the app loads tests/e2e/placeholder.html (the e2e flow then drives the IPC
# commands the UI would call, and says so).

IMAGE=${BUILDERBAR_E2E_IMAGE:-}
if [ -z "$IMAGE" ]; then
  IMAGE=$("$ROOT/tests/guest/build.sh" | tail -n 1)
fi
if [ ! -f "$IMAGE/builderbar-image.json" ]; then
  echo "$IMAGE holds no builderbar-image.json (set BUILDERBAR_E2E_IMAGE to an image directory)" >&2
  exit 2
fi

if [ -n "${BUILDERBAR_E2E_DIST:-}" ]; then
  UI=real
  export TAURI_CONFIG="{\"build\":{\"frontendDist\":\"$BUILDERBAR_E2E_DIST\"}}"
elif [ -f "$ROOT/ui/dist/index.html" ]; then
  UI=real
  unset TAURI_CONFIG
else
  UI=placeholder
  DIST=$CARGO_TARGET_DIR/e2e-placeholder-dist
  mkdir -p "$DIST"
  cp "$ROOT/tests/e2e/placeholder.html" "$DIST/index.html"
  export TAURI_CONFIG="{\"build\":{\"frontendDist\":\"$DIST\"}}"
fi
