#!/usr/bin/env bash
# Builds the small x86_64 Builderbar test guest from Debian packages; prints the image directory.
#
# Output (last stdout line): an absolute directory holding vmlinux, initrd.cpio and
# builderbar-image.json. Progress goes to stderr. The image is cached by a hash of its
# inputs, so a second run with nothing changed returns at once and without network.
# See README.md in this directory for what is inside and why.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${BUILDERBAR_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/builderbar/guest}

# Files copied into the image next to this script; all of them are hashed into the key.
guest_files=(init shutdown inittab)
# Guest packages besides the kernel. Libraries not listed here come from the host
# (same Debian release): the host's nix already pulls most of them from there.
packages=(busybox-static dropbear-bin libtomcrypt1 libtommath1 e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1)
# Kernel modules the guest loads, in this order, each after its dependencies (from each
# .ko's depends=). The power button comes first, so an early powerdown is not lost.
# crc32c_generic is ext4/jbd2's soft dependency (softdep=pre: crypto-crc32c), which
# depends= does not name.
modules=(button evdev qemu_fw_cfg virtio_pci virtio_net virtio_blk virtio-rng crc32c_generic ext4)

log() { printf 'guest-build: %s\n' "$*" >&2; }

# The newest image is Builderbar's default image on Linux (<cache>/images/default, what
# `builderbar start` uses when no image is configured); older images beyond 3 are pruned.
publish() { # out: the image directory to publish
  if [[ -z ${BUILDERBAR_GUEST_CACHE:-} ]]; then
    mkdir -p "$cache/../images"
    ln -sfn "$out" "$cache/../images/default.tmp.$$" && mv -Tf "$cache/../images/default.tmp.$$" "$cache/../images/default"
  fi
  touch "$out"
  local old
  for old in $(find "$cache" -mindepth 1 -maxdepth 1 -type d -name '????????????????' -printf '%T@ %p\n' | sort -rn | tail -n +4 | cut -d' ' -f2); do
    [[ $old == "$out" ]] || rm -rf "$old"
  done
  echo "$out"
}
# set -e alone exits without a word; say where.
trap 'log "error: command failed at line $LINENO"' ERR
die() { log "error: $*"; exit 1; }

need() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "missing host tool '$t' (see tests/guest/README.md)"; done
}
need apt-get apt-cache dpkg-deb dpkg-query ldd cpio xz sha256sum find

host_pkg_versions() { dpkg-query -W -f '${Package}=${Version}\n' nix-bin libc6 2>/dev/null || die "nix-bin is not installed on the host (apt-get install nix-bin)"; }

# --- Fast path: everything that decides the result, cheaply. apt's resolution can only
# change when its lists or configuration change, so those files' names/sizes/mtimes
# stand in for it; the full key (with resolved versions) is remembered per fingerprint.
fingerprint() {
  {
    (cd "$here" && sha256sum build.sh "${guest_files[@]}")
    host_pkg_versions
    stat -c '%n %s %Y' /usr/bin/nix
    find /var/lib/apt/lists /etc/apt -maxdepth 2 \( -name '*Packages*' -o -name '*.list' -o -name '*.sources' -o -name 'preferences*' -o -name '*.pref' \) \
      -printf '%p %s %T@\n' 2>/dev/null | sort || true # unreadable dirs (lists/partial) are fine
  } | sha256sum | cut -c1-32
}

fp=$(fingerprint)
if [[ -f "$cache/resolved/$fp" ]]; then
  key=$(<"$cache/resolved/$fp")
  if [[ -f "$cache/$key/builderbar-image.json" ]]; then
    log "cached image $cache/$key"
    out="$cache/$key"
    publish
    exit 0
  fi
fi

