#!/usr/bin/env bash
# Nix checks for every .nix file in the repo: it parses (nix-instantiate --parse), has no dead
# code (deadnix) and is formatted (nixfmt, the RFC 166 style nixpkgs uses; here nixfmt-rs, which
# prints byte-identical output). Install the two tools with:
#   cargo install --locked deadnix@1.3.1 nixfmt_rs@0.5.3
# Usage: tests/nix/check.sh [--fix]   (--fix formats the files instead of checking them)
# With BUILDERBAR_NIXPKGS_LIB=/path/to/nixpkgs/lib it also evaluates our modules (eval-modules.nix).
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
    "$nix_instantiate" --parse "$f" >/dev/null || { echo "  does not parse: $f"; ok=1; }
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

# Our modules against nixpkgs' lib, with NixOS and nix-darwin stubbed (no nixpkgs here in CI).
if [ -n "${BUILDERBAR_NIXPKGS_LIB:-}" ]; then
  eval_with_lib() { "$nix_instantiate" --eval --strict --arg lib "import $BUILDERBAR_NIXPKGS_LIB" "$1" >/dev/null; }
  check "modules evaluate (tests/nix/eval-modules.nix)" eval_with_lib tests/nix/eval-modules.nix
  check "flake outputs evaluate (tests/nix/eval-flake.nix)" eval_with_lib tests/nix/eval-flake.nix
else
  echo "skipped: modules and flake outputs evaluate (set BUILDERBAR_NIXPKGS_LIB to a nixpkgs lib/ directory)"
fi

echo "nix checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
