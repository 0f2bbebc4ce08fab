#!/bin/sh
# Used for docs/nix-wiring.md ("Finding"). Run as root with Debian's nix-bin; it touches only a temp dir.
# Does nix-daemon 2.8 pick up a changed machines file / nix.conf without a restart?
set -u
R=$(mktemp -d /tmp/nixprobe.XXXXXX); cd "$R"; mkdir conf cconf store state log
export NIX_STORE_DIR=$R/store NIX_STATE_DIR=$R/state NIX_LOG_DIR=$R/log NIX_DAEMON_SOCKET_PATH=$R/sock NIX_USER_CONF_FILES=/dev/null
printf 'build-users-group =\nsandbox = false\nsubstituters =\nconnect-timeout = 2\nbuilders = @%s/machines\n' "$R" > conf/nix.conf
: > machines; : > cconf/nix.conf
echo 'derivation { name = "t-${builtins.getEnv "N"}"; system = "x86_64-linux"; builder = "/bin/sh"; args = ["-c" "echo hi > $out"]; }' > t.nix
start() { NIX_CONF_DIR=$R/conf NIX_REMOTE= nix-daemon >> daemon.log 2>&1 & echo $! > daemon.pid; sleep 2; }
build() { N=$1 NIX_CONF_DIR=$R/cconf NIX_REMOTE=daemon nix-build t.nix --no-out-link --max-jobs 0 2>&1 | grep -E "cannot build on|unable to start any build" | sed "s|$R|\$R|g"; }
start
echo "== 1 empty machines file";                         build 1
echo 'ssh://machine-a.invalid x86_64-linux - 1 1 - - -' > machines
echo "== 2 machines file edited, no restart";            build 2
echo 'ssh://machine-b.invalid x86_64-linux - 1 1 - - -' > machines2
sed -i "s|@$R/machines\$|@$R/machines2|" conf/nix.conf
echo "== 3 daemon's nix.conf builders -> machines2, no restart"; build 3
kill "$(cat daemon.pid)"; sleep 1; start
echo "== 4 after daemon restart";                        build 4
kill "$(cat daemon.pid)"; rm -rf "$R"
