#!/usr/bin/env bash
# Makes a Debian 12 machine able to build, run and test Builderbar, idempotently: it checks
# for the commands, libraries and groups the project needs (not for package names: a new
# machine ships qemu-img from backports, which a package-name check would happily remove),
# installs what is missing, then checks again and fails naming whatever is still absent.
#
#   scripts/install-deps.sh           # install what is missing, then verify
#   scripts/install-deps.sh --check   # verify only; change nothing (scripts/test runs this too)
#
# QEMU: every QEMU package comes from one suite, Debian's bookworm-backports (QEMU 10.0, the
# generation Macs run from nixpkgs; 7.2 has no file: migration and no mapped-ram). The suite
# is added from the mirror the machine's own apt sources already use; no host is named here.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

qemu_major=10        # the QEMU generation the tests run (see README, "Which QEMU")
backports=bookworm-backports
foreign_arch=arm64   # tests/guest/build.sh --arch aarch64 downloads arm64 packages

# command  package  [suite]   -- one line a command the project runs.
commands_table=$(cat <<'EOF'
qemu-img              qemu-utils            backports
qemu-system-x86_64    qemu-system-x86       backports
qemu-system-aarch64   qemu-system-arm       backports
nix                   nix-bin
nix-build             nix-bin
nix-store             nix-bin
nix-instantiate       nix-bin
ssh                   openssh-client
ssh-keygen            openssh-client
cpio                  cpio
readelf               binutils
mke2fs                e2fsprogs
xz                    xz-utils
zstd                  zstd
/usr/bin/python3      python3
git                   git
cc                    build-essential
pkg-config            pkg-config
Xvfb                  xvfb
xauth                 xauth
WebKitWebDriver       webkit2gtk-driver
dbus-daemon           dbus-daemon
dbus-run-session      dbus-daemon
dbus-launch           dbus-x11
trayer                trayer
xdotool               xdotool
import                imagemagick
chromium              chromium
systemd-socket-activate systemd
EOF
)
# pkg-config module  package   -- the libraries the Tauri shell links against.
libraries_table=$(cat <<'EOF'
webkit2gtk-4.1              libwebkit2gtk-4.1-dev
ayatana-appindicator3-0.1   libayatana-appindicator3-dev
librsvg-2.0                 librsvg2-dev
openssl                     libssl-dev
EOF
)
# A header with no pkg-config module.
headers_table="/usr/include/xdo.h libxdo-dev"

