#!/usr/bin/env bash
# Nix checks for every .nix file in the repo: it parses (nix-instantiate --parse), has no dead
# code (deadnix) and is formatted (nixfmt, the RFC 166 style nixpkgs uses; here nixfmt-rs, which
# prints byte-identical output). Install the two tools with:
#   cargo install --locked deadnix@1.3.1 nixfmt_rs@0.5.3
# Usage: tests/nix/check.sh [--fix]   (--fix formats the files instead of checking them)
# It also checks flake.lock: it matches flake.nix and pins a supported nixpkgs darwin branch
# (eval-lock.nix), `nix flake metadata --offline` reads it, and `nix flake lock --offline`
# leaves it as is. With BUILDERBAR_NIXPKGS_LIB=/path/to/nixpkgs/lib it also evaluates our
# modules (eval-modules.nix) and the flake's outputs (eval-flake.nix).
# Evaluations run with `--store dummy://`: no Nix store is needed or touched; the two flake
# commands use a throwaway store under a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

fix=no
if [ "${1:-}" = --fix ]; then fix=yes; fi

find_tool() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"
  elif [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/$1" ]; then echo "${CARGO_HOME:-$HOME/.cargo}/bin/$1"
  else
    echo "tests/nix/check.sh: $1 is not installed; run: cargo install --locked deadnix@1.3.1 nixfmt_rs@0.5.3" >&2
    exit 2
  fi
}
nix_instantiate=$(find_tool nix-instantiate)
nix=$(find_tool nix)
deadnix=$(find_tool deadnix)
nixfmt=$(find_tool nixfmt)

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.nix' | sort -u)
if [ "${#files[@]}" -eq 0 ]; then echo "tests/nix/check.sh: no .nix files found" >&2; exit 2; fi

passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"
  else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

parse_all() {
  local f ok=0
  for f in "${files[@]}"; do
    "$nix_instantiate" --store dummy:// --parse "$f" >/dev/null || { echo "  does not parse: $f"; ok=1; }
  done
  return $ok
}

check "${#files[@]} files parse" parse_all
if [ $fix = yes ]; then
  check "deadnix --edit" "$deadnix" --edit "${files[@]}"
  check "nixfmt" "$nixfmt" "${files[@]}"
else
  check "no dead code (deadnix)" "$deadnix" --fail "${files[@]}"
  check "formatted (nixfmt --check)" "$nixfmt" --check "${files[@]}"
fi

# flake.lock, with Nix alone and no network.
tmp=$(mktemp -d)
# Store paths are read-only: make them writable so that an unprivileged run can clean up.
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
flake_cmd() { "$nix" --extra-experimental-features 'nix-command flakes' --store "$tmp/store" "$@"; }
lock_matches() { "$nix_instantiate" --store dummy:// --eval --strict tests/nix/eval-lock.nix >/dev/null; }
check "flake.lock matches flake.nix and pins a supported branch (tests/nix/eval-lock.nix)" lock_matches
lock_read_offline() {
  local out lock_rev
  lock_rev=$("$nix_instantiate" --store dummy:// --eval --strict \
    -E '(builtins.fromJSON (builtins.readFile ./flake.lock)).nodes.nixpkgs.locked.rev') || return 1
  out=$(flake_cmd flake metadata --offline --no-update-lock-file --json . 2>&1) || { echo "$out"; return 1; }
  # The locked nixpkgs revision, as Nix read it from flake.lock.
  [[ $out == *"\"rev\":$lock_rev"* ]] || { echo "  nix flake metadata did not report nixpkgs at $lock_rev: $out"; return 1; }
}
check "nix flake metadata --offline reads flake.lock" lock_read_offline
lock_kept() {
  mkdir -p "$tmp/copy"
  cp flake.nix flake.lock "$tmp/copy/"
  flake_cmd flake lock --offline "path:$tmp/copy" || return 1
  cmp flake.lock "$tmp/copy/flake.lock" || { diff flake.lock "$tmp/copy/flake.lock"; return 1; }
}
check "nix flake lock --offline leaves flake.lock as is" lock_kept

# Our modules against nixpkgs' lib, with NixOS and nix-darwin stubbed (no nixpkgs here in CI).
if [ -n "${BUILDERBAR_NIXPKGS_LIB:-}" ]; then
  eval_with_lib() { "$nix_instantiate" --store dummy:// --eval --strict --arg lib "import $BUILDERBAR_NIXPKGS_LIB" "$1" >/dev/null; }
  check "modules evaluate (tests/nix/eval-modules.nix)" eval_with_lib tests/nix/eval-modules.nix
  check "flake outputs evaluate (tests/nix/eval-flake.nix)" eval_with_lib tests/nix/eval-flake.nix
else
  echo "skipped: modules and flake outputs evaluate (set BUILDERBAR_NIXPKGS_LIB to a nixpkgs lib/ directory)"
fi

echo "nix checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
