#!/usr/bin/env bash
# Builds the small Builderbar test guest (x86_64, or aarch64 with --arch) from Debian packages; prints the image directory.
#
#   tests/guest/build.sh                  # x86_64-linux (the default image on Linux)
#   tests/guest/build.sh --arch aarch64   # aarch64-linux, from Debian's arm64 packages
#
# Output (last stdout line): an absolute directory holding the kernel, the initramfs,
# builderbar-image.json and (aarch64) the read-only system disk. Progress goes to stderr.
# The image is cached by a hash of its inputs, so a second run with nothing changed returns
# at once and without network. See README.md in this directory for what is inside and why.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# mke2fs lives in /sbin, which a normal user's PATH on Debian lacks.
PATH=$PATH:/usr/sbin:/sbin
arch=x86_64
while (($#)); do
  case "$1" in
    --arch) arch=${2:-}; shift 2 || true ;;
    --arch=*) arch=${1#--arch=}; shift ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) printf 'guest-build: error: unknown argument %s (usage: build.sh [--arch x86_64|aarch64])\n' "$1" >&2; exit 2 ;;
  esac
done
root_cache=${BUILDERBAR_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/builderbar/guest}
# Per guest architecture: how Debian names it, its kernel, console and modules.
case "$arch" in
  x86_64)
    cache=$root_cache # where the x86_64 images always were
    debarch=amd64
    kmeta=linux-image-amd64
    # Guest packages besides the kernel. Libraries not listed here come from the host
    # (same Debian release): the host's nix already pulls most of them from there.
    packages=(busybox-static dropbear-bin libtomcrypt1 libtommath1 e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1)
    # Kernel modules the guest loads, in this order, each after its dependencies (from each
    # .ko's depends=). The power button comes first, so an early powerdown is not lost.
    # crc32c_generic is ext4/jbd2's soft dependency (softdep=pre: crypto-crc32c), which
    # depends= does not name.
    modules=(button evdev qemu_fw_cfg virtio_pci virtio_net virtio_blk virtio-rng crc32c_generic ext4)
    ;;
  aarch64)
    cache=$root_cache/aarch64
    debarch=arm64
    kmeta=linux-image-arm64 # not -cloud-arm64: that one has neither gpio_keys nor 9p
    # The programs; their shared libraries are resolved below from apt's dependencies
    # (Section: libs) and each ELF file's NEEDED entries, all from arm64 packages.
    packages=(busybox-static dropbear-bin e2fsprogs nix-bin)
    # QMP system_powerdown on the virt board is a GPIO power key (PL061, built in; gpio-keys
    # turns it into KEY_POWER): gpio_keys and evdev first. 9p: the keys and xchg shares.
    modules=(gpio_keys evdev virtio_pci virtio_net virtio_blk virtio-rng crc32c_generic ext4 9p 9pnet_virtio)
    ;;
  *)
    printf 'guest-build: error: --arch is "%s"; expected x86_64 or aarch64\n' "$arch" >&2
    exit 2
    ;;
esac

# Files copied into the image next to this script; all of them are hashed into the key.
guest_files=(init shutdown inittab)

log() { printf 'guest-build: %s\n' "$*" >&2; }

# Each architecture's newest image is linked under <cache>/images: the x86_64 one as
# `default` (Builderbar's default image on Linux, what `builderbar start` uses when no
# image is configured), the aarch64 one as `aarch64` (never the default: it runs under TCG
# here). Older images of the same architecture beyond 3 are pruned.
link_name=default
[[ $arch == aarch64 ]] && link_name=aarch64
publish() { # out: the image directory to publish
  if [[ -z ${BUILDERBAR_GUEST_CACHE:-} ]]; then
    local images="$root_cache/../images"
    mkdir -p "$images"
    ln -sfn "$out" "$images/$link_name.tmp.$$" && mv -Tf "$images/$link_name.tmp.$$" "$images/$link_name"
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
need apt-get apt-cache dpkg-deb cpio sha256sum find
case "$arch" in
  x86_64) need dpkg-query ldd xz ;;
  aarch64) need readelf mke2fs ;;
esac

# The x86_64 guest runs the host's own nix binary; the aarch64 one nix-bin's arm64 package.
host_pkg_versions() {
  [[ $arch == x86_64 ]] || return 0
  dpkg-query -W -f '${Package}=${Version}\n' nix-bin libc6 2>/dev/null || die "nix-bin is not installed on the host (apt-get install nix-bin)"
}

