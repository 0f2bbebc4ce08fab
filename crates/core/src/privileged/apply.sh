# builderbar-apply: the one script Builderbar runs as root. It is a static text embedded
# in the binary; nothing is ever spliced into it. Every path and value arrives as a
# positional argument, and file contents arrive as files in a staging directory.
#
# Usage (run as: /bin/sh -c "<this text>" builderbar-apply ARGS...):
#   STAGING STAGING_UID STAMP OP... [-- RESTART]
# where each OP is one of
#   write TARGET SOURCE MODE UID GID   copy SOURCE over TARGET atomically, MODE (octal), owner UID:GID
#   delete TARGET                      remove TARGET (after backing it up)
#   remove TARGET                      remove TARGET without a backup (it holds only Builderbar's bytes)
#   mkdir TARGET MODE UID GID          create directory TARGET (its parent exists by then)
#   rmdir TARGET                       remove directory TARGET if it is empty, else keep it
# Before changing an existing TARGET it is copied to "TARGET.builderbar-backup-STAMP".
# A TARGET that already has the exact bytes, mode and owner is left alone.
# RESTART is one or more commands, each written as COUNT ARG1 ... ARGCOUNT. It runs once at
# the end, only if something changed: the first command restarts the daemon; when it fails,
# the others run in order as its fallback (launchd: kickstart, else bootout + bootstrap). A
# fallback command may fail, except the last: its exit status is the restart's.
#
# Threat model: we run as root on behalf of the user who just authorized us. STAGING is
# written by that user; another local user must not be able to swap its contents, so it
# must be a real directory (no symlink) owned by STAGING_UID and not writable by group or
# others, and every SOURCE must be a regular file (not a symlink) that is not writable by
# group or others. TARGETs must be absolute and must not be symlinks or directories.
# (A process of that same user could change the staged files after the user saw the diff;
# it could as well change Builderbar itself, so that is out of this script's reach.)
# Every write goes to a temp file in the target's own directory and is renamed over the
# target, so a failure at any point leaves the old file or the new one, never a mix.

set -u
umask 077
# The elevation tools already hand us a safe PATH (do shell script, sudo's secure_path,
# pkexec); the system directories are appended only so the tools are found if it is empty.
PATH=${PATH:+$PATH:}/usr/bin:/bin:/usr/sbin:/sbin
export PATH

tmp=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  if [ -n "$tmp" ]; then rm -f "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  printf 'builderbar-apply: %s\n' "$*" >&2
  exit 1
}

is_uint() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  return 0
}