# --- Resolve: the kernel package linux-image-amd64 points to, and the exact versions.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
[[ -n "$kpkg" ]] || die "apt cannot resolve linux-image-amd64 (run apt-get update?)"
uris=$(apt-get download --print-uris "$kpkg" "${packages[@]}" 2>&1) || die "apt-get cannot resolve the guest packages: $uris"
# Lines look like: 'URL' FILENAME SIZE SHA256:HEX
debs=$(printf '%s\n' "$uris" | awk '/^'"'"'/ {print $2, $4}' | sort)
[[ $(printf '%s\n' "$debs" | wc -l) -eq $((${#packages[@]} + 1)) ]] || die "unexpected apt-get --print-uris output: $uris"

key=$({
  (cd "$here" && sha256sum build.sh "${guest_files[@]}")
  printf '%s\n' "$debs"
  host_pkg_versions
  sha256sum /usr/bin/nix | cut -d' ' -f1
} | sha256sum | cut -c1-16)

mkdir -p "$cache/resolved" "$cache/debs"
printf '%s\n' "$key" >"$cache/resolved/$fp.tmp.$$" && mv -f "$cache/resolved/$fp.tmp.$$" "$cache/resolved/$fp"
out="$cache/$key"


if [[ -f "$out/builderbar-image.json" ]]; then
  log "cached image $out"
  publish
  exit 0
fi

started=$SECONDS
# Leftovers of builds killed hard (SIGKILL, power loss); a running build is younger.
find "$cache" -maxdepth 1 -name '.build.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# --- Fetch the .debs we do not have yet (apt verifies their hashes).
missing=()
while read -r file _sum; do
  [[ -f "$cache/debs/$file" ]] || missing+=("$file")
done <<<"$debs"
if ((${#missing[@]})); then
  log "downloading ${#missing[@]} package(s)"
  mkdir -p "$work/dl"
  want=()
  for f in "${missing[@]}"; do
    # FILENAME is name_version_arch.deb with the epoch colon escaped as %3a.
    name=${f%%_*}
    ver=${f#*_}
    ver=${ver%_*}
    want+=("$name=${ver//%3a/:}")
  done
  # As root apt would hand the download to its _apt user, who cannot write here.
  (cd "$work/dl" && apt-get -o APT::Sandbox::User=root download "${want[@]}" >&2) || die "apt-get download failed"
  for f in "${missing[@]}"; do
    [[ -f "$work/dl/$f" ]] || die "apt-get download did not produce $f"
    mv -f "$work/dl/$f" "$cache/debs/$f"
  done
fi

# --- Extract (never installed on the host).
log "extracting packages"
kdeb=$(printf '%s\n' "$debs" | awk -v p="${kpkg}_" 'index($1, p) == 1 {print $1}')
dpkg-deb -x "$cache/debs/$kdeb" "$work/kernel"
while read -r file _sum; do
  [[ "$file" == "$kdeb" ]] || dpkg-deb -x "$cache/debs/$file" "$work/pkgs"
done <<<"$debs"

root="$work/root"
# Merged-/usr layout, like Debian 12, so host paths from ldd land where the loader looks.
mkdir -p "$root"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64} "$root"/{dev,proc,sys,run,tmp,etc,state,nix,root,home/builder/.ssh,var/empty}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

# busybox first; real programs copied later replace its applets.
install -m 0755 "$work/pkgs/bin/busybox" "$root/usr/bin/busybox"
while read -r applet; do
  applet=${applet#/}
  [[ -e "$root/$applet" || -L "$root/$applet" ]] && continue
  ln -s /usr/bin/busybox "$root/$applet"
done < <("$work/pkgs/bin/busybox" --list-full)
ln -sf usr/bin/busybox "$root/init"

# Copy a file into the image at the same path (through the image's symlinks), following
# symlinks on the source side and keeping the mode (the loader must stay executable).
put() {
  local src=$1 dst=${2:-$1}
  [[ -e "$root$dst" && ! -L "$root$dst" ]] && return 0
  mkdir -p "$(dirname "$root$dst")"
  rm -f "$root$dst"
  cp -L --preserve=mode "$src" "$root$dst"
}

# The shared-library closure of a program, as ldd resolves it: staged package libraries
# first, then the host's. Every path goes into the image.
staged_libs="$work/pkgs/usr/lib/x86_64-linux-gnu:$work/pkgs/lib/x86_64-linux-gnu"
closure() {
  local bin=$1 out line lib
  out=$(LD_LIBRARY_PATH=$staged_libs ldd "$bin") || die "ldd $bin failed"
  if grep -q 'not found' <<<"$out"; then
    die "libraries of $bin not found: $(grep 'not found' <<<"$out" | tr -s '\t\n' '  ')"
  fi
  while read -r line; do
    case "$line" in
      *' => '/*) lib=${line#* => } ;;
      /*) lib=$line ;;
      *) continue ;;
    esac
    lib=${lib%% (*}
    case "$lib" in
      "$work/pkgs"/*) put "$lib" "${lib#"$work/pkgs"}" ;;
      *) put "$lib" ;;
    esac
  done <<<"$out"
}

log "copying programs and their libraries"
# Nix: the host's binary (the same version as the host's, which is what the tests dispatch
# from). nix-daemon / nix-store are symlinks to nix; the name selects the command.
put /usr/bin/nix
closure /usr/bin/nix
while read -r link; do
  ln -sf nix "$root/usr/bin/$(basename "$link")"
done < <(find /usr/bin -maxdepth 1 -lname nix)
for lib in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2; do
  if [[ -e "$lib" ]]; then put "$lib"; fi
done

# dropbear (sshd) and its key converter; e2fsprogs for a journalled state disk.
for prog in usr/sbin/dropbear usr/bin/dropbearconvert sbin/mke2fs sbin/e2fsck; do
  src="$work/pkgs/$prog"
  [[ -f "$src" ]] || die "package file $prog missing"
  dst=/usr/${prog#usr/}
  rm -f "$root$dst"
  put "$src" "$dst"
  closure "$src"
done
ln -sf mke2fs "$root/usr/sbin/mkfs.ext4"

# --- Kernel: the xz payload of the bzImage is a plain vmlinux ELF with a PVH entry
# point, which qemu boots directly (no decompression under TCG: seconds faster).
kver=$(basename "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
vmlinuz="$work/kernel/boot/vmlinuz-$kver"
[[ -f "$vmlinuz" ]] || die "no kernel image in $kdeb"
log "unpacking kernel $kver"
mkdir -p "$work/out"
found=
while read -r off; do
  # Not a pipe: xz stops at the stream's end, which would SIGPIPE tail under pipefail.
  tail -c +"$((off + 1))" "$vmlinuz" >"$work/payload.xz"
  if xz -dc --single-stream "$work/payload.xz" >"$work/out/vmlinux" 2>/dev/null \
    && [[ $(head -c4 "$work/out/vmlinux" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
    found=1
    break
  fi
done < <(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$vmlinuz" | cut -d: -f1)
[[ -n "$found" ]] || die "no xz-compressed vmlinux inside $vmlinuz"

# --- Modules: resolve depends= (from each .ko's .modinfo) and order dependencies first.
modroot="$work/kernel/lib/modules/$kver/kernel"
declare -A ko_path=() visited=()
while read -r ko; do
  name=$(basename "$ko" .ko)
  ko_path[${name//-/_}]=$ko
done < <(find "$modroot" -name '*.ko')
order=()
visit() {
  local m=${1//-/_} deps d
  [[ -n "${visited[$m]:-}" ]] && return 0
  visited[$m]=1
  [[ -n "${ko_path[$m]:-}" ]] || die "kernel module $m not found in $kpkg"
  deps=$(tr '\0' '\n' <"${ko_path[$m]}" | sed -n 's/^depends=//p' | head -n1)
  for d in ${deps//,/ }; do visit "$d"; done
  order+=("$m")
}
for m in "${modules[@]}"; do visit "$m"; done
mkdir -p "$root/lib/modules"
for m in "${order[@]}"; do cp "${ko_path[$m]}" "$root/lib/modules/$m.ko"; done
printf '%s\n' "${order[@]}" >"$root/etc/modules"

# --- Guest configuration.
install -m 0755 "$here/init" "$root/etc/builderbar-init"
install -m 0755 "$here/shutdown" "$root/etc/builderbar-shutdown"
install -m 0644 "$here/inittab" "$root/etc/inittab"
# busybox acpid runs /etc/acpi/<event> for the power button (event PWRF/00000080);
# poweroff signals init, which runs the shutdown action; the flag tells that action it
# may power off at once.
mkdir -p "$root/etc/acpi/PWRF"
printf '#!/bin/sh\n: >/run/powerdown\nexec /sbin/poweroff\n' >"$root/etc/acpi/PWRF/00000080"
chmod 0755 "$root/etc/acpi/PWRF/00000080"
# builder is an ordinary user that owns /nix (set up at boot): a single-user Nix store,
# no root over ssh. root exists for the console shell only.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
builder:x:1000:1000:Nix builder:/home/builder:/bin/sh
nobody:x:65534:65534:nobody:/var/empty:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
builder:x:1000:
nogroup:x:65534:
EOF
# No passwords anywhere: ssh is key-only, and the console shell needs none.
cat >"$root/etc/shadow" <<'EOF'
root:*:1::::::
builder:*:1::::::
nobody:*:1::::::
EOF
chmod 0600 "$root/etc/shadow"
printf '/bin/sh\n' >"$root/etc/shells"
printf 'builderbar-guest\n' >"$root/etc/hostname"
printf '127.0.0.1 localhost\n10.0.2.15 builderbar-guest\n' >"$root/etc/hosts"
printf 'nameserver 10.0.2.3\n' >"$root/etc/resolv.conf"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
cat >"$root/etc/profile" <<'EOF'
export PATH=/usr/bin:/usr/sbin
export PS1='builderbar-guest:\w\$ '
EOF
mkdir -p "$root/etc/nix"
cat >"$root/etc/nix/nix.conf" <<'EOF'
# A remote builder for Builderbar: single-user store owned by `builder`, so no build
# users and no sandbox (both need root); nothing is fetched from caches.
build-users-group =
sandbox = false
substituters =
trusted-users = builder root
max-jobs = auto
cores = 0
EOF

# --- initramfs: uncompressed newc cpio (no decompression at boot: faster under TCG).
log "writing initramfs"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$work/out/initrd.cpio"

kernel_version=$(printf '%s\n' "$kdeb" | cut -d_ -f2)
cat >"$work/out/builderbar-image.json" <<EOF
{
  "schema": 1,
  "name": "Builderbar test guest (Debian $kernel_version)",
  "system": "x86_64-linux",
  "kernel": "vmlinux",
  "initrd": "initrd.cpio",
  "cmdline": "quiet panic=-1",
  "console": "ttyS0",
  "ready_marker": "BUILDERBAR-READY",
  "ssh": { "user": "builder", "port": 22 },
  "host_key": { "kind": "runtime" },
  "keys": { "channel": "fw_cfg", "prefix": "opt/builderbar" },
  "disks": [ { "kind": "state", "serial": "bb-state" } ],
  "min_memory_mib": 384
}
EOF

# Atomic publish: a crash before this line leaves no image behind.
if ! mv -T "$work/out" "$out" 2>/dev/null; then
  [[ -f "$out/builderbar-image.json" ]] || die "cannot move the image into $out"
fi
log "built $out in $((SECONDS - started)) s ($(du -sh "$out" | cut -f1))"
publish