say() { echo "install-deps: $*" >&2; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

qemu_version_ok() { # command: does it run and report the expected major version?
  local v
  v=$("$1" --version 2>/dev/null | sed -n '1s/.*version \([0-9]*\)\..*/\1/p') || return 1
  [ "$v" = "$qemu_major" ]
}

# --- What is missing. Each function prints "what|package|suite" lines.
missing_commands() {
  local cmd pkg suite
  while read -r cmd pkg suite; do
    [ -n "$cmd" ] || continue
    if ! command -v "$cmd" >/dev/null 2>&1; then
      echo "command $cmd|$pkg|${suite:-}"
    elif [ "$suite" = backports ] && [ "${cmd#qemu-}" != "$cmd" ] && ! qemu_version_ok "$cmd"; then
      echo "$cmd $qemu_major.x (found: $("$cmd" --version | head -n1))|$pkg|$suite"
    fi
  done <<<"$commands_table"
}
missing_libraries() {
  local mod pkg
  while read -r mod pkg; do
    [ -n "$mod" ] || continue
    pkg-config --exists "$mod" 2>/dev/null || echo "library $mod (pkg-config)|$pkg|"
  done <<<"$libraries_table"
  set -- $headers_table
  [ -f "$1" ] || echo "header $1|$2|"
}
missing_system() {
  getent group nixbld >/dev/null || echo "group nixbld (root Nix builds as its members)|group|"
  if [ -z "$(getent group nixbld | cut -d: -f4)" ]; then echo "members of group nixbld (build users)|group|"; fi
  dpkg --print-foreign-architectures | grep -qx "$foreign_arch" || echo "dpkg architecture $foreign_arch|arch|"
}
cargo_bin() { command -v "$1" 2>/dev/null || { [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/$1" ] && echo "${CARGO_HOME:-$HOME/.cargo}/bin/$1"; }; }
missing_tools() {
  cargo_bin deadnix >/dev/null || echo "command deadnix|cargo deadnix@1.3.1|"
  cargo_bin nixfmt >/dev/null || echo "command nixfmt|cargo nixfmt_rs@0.5.3|"
  cargo_bin tauri-driver >/dev/null || echo "command tauri-driver|cargo tauri-driver@2.1.0|"
  local t installed
  installed=$(rustup target list --installed 2>/dev/null || true)
  for t in aarch64-apple-darwin x86_64-apple-darwin; do
    grep -qx "$t" <<<"$installed" || echo "rust target $t|rustup $t|"
  done
  if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
    echo "node_modules (npm ci)|npm|"
  fi
}
all_missing() { missing_commands; missing_libraries; missing_system; missing_tools; }

# --- Installers.

# The URI the machine's apt sources use for the main archive of this release, so that
# backports comes from the same mirror (deb822 .sources files and one-line .list files).
main_archive_uri() {
  local codename=$1
  python3 - "$codename" <<'PY'
import glob, re, sys
codename = sys.argv[1]
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        if codename in fields.get("suites", "").split() and "main" in fields.get("components", "").split():
            print(fields["uris"].split()[0], fields.get("signed-by", ""))
            sys.exit(0)
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        m = re.match(r"^\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
        if m and m.group(3) == codename and "main" in m.group(4).split():
            opts = m.group(1) or ""
            sb = re.search(r"signed-by=(\S+?)[\s\]]", opts)
            print(m.group(2), sb.group(1) if sb else "")
            sys.exit(0)
sys.exit(1)
PY
}

add_backports() {
  local codename uri signed_by file=/etc/apt/sources.list.d/builderbar-backports.sources
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ "$codename-backports" = "$backports" ] || { say "this is not Debian 12 (bookworm): QEMU $qemu_major.x must be installed by hand"; return 1; }
  if apt-cache policy 2>/dev/null | grep -q " $backports/main "; then return 0; fi
  read -r uri signed_by < <(main_archive_uri "$codename") || {
    say "no apt source for '$codename main' to derive the $backports mirror from"
    return 1
  }
  say "adding $backports from $uri ($file)"
  {
    echo "# Added by Builderbar's scripts/install-deps.sh: QEMU $qemu_major.x for the tests."
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: $backports"
    echo "Components: main"
    if [ -n "$signed_by" ]; then echo "Signed-By: $signed_by"; fi
  } | sudo_ tee "$file.tmp" >/dev/null
  sudo_ mv -f "$file.tmp" "$file"
}

apt_updated=no
apt_update() { if [ "$apt_updated" = no ]; then sudo_ apt-get update -qq; apt_updated=yes; fi; }

install_apt() { # suite packages...
  local suite=$1
  shift
  [ $# -gt 0 ] || return 0
  apt_update
  say "apt-get install${suite:+ -t $suite} $*"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${suite:+-t "$suite"} "$@" >/dev/null
}

create_build_users() {
  getent group nixbld >/dev/null || { say "groupadd --system nixbld"; sudo_ groupadd --system nixbld; }
  local i
  for i in 1 2 3 4; do
    if ! getent passwd "nixbld$i" >/dev/null; then
      sudo_ useradd --system --no-create-home --home-dir /var/empty --shell /usr/sbin/nologin \
        --gid nixbld --groups nixbld --comment "Nix build user $i" "nixbld$i"
    fi
  done
  say "group nixbld with build users nixbld1-4"
}

install_missing() {
  local plain=() bp=() what pkg suite
  while IFS='|' read -r what pkg suite; do
    case "$pkg" in
      group) ;;
      arch)
        say "dpkg --add-architecture $foreign_arch"
        sudo_ dpkg --add-architecture "$foreign_arch"
        apt_updated=no ;;
      cargo\ *) ;;
      rustup\ *) ;;
      npm) ;;
      *) if [ "$suite" = backports ]; then bp+=("$pkg"); else plain+=("$pkg"); fi ;;
    esac
  done < <(all_missing)

  if [ "${#bp[@]}" -gt 0 ]; then
    # One QEMU generation: every QEMU package together, from the one suite.
    add_backports
    apt_updated=no
    bp=(qemu-utils qemu-system-x86 qemu-system-arm)
  fi
  install_apt "" $(printf '%s\n' "${plain[@]}" | sort -u)
  install_apt "$backports" "${bp[@]}"

  # (grep on a variable: `all_missing | grep -q` would SIGPIPE the producer under pipefail)
  if grep -q '|group|$' <<<"$(missing_system)"; then create_build_users; fi

  while IFS='|' read -r what pkg suite; do
    case "$pkg" in
      cargo\ *) say "cargo install ${pkg#cargo }"; cargo install --locked --quiet "${pkg#cargo }" ;;
      rustup\ *) say "rustup target add ${pkg#rustup }"; rustup target add "${pkg#rustup }" >/dev/null ;;
      npm) say "npm ci"; npm ci --no-audit --no-fund --loglevel=error ;;
    esac
  done < <(missing_tools)
}

if [ "$mode" = install ]; then install_missing; fi

still=$(all_missing)
if [ -n "$still" ]; then
  while IFS='|' read -r what pkg suite; do
    say "missing: $what (provided by: $pkg${suite:+ from $backports})"
  done <<<"$still"
  if [ "$mode" = check ]; then
    say "run scripts/install-deps.sh to install them"
  else
    say "installing did not provide them; see the messages above"
  fi
  exit 1
fi
say "ok: every command, library and group is present (QEMU $qemu_major.x)"