is_mode() {
  case $1 in '' | *[!0-7]*) return 1 ;; esac
  [ ${#1} -le 4 ]
}

# True when file $1 is not writable by group or others (and, given uid $2, is owned by it).
untouchable() {
  if [ $# -gt 1 ]; then
    found=$(find "$1" -prune -user "$2" ! -perm -020 ! -perm -002 -print)
  else
    found=$(find "$1" -prune ! -perm -020 ! -perm -002 -print)
  fi
  [ -n "$found" ]
}

# The directory holding an absolute path, without command substitution (which would
# eat trailing newlines of a hostile name).
parent_of() {
  parent=${1%/*}
  if [ -z "$parent" ]; then parent=/; fi
}

check_target() {
  case $1 in /*) ;; *) die "target is not an absolute path: $1" ;; esac
  if [ -L "$1" ]; then die "target is a symbolic link, refusing to replace it: $1"; fi
  if [ -e "$1" ] && [ ! -f "$1" ]; then die "target exists and is not a regular file: $1"; fi
  parent_of "$1"
  if [ ! -d "$parent" ] && ! made_earlier "$parent"; then die "directory does not exist: $parent"; fi
}

# Directories that earlier mkdir operations create, one per line between newlines.
nl='
'
made=$nl
made_earlier() {
  case $made in *"$nl$1$nl"*) return 0 ;; esac
  return 1
}

# A directory operand: absolute, not a symbolic link, a directory if it exists. Its parent
# may be created by an earlier operation, so it is checked when the operation runs.
check_dir() {
  case $1 in /*) ;; *) die "directory is not an absolute path: $1" ;; esac
  if [ -L "$1" ]; then die "directory is a symbolic link, refusing to touch it: $1"; fi
  if [ -e "$1" ] && [ ! -d "$1" ]; then die "exists and is not a directory: $1"; fi
}

# Copies SRC to a fresh temp file next to DEST, sets mode and owner, syncs, renames.
install_atomically() {
  src=$1 dest=$2 mode=$3 owner=$4
  parent_of "$dest"
  tmp=$(mktemp "$parent/.builderbar-tmp.XXXXXX") || die "cannot create a temp file in $parent"
  cat "$src" >"$tmp" || die "cannot write $tmp"
  chown "$owner" "$tmp" || die "cannot set owner $owner on $tmp"
  chmod "$mode" "$tmp" || die "cannot set mode $mode on $tmp"
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$dest" || die "cannot rename $tmp to $dest"
  tmp=
}

backup() {
  if [ -e "$1" ]; then
    bak="$1.builderbar-backup-$stamp"
    if [ -e "$bak" ] || [ -L "$bak" ]; then die "backup already exists: $bak"; fi
    parent_of "$1"
    tmp=$(mktemp "$parent/.builderbar-tmp.XXXXXX") || die "cannot create a temp file in $parent"
    cp -p "$1" "$tmp" || die "cannot back up $1"
    mv -f "$tmp" "$bak" || die "cannot rename $tmp to $bak"
    tmp=
    printf 'backed up %s to %s\n' "$1" "$bak"
  fi
}

# Runs the first COUNT of the arguments after COUNT as a command (POSIX sh has no arrays:
# the first COUNT are rotated to the end, the rest dropped, then "$@" runs). Prints what ran.
run_first() {
  rf_count=$1 rf_i=0 rf_total=$(($# - 1))
  shift
  while [ "$rf_i" -lt "$rf_total" ]; do
    if [ "$rf_i" -lt "$rf_count" ]; then set -- "$@" "$1"; fi
    shift
    rf_i=$((rf_i + 1))
  done
  if "$@"; then
    rf_status=0
    printf 'ran %s\n' "$*"
  else
    rf_status=$?
    rf_failed="$* (exit $rf_status)"
    printf 'failed: %s\n' "$rf_failed"
  fi
  return "$rf_status"
}

# RESTART (see Usage): the first command, else its fallback in order.
restart() {
  if run_first "$@"; then return 0; fi
  first=$rf_failed
  shift "$(($1 + 1))"
  [ $# -gt 0 ] || die "restart command failed: $first"
  printf 'trying the fallback\n'
  while [ $# -gt 0 ]; do
    run_first "$@"
    shift "$(($1 + 1))"
  done
  [ "$rf_status" = 0 ] || die "restart command failed: $first; its fallback failed too: $rf_failed"
}

[ $# -ge 3 ] || die "usage: builderbar-apply STAGING STAGING_UID STAMP OP... [-- RESTART]"
staging=$1 staging_uid=$2 stamp=$3
shift 3

case $staging in /*) ;; *) die "staging directory is not an absolute path" ;; esac
is_uint "$staging_uid" || die "staging owner is not a number: $staging_uid"
case $stamp in '' | *[!0-9A-Za-z-]*) die "bad backup stamp: $stamp" ;; esac
if [ -L "$staging" ] || [ ! -d "$staging" ]; then die "staging directory is missing or a symbolic link: $staging"; fi
untouchable "$staging" "$staging_uid" || die "staging directory is not private to uid $staging_uid: $staging"

# First pass: validate every operation before touching anything. (A function has its own
# positional parameters, so shifting here leaves the script's list intact.)
validate() {
  while [ $# -gt 0 ]; do
    case $1 in
      write)
        [ $# -ge 6 ] || die "write needs TARGET SOURCE MODE UID GID"
        check_target "$2"
        case $3 in /*) ;; *) die "source is not an absolute path: $3" ;; esac
        if [ -L "$3" ] || [ ! -f "$3" ]; then die "source is not a regular file: $3"; fi
        untouchable "$3" || die "source is writable by group or others: $3"
        is_mode "$4" || die "bad mode: $4"
        is_uint "$5" || die "bad uid: $5"
        is_uint "$6" || die "bad gid: $6"
        shift 6
        ;;
      delete | remove)
        [ $# -ge 2 ] || die "$1 needs TARGET"
        check_target "$2"
        shift 2
        ;;
      mkdir)
        [ $# -ge 5 ] || die "mkdir needs TARGET MODE UID GID"
        check_dir "$2"
        is_mode "$3" || die "bad mode: $3"
        is_uint "$4" || die "bad uid: $4"
        is_uint "$5" || die "bad gid: $5"
        made=$made$2$nl
        shift 5
        ;;
      rmdir)
        [ $# -ge 2 ] || die "rmdir needs TARGET"
        check_dir "$2"
        shift 2
        ;;
      --)
        shift
        [ $# -ge 2 ] || die "-- must be followed by a restart command"
        while [ $# -gt 0 ]; do
          case $1 in '' | 0* | *[!0-9]*) die "bad restart command length: $1" ;; esac
          [ "$1" -lt $# ] || die "restart command cut short: $1 arguments announced, $(($# - 1)) left"
          shift "$(($1 + 1))"
        done
        return 0
        ;;
      *) die "unknown operation: $1" ;;
    esac
  done
}
validate "$@"

# Second pass: apply.
changed=0
while [ $# -gt 0 ]; do
  case $1 in
    write)
      target=$2 src=$3 mode=$4 uid=$5 gid=$6
      shift 6
      if [ -f "$target" ] && cmp -s "$src" "$target" &&
        [ -n "$(find "$target" -prune -perm "$mode" -user "$uid" -group "$gid" -print)" ]; then
        printf 'unchanged %s\n' "$target"
        continue
      fi
      backup "$target"
      install_atomically "$src" "$target" "$mode" "$uid:$gid"
      changed=1
      printf 'wrote %s\n' "$target"
      ;;
    delete | remove)
      op=$1 target=$2
      shift 2
      if [ -e "$target" ]; then
        if [ "$op" = delete ]; then backup "$target"; fi
        rm -f "$target" || die "cannot remove $target"
        changed=1
        printf 'deleted %s\n' "$target"
      fi
      ;;
    mkdir)
      target=$2 mode=$3 uid=$4 gid=$5
      shift 5
      check_dir "$target"
      if [ -d "$target" ]; then
        printf 'unchanged %s\n' "$target"
        continue
      fi
      parent_of "$target"
      if [ -L "$parent" ] || [ ! -d "$parent" ]; then die "directory does not exist: $parent"; fi
      mkdir -m 0700 "$target" || die "cannot create directory $target"
      chown "$uid:$gid" "$target" || die "cannot set owner $uid:$gid on $target"
      chmod "$mode" "$target" || die "cannot set mode $mode on $target"
      changed=1
      printf 'created directory %s\n' "$target"
      ;;
    rmdir)
      target=$2
      shift 2
      check_dir "$target"
      if [ -d "$target" ]; then
        if rmdir "$target" 2>/dev/null; then
          changed=1
          printf 'removed directory %s\n' "$target"
        else
          printf 'kept directory %s (not empty)\n' "$target"
        fi
      fi
      ;;
    --)
      shift
      if [ "$changed" = 1 ]; then
        restart "$@"
      else
        printf 'nothing changed, not restarting the daemon\n'
      fi
      break
      ;;
  esac
done
exit 0
