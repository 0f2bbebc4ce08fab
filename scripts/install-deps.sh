#!/usr/bin/env bash
# Installs what Builderbar's development needs on Debian 12, idempotently: apt packages that
# are missing, the cargo tools the checks use, and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  # VM core: qemu, qemu-img, the host Nix (also copied into the test guest), ssh
  qemu-system-x86 qemu-utils nix-bin openssh-client
  # tests/guest/build.sh
  cpio xz-utils python3 git
  # src-tauri (WebKitGTK, tray) and the real-app end-to-end test under Xvfb
  build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev xvfb xauth webkit2gtk-driver dbus-daemon dbus-x11 trayer xdotool imagemagick
  # browser tests (Playwright drives Debian's Chromium)
  chromium
)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo_tool() { # binary crate@version
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/$1" ]; then
    echo "install-deps: cargo install $2" >&2
    cargo install --locked --quiet "$2"
  fi
}
cargo_tool deadnix deadnix@1.3.1
cargo_tool nixfmt nixfmt_rs@0.5.3
if [ -d src-tauri ]; then cargo_tool tauri-driver tauri-driver@2.1.0; fi

if [ -f package-lock.json ]; then
  # npm ci only when node_modules is missing or older than the lock file.
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "install-deps: npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
if [ -f tests/e2e/package-lock.json ] && [ ! -d tests/e2e/node_modules ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: done" >&2