# --- Fast path: everything that decides the result, cheaply. apt's resolution can only
# change when its lists or configuration change, so those files' names/sizes/mtimes
# stand in for it; the full key (with resolved versions) is remembered per fingerprint.
fingerprint() {
  {
    echo "arch $arch"
    (cd "$here" && sha256sum build.sh "${guest_files[@]}")
    host_pkg_versions
    [[ $arch == x86_64 ]] && stat -c '%n %s %Y' /usr/bin/nix
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

# The shared-library packages (Debian's Section: libs) that the given packages depend on,
# through libraries only: what their programs can load. apt's dependency information,
# for the guest's architecture; the ELF NEEDED entries below pick the files.
lib_packages() {
  local graph names
  graph=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${@/%/:$debarch}" 2>&1) || die "apt cannot resolve $*: $graph"
  mapfile -t names < <(sed -n "s/^\([^ ][^ ]*\):$debarch\$/\1/p" <<<"$graph" | sort -u)
  # Lines: "<package> <section>" for every package of the graph, then the graph itself.
  {
    apt-cache show --no-all-versions "${names[@]/%/:$debarch}" | awk '/^Package:/ {p = $2} /^Section:/ {print "S", p, $2}'
    printf '%s\n' "$graph"
  } | awk -v arch=":$debarch" -v roots="$*" '
    $1 == "S" { section[$2] = $3; next }
    /^[^ ]/ { cur = (substr($0, length($0) - length(arch) + 1) == arch) ? substr($0, 1, length($0) - length(arch)) : ""; alt = 0; next }
    # "|Depends: a" then "Depends: b" is one alternative: a is taken, b is skipped.
    cur != "" && /^ *\|?(Pre)?Depends: / {
      if (!alt && $2 !~ /^</) { d = $2; sub(arch "$", "", d); deps[cur] = deps[cur] " " d }
      alt = ($1 ~ /^\|/); next
    }
    { alt = 0 }
    END {
      n = split(roots, queue, " ")
      for (i = 1; i <= n; i++) seen[queue[i]] = 1
      for (i = 1; i <= n; i++) {
        m = split(deps[queue[i]], ds, " ")
        for (j = 1; j <= m; j++) {
          d = ds[j]
          if (seen[d] || section[d] != "libs") continue
          seen[d] = 1; queue[++n] = d; print d
        }
      }
    }' | sort
}

# --- Resolve: the kernel package the meta package points to, and the exact versions.
kpkg=$(apt-cache depends "$kmeta:$debarch" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
kpkg=${kpkg%:"$debarch"}
[[ -n "$kpkg" ]] || die "apt cannot resolve $kmeta:$debarch (run apt-get update; for arm64: dpkg --add-architecture arm64 first)"
if [[ $arch == aarch64 ]]; then
  mapfile -t libs < <(lib_packages dropbear-bin e2fsprogs nix-bin)
  ((${#libs[@]})) || die "apt found no arm64 libraries for nix-bin (is arm64 a dpkg architecture? dpkg --add-architecture arm64 && apt-get update)"
  packages+=("${libs[@]}")
fi
uris=$(apt-get download --print-uris "$kpkg:$debarch" "${packages[@]/%/:$debarch}" 2>&1) || die "apt-get cannot resolve the guest packages: $uris"
# Lines look like: 'URL' FILENAME SIZE SHA256:HEX
debs=$(printf '%s\n' "$uris" | awk '/^'"'"'/ {print $2, $4}' | sort)
[[ $(printf '%s\n' "$debs" | wc -l) -eq $((${#packages[@]} + 1)) ]] || die "unexpected apt-get --print-uris output: $uris"

key=$({
  (cd "$here" && sha256sum build.sh "${guest_files[@]}")
  printf '%s\n' "$debs"
  if [[ $arch == x86_64 ]]; then
    host_pkg_versions
    sha256sum /usr/bin/nix | cut -d' ' -f1
  fi
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
    a=${f##*_}
    a=${a%.deb}
    [[ $a == all ]] || name="$name:$a"
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
kver=$(basename "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
vmlinuz="$work/kernel/boot/vmlinuz-$kver"
[[ -f "$vmlinuz" ]] || die "no kernel image in $kdeb"
mkdir -p "$work/out"
root="$work/root"

# --- x86_64: the host's nix with its ldd closure, everything in one initramfs.
assemble_x86_64() {
  # Merged-/usr layout, like Debian 12, so host paths from ldd land where the loader looks.
  mkdir -p "$root"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64} "$root"/{dev,proc,sys,run,tmp,etc,state,nix,root,home/builder/.ssh,var/empty}
  ln -s usr/bin "$root/bin"
  ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp"

  # busybox first; real programs copied later replace its applets.
  install -m 0755 "$work/pkgs/bin/busybox" "$root/usr/bin/busybox"
  local applet
  while read -r applet; do
    applet=${applet#/}
    [[ -e "$root/$applet" || -L "$root/$applet" ]] && continue
    ln -s /usr/bin/busybox "$root/$applet"
  done < <("$work/pkgs/bin/busybox" --list-full)
  ln -sf usr/bin/busybox "$root/init"

  log "copying programs and their libraries"
  # Nix: the host's binary (the same version as the host's, which is what the tests dispatch
  # from). nix-daemon / nix-store are symlinks to nix; the name selects the command.
  put /usr/bin/nix
  closure /usr/bin/nix
  local link lib prog src dst
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

  # Kernel: the xz payload of the bzImage is a plain vmlinux ELF with a PVH entry point,
  # which qemu boots directly (no decompression under TCG: seconds faster).
  log "unpacking kernel $kver"
  local found= off
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
}

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

# --- aarch64: a small initramfs (busybox, modules, configuration) and a read-only system
# disk mounted on /usr with the arm64 programs and their libraries (the Mac's stock image
# has the same split: initrd + a read-only store disk).
usr="$work/usr"
declare -A placed=()
# Library directories of the extracted arm64 packages, in the loader's order.
libdirs=("$work/pkgs/lib/aarch64-linux-gnu" "$work/pkgs/usr/lib/aarch64-linux-gnu" "$work/pkgs/lib" "$work/pkgs/usr/lib")

# Puts an extracted package file (absolute path inside $work/pkgs) on the system disk:
# /lib/x and /usr/lib/x both become <usr>/lib/x (the guest's /lib is a link into /usr).
to_usr() {
  local src=$1 rel=${1#"$work/pkgs"}
  rel=${rel#/usr}
  mkdir -p "$(dirname "$usr$rel")"
  cp -L --preserve=mode "$src" "$usr$rel"
}

# An ELF file's shared-library closure from its NEEDED entries (readelf: ldd cannot load a
# foreign binary), resolved in its RUNPATH, then the arm64 library directories.
elf_closure() {
  local file=$1 dyn lib dir found rp
  dyn=$(readelf -dW "$file") || die "readelf cannot read ${file#"$work/pkgs"}"
  local -a dirs=()
  rp=$(sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]$/\2/p' <<<"$dyn")
  if [[ -n $rp ]]; then
    [[ $rp == *'$'* ]] && die "${file#"$work/pkgs"} has a RUNPATH with a variable ($rp); not supported"
    IFS=: read -ra dirs <<<"$rp"
    dirs=("${dirs[@]/#/$work/pkgs}")
  fi
  dirs+=("${libdirs[@]}")
  while read -r lib; do
    [[ -n $lib && -z ${placed[$lib]:-} ]] || continue
    found=
    for dir in "${dirs[@]}"; do
      if [[ -e "$dir/$lib" ]]; then found="$dir/$lib" && break; fi
    done
    [[ -n $found ]] || die "$lib (needed by ${file#"$work/pkgs"}) is in none of the downloaded arm64 packages"
    placed[$lib]=1
    to_usr "$found"
    elf_closure "$found"
  done < <(sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' <<<"$dyn")
}

# A program from the arm64 packages onto the system disk, with its loader and libraries.
program() {
  local src="$work/pkgs/$1" interp
  [[ -f "$src" ]] || die "package file /$1 missing"
  readelf -hW "$src" | grep -q 'Machine: *AArch64' || die "/$1 is not an AArch64 program"
  to_usr "$src"
  interp=$(readelf -lW "$src" | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p')
  [[ $interp == /lib/* ]] || die "/$1 asks for the loader '$interp'; expected one under /lib"
  [[ -e "$usr$interp" ]] || to_usr "$work/pkgs$interp"
  [[ -L "$root$interp" ]] || ln -s "/usr$interp" "$root$interp"
  elf_closure "$src"
}

assemble_aarch64() {
  mkdir -p "$root"/{bin,lib/modules,usr,dev,proc,sys,run,tmp,etc,state,nix,root,home/builder/.ssh,var/empty,var/keys} "$usr"
  ln -s bin "$root/sbin"
  ln -s /usr/lib/aarch64-linux-gnu "$root/lib/aarch64-linux-gnu"
  chmod 1777 "$root/tmp"
  # busybox cannot run here to list its applets: /bin/sh and /init are linked now, the
  # rest by `busybox --install` at boot (init).
  install -m 0755 "$work/pkgs/bin/busybox" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  ln -s bin/busybox "$root/init"

  log "copying arm64 programs and their libraries"
  local prog link
  for prog in usr/bin/nix usr/sbin/dropbear usr/bin/dropbearconvert sbin/mke2fs sbin/e2fsck; do
    program "$prog"
  done
  # nix-daemon, nix-store, ... are links to nix in the package; the name selects the command.
  while read -r link; do
    ln -sf nix "$usr/bin/$(basename "$link")"
  done < <(find "$work/pkgs/usr/bin" -maxdepth 1 -lname nix)
  ln -sf mke2fs "$usr/sbin/mkfs.ext4"
  # Nix loads these by name (dlopen) for name lookups; without them it warns on every call.
  local lib
  for lib in libnss_files.so.2 libnss_dns.so.2; do
    if [[ -e "$work/pkgs/lib/aarch64-linux-gnu/$lib" ]]; then to_usr "$work/pkgs/lib/aarch64-linux-gnu/$lib"; fi
  done

  # Kernel: Debian's arm64 vmlinuz is already a plain Image (magic "ARM\x64" at byte 56).
  [[ $(dd if="$vmlinuz" bs=1 skip=56 count=4 2>/dev/null | od -An -tx1 | tr -d ' \n') == 41524d64 ]] ||
    die "$vmlinuz is not an uncompressed arm64 Image"
  cp "$vmlinuz" "$work/out/Image"

  # The system disk: ext4 without a journal (it is never written), found by its label.
  log "writing the read-only system disk"
  local kib
  kib=$(du -sk --apparent-size "$usr" | cut -f1)
  mke2fs -q -F -t ext4 -O ^has_journal -L bb-usr -m 0 -E root_owner=0:0 -d "$usr" "$work/out/usr.img" "$((kib * 5 / 4 + 16384))k" >&2 ||
    die "mke2fs could not write the system disk"
}

case "$arch" in
  x86_64) assemble_x86_64 ;;
  aarch64) assemble_aarch64 ;;
esac

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
# What differs between the two guests, for init and shutdown: where the keys come from,
# the system disk to mount on /usr, the 9p share the guest leaves its boot timeline in.
case "$arch" in
  x86_64) printf 'keys=fw_cfg\nusr_disk=\nxchg=\n' ;;
  aarch64) printf 'keys=share\nusr_disk=bb-usr\nxchg=xchg\n' ;;
esac >"$root/etc/builderbar-guest.conf"
# The power key (ACPI power button on x86's q35, a GPIO key on aarch64's virt board) is an
# input device; busybox acpid reads it through evdev, despite its name, and runs
# /etc/acpi/<event> for KEY_POWER (event PWRF/00000080). poweroff signals init, which runs
# the shutdown action; the flag tells that action it may power off at once.
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
export PATH=/usr/bin:/usr/sbin:/bin
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
case "$arch" in
  x86_64)
    cat <<EOF
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
    ;;
  # The devices of the stock NixOS image on a Mac: a read-only raw disk (found by its
  # label), the qcow2 state disk, the keys over 9p (mapped-xattr, read-only) and a
  # writable 9p share of a state directory (xchg).
  aarch64)
    cat <<EOF
{
  "schema": 1,
  "name": "Builderbar test guest (Debian $kernel_version, aarch64)",
  "system": "aarch64-linux",
  "kernel": "Image",
  "initrd": "initrd.cpio",
  "cmdline": "quiet panic=-1",
  "console": "ttyAMA0",
  "ready_marker": "BUILDERBAR-READY",
  "ssh": { "user": "builder", "port": 22 },
  "host_key": { "kind": "runtime" },
  "keys": { "channel": "share", "tag": "keys", "security_model": "mapped-xattr" },
  "disks": [
    { "kind": "image", "path": "usr.img", "format": "raw", "read_only": true },
    { "kind": "state", "serial": "bb-state" }
  ],
  "shares": [ { "tag": "xchg", "source": { "kind": "state_dir", "name": "xchg" }, "security_model": "none" } ],
  "min_memory_mib": 384
}
EOF
    ;;
esac >"$work/out/builderbar-image.json"

# Atomic publish: a crash before this line leaves no image behind.
if ! mv -T "$work/out" "$out" 2>/dev/null; then
  [[ -f "$out/builderbar-image.json" ]] || die "cannot move the image into $out"
fi
log "built $out in $((SECONDS - started)) s ($(du -sh "$out" | cut -f1))"
publish
