#!/bin/sh
# Builds the `builderbar` CLI and puts it where Tauri's `bundle.externalBin` looks for it
# (tauri.macos.conf.json: "binaries/builderbar"), under the sidecar naming convention:
# src-tauri/binaries/builderbar-<target triple>. The bundler copies it into the app as
# Builderbar.app/Contents/MacOS/builderbar (the triple dropped) and signs it with the app.
#
# `tauri build` runs this in beforeBuildCommand, with TAURI_ENV_TARGET_TRIPLE and
# TAURI_ENV_DEBUG set. By hand: sh src-tauri/build-cli-sidecar.sh [TRIPLE]
# `--dest TRIPLE` prints where the CLI goes and builds nothing (the bundle config test uses it).
# Only the macOS bundle ships the CLI; for other targets this does nothing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --dest ]; then
  printf '%s\n' "$here/binaries/builderbar-$2"
  exit 0
fi
host=$(rustc -vV | sed -n 's/^host: //p')
triple=${1:-${TAURI_ENV_TARGET_TRIPLE:-$host}}
case $triple in
  *-apple-darwin) ;;
  *)
    echo "build-cli-sidecar: the $triple bundle ships no CLI; nothing to build"
    exit 0
    ;;
esac

profile=release
mode=--release
if [ "${TAURI_ENV_DEBUG:-false}" = true ]; then
  profile=debug
  mode=
fi
target_dir=${CARGO_TARGET_DIR:-$here/../target}
dest=$here/binaries/builderbar-$triple
mkdir -p "$here/binaries"

# The CLI built for one target; without --target when that is the host, so it shares the
# compiled dependencies of the app's own build.
built() {
  if [ "$1" = "$host" ]; then
    cargo build $mode --locked -p builderbar-cli >&2
    printf '%s\n' "$target_dir/$profile/builderbar"
  else
    cargo build $mode --locked -p builderbar-cli --target "$1" >&2
    printf '%s\n' "$target_dir/$1/$profile/builderbar"
  fi
}

if [ "$triple" = universal-apple-darwin ]; then
  arm=$(built aarch64-apple-darwin)
  intel=$(built x86_64-apple-darwin)
  lipo -create -output "$dest.tmp" "$arm" "$intel"
else
  cp "$(built "$triple")" "$dest.tmp"
fi
chmod 755 "$dest.tmp"
mv -f "$dest.tmp" "$dest"
echo "build-cli-sidecar: $dest"
