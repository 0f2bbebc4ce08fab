//! The macOS flow, simulated on Linux: Host = macOS, and recording shims for `osascript` and
//! `launchctl` first on PATH. The osascript shim records its argv, then does what macOS does
//! with our AppleScript: it joins `quoted form of` each argument after the prompt and runs the
//! result with `/bin/sh -c` (as `do shell script` does; we are root, so no password).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use builderbar_core::host::Host;
use builderbar_core::privileged::elevation::APPLESCRIPT;
use builderbar_core::privileged::script::SCRIPT;
use builderbar_core::privileged::{
    undo_plan, Applier, DaemonRestart, Elevation, ElevationEnv, Journal, Owner, Plan, PrivilegedError, SystemRunner,
    DEFAULT_PROMPT, DETERMINATE_DAEMON_LAUNCHD, NIX_DAEMON_LAUNCHD,
};

const OSASCRIPT_SHIM: &str = r#"#!/bin/sh
# Recording osascript: call N writes its arguments, each NUL-terminated, to osascript.call.N.
log=@LOG@
n=$(ls "$log" | grep -c '^osascript\.call\.')
for a in "$@"; do printf '%s\0' "$a"; done >"$log/osascript.call.$n"
if [ -e "$log/cancel" ]; then
  echo "0:42: execution error: User canceled. (-128)" >&2
  exit 1
fi
# Skip the `-e` statements and the `--` that ends the options; then come the prompt and the
# command's arguments.
while [ "$1" = -e ]; do shift 2; done
[ "$1" = -- ] || { echo "osascript shim: expected -- after the statements, got: $1" >&2; exit 2; }
shift 2
# AppleScript's `quoted form of`: wrap in '...', each ' becomes '\''.
quoted() {
  v=$(printf '%sx' "$1" | sed "s/'/'\\\\''/g")
  printf "'%s'" "${v%x}"
}
cmd=
for a in "$@"; do cmd="$cmd$(quoted "$a") "; done
# `do shell script` runs the text with /bin/sh -c; on failure osascript reports its stderr.
if out=$(/bin/sh -c "$cmd" 2>"$log/stderr"); then
  printf '%s\n' "$out"
else
  code=$?
  echo "0:42: execution error: $(cat "$log/stderr") ($code)" >&2
  exit 1
fi
"#;

/// Recording launchctl: `launchctl.<subcommand>.fails` in the log directory makes that
/// subcommand fail as launchd does for a job it has not loaded (exit 113); `managername`
/// prints the session type written in `session` ("Aqua" in a GUI login, "Background" over SSH).
const LAUNCHCTL_SHIM: &str = r#"#!/bin/sh
log=@LOG@
n=$(ls "$log" | grep -c '^launchctl\.call\.')
for a in "$@"; do printf '%s\0' "$a"; done >"$log/launchctl.call.$n"
if [ "$1" = managername ]; then cat "$log/session"; exit 0; fi
if [ -e "$log/launchctl.$1.fails" ]; then
  printf 'Could not find service "%s" in domain for system\n' "${2#*/}" >&2
  exit 113
fi
"#;

/// Recording sudo (macOS's takes the same `-p PROMPT -- COMMAND...`): records its argv, then
/// runs the command (we are root, so no password).
const SUDO_SHIM: &str = r#"#!/bin/sh
log=@LOG@
n=$(ls "$log" | grep -c '^sudo\.call\.')
for a in "$@"; do printf '%s\0' "$a"; done >"$log/sudo.call.$n"
[ "$1" = -p ] && [ "$3" = -- ] || { echo "sudo shim: expected -p PROMPT --" >&2; exit 2; }
shift 3
exec "$@"
"#;

struct Mac {
    _tmp: tempfile::TempDir,
    log: PathBuf,
    etc: PathBuf,
    data: PathBuf,
    runner: SystemRunner,
}

impl Mac {
    fn new() -> Mac {
        let tmp = tempfile::tempdir().unwrap();
        let shims = tmp.path().join("shims");
        let log = tmp.path().join("log");
        let etc = tmp.path().join("etc");
        let data = tmp.path().join("Library/Application Support/Builderbar");
        for d in [&shims, &log, &etc.join("nix"), &etc.join("ssh/ssh_config.d"), &data] {
            fs::create_dir_all(d).unwrap();
        }
        for (name, text) in [("osascript", OSASCRIPT_SHIM), ("launchctl", LAUNCHCTL_SHIM), ("sudo", SUDO_SHIM)] {
            let p = shims.join(name);
            fs::write(&p, text.replace("@LOG@", &log.display().to_string())).unwrap();
            fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let mut path = OsString::from(&shims);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        Mac { _tmp: tmp, log, etc, data, runner: SystemRunner { env: vec![("PATH".into(), path)] } }
    }

    fn calls(&self, tool: &str) -> Vec<Vec<String>> {
        (0..)
            .map_while(|n| fs::read(self.log.join(format!("{tool}.call.{n}"))).ok())
            .map(|c| {
                c.strip_suffix(b"\0")
                    .map(|c| c.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The elevation a non-root macOS user gets.
    fn elevation() -> Elevation {
        let env =
            ElevationEnv { euid: 501, graphical: false, has_pkexec: false, has_sudo: true, ..ElevationEnv::default() };
        Elevation::choose(Host::parse("macos-aarch64").unwrap(), &env).unwrap()
    }
}

fn expected_osascript_prefix() -> Vec<String> {
    let mut v = Vec::new();
    for line in APPLESCRIPT {
        v.push("-e".to_string());
        v.push(line.to_string());
    }
    v.extend(["--", DEFAULT_PROMPT, "/bin/sh", "-c", SCRIPT, "builderbar-apply"].map(String::from));
    v
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn setup_on_macos_asks_once_writes_the_files_and_kickstarts_the_daemon() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: the simulated `do shell script` needs root to chown to 0:0");
        return;
    }
    let mac = Mac::new();
    let conf = mac.etc.join("nix/nix.conf");
    fs::write(&conf, "build-users-group = nixbld\n").unwrap();
    let machines = mac.etc.join("nix/machines");
    let key = mac.etc.join("nix/builderbar_ed25519");
    let ssh = mac.etc.join("ssh/ssh_config.d/it's builderbar $(touch pwned).conf");

    let mut plan = Plan::new();
    plan.write(&conf, "build-users-group = nixbld\nbuilders = @/etc/nix/machines\n", 0o644, Owner::ROOT).unwrap();
    plan.write(&machines, "ssh-ng://builder@builderbar aarch64-linux\n", 0o644, Owner::ROOT).unwrap();
    plan.write_secret(&key, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 0o600, Owner::ROOT).unwrap();
    plan.write(&ssh, "Host builderbar\n  Port 31022\n", 0o644, Owner::ROOT).unwrap();
    plan.restart(DaemonRestart::launchctl_kickstart(NIX_DAEMON_LAUNCHD));

    let elevation = Mac::elevation();
    assert_eq!(elevation, Elevation::Osascript);
    let journal = Journal::new(&mac.data);
    let applier = Applier::new(elevation, &mac.runner).with_journal(&journal);
    let applied = applier.apply(&plan).unwrap().unwrap();

    // One prompt: exactly our AppleScript, prompt text and script invocation.
    let calls = mac.calls("osascript");
    assert_eq!(calls.len(), 1);
    let argv = &calls[0];
    let prefix = expected_osascript_prefix();
    assert_eq!(argv[..prefix.len()], prefix[..]);
    let rest = &argv[prefix.len()..];
    let staging = &rest[0];
    assert!(staging.contains("/builderbar-stage-"), "{staging}");
    let expected_rest: Vec<String> = [
        staging.as_str(),
        "0",
        &applied.id,
        "write",
        &s(&conf),
        &format!("{staging}/0"),
        "0644",
        "0",
        "0",
        "write",
        &s(&machines),
        &format!("{staging}/1"),
        "0644",
        "0",
        "0",
        "write",
        &s(&key),
        &format!("{staging}/2"),
        "0600",
        "0",
        "0",
        "write",
        &s(&ssh),
        &format!("{staging}/3"),
        "0644",
        "0",
        "0",
        "--",
        "4",
        "launchctl",
        "kickstart",
        "-k",
        "system/org.nixos.nix-daemon",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(rest, &expected_rest[..]);

    // The daemon was kickstarted once, after the files landed.
    assert_eq!(mac.calls("launchctl"), vec![vec!["kickstart", "-k", "system/org.nixos.nix-daemon"]]);
    assert_eq!(fs::read_to_string(&machines).unwrap(), "ssh-ng://builder@builderbar aarch64-linux\n");
    assert_eq!(fs::read_to_string(&ssh).unwrap(), "Host builderbar\n  Port 31022\n");
    assert!(fs::read_to_string(&conf).unwrap().ends_with("builders = @/etc/nix/machines\n"));
    assert!(!Path::new("pwned").exists());
    assert!(applied.log.contains("ran launchctl kickstart -k system/org.nixos.nix-daemon"), "{}", applied.log);

    // Applying the same Plan again asks for nothing.
    let mut again = Plan::new();
    again.write(&machines, "ssh-ng://builder@builderbar aarch64-linux\n", 0o644, Owner::ROOT).unwrap();
    assert!(applier.apply(&again).unwrap().is_none());
    assert_eq!(mac.calls("osascript").len(), 1);

    // A cancelled prompt changes nothing and says so.
    fs::write(mac.log.join("cancel"), "").unwrap();
    let undo = undo_plan(&journal.last_undoable().unwrap().unwrap()).unwrap();
    let e = applier.apply(&undo).unwrap_err();
    assert!(matches!(e, PrivilegedError::Cancelled { .. }), "{e}");
    assert_eq!(fs::read_to_string(&conf).unwrap(), "build-users-group = nixbld\nbuilders = @/etc/nix/machines\n");
    assert_eq!(mac.calls("launchctl").len(), 1);

    // Undo, approved: one more prompt, the original bytes back, one more kickstart.
    fs::remove_file(mac.log.join("cancel")).unwrap();
    applier.apply(&undo).unwrap().unwrap();
    assert_eq!(mac.calls("osascript").len(), 3);
    assert_eq!(fs::read_to_string(&conf).unwrap(), "build-users-group = nixbld\n");
    for p in [&machines, &key, &ssh] {
        assert!(!p.exists(), "{p:?}");
    }
    assert_eq!(mac.calls("launchctl").len(), 2);
    assert_eq!(mac.calls("launchctl")[1], ["kickstart", "-k", "system/org.nixos.nix-daemon"]);
}

#[test]
fn determinate_nix_kickstarts_its_own_daemon_and_script_errors_come_through_osascript() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: the simulated `do shell script` needs root");
        return;
    }
    let mac = Mac::new();
    let custom = mac.etc.join("nix/nix.custom.conf");
    let mut plan = Plan::new();
    plan.write(&custom, "builders = @/etc/nix/machines\n", 0o644, Owner::ROOT).unwrap();
    plan.restart(DaemonRestart::launchctl_kickstart(DETERMINATE_DAEMON_LAUNCHD));
    let applier = Applier::new(Mac::elevation(), &mac.runner);
    applier.apply(&plan).unwrap().unwrap();
    assert_eq!(mac.calls("launchctl"), vec![vec!["kickstart", "-k", "system/systems.determinate.nix-daemon"]]);

    // nix-darwin's nix.conf is a link into /etc/static: the script refuses it, and the error
    // reaches the user through osascript's "execution error" wrapping, unwrapped.
    let conf = mac.etc.join("nix/nix.conf");
    let mut plan = Plan::new();
    plan.write(&conf, "x = y\n", 0o644, Owner::ROOT).unwrap();
    std::os::unix::fs::symlink("/etc/static/nix/nix.conf", &conf).unwrap();
    let e = applier.apply(&plan).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "the privileged script failed (exit 1): target is a symbolic link, refusing to replace it: {}",
            s(&conf)
        )
    );
    assert_eq!(mac.calls("launchctl").len(), 1);
}

#[test]
fn a_failing_kickstart_falls_back_to_bootout_and_bootstrap_inside_the_one_prompt() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: the simulated `do shell script` needs root");
        return;
    }
    let mac = Mac::new();
    fs::write(mac.log.join("launchctl.kickstart.fails"), "").unwrap();
    let conf = mac.etc.join("nix/nix.conf");
    let plist = "/Library/LaunchDaemons/org.nixos.nix-daemon.plist";
    let mut plan = Plan::new();
    plan.write(&conf, "builders = @/etc/nix/machines\n", 0o644, Owner::ROOT).unwrap();
    plan.restart(DaemonRestart {
        argv: ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"].map(String::from).to_vec(),
        fallback: vec![
            ["launchctl", "bootout", "system/org.nixos.nix-daemon"].map(String::from).to_vec(),
            ["launchctl", "bootstrap", "system", plist].map(String::from).to_vec(),
        ],
    });
    let applied = Applier::new(Mac::elevation(), &mac.runner).apply(&plan).unwrap().unwrap();

    // One prompt; the fallback travels as counted arguments after `--`, not as shell code.
    let calls = mac.calls("osascript");
    assert_eq!(calls.len(), 1);
    let dashdash = calls[0].iter().rposition(|a| a == "--").unwrap();
    assert_eq!(
        calls[0][dashdash..],
        [
            "--",
            "4",
            "launchctl",
            "kickstart",
            "-k",
            "system/org.nixos.nix-daemon",
            "3",
            "launchctl",
            "bootout",
            "system/org.nixos.nix-daemon",
            "4",
            "launchctl",
            "bootstrap",
            "system",
            plist
        ]
    );
    assert_eq!(
        mac.calls("launchctl"),
        vec![
            vec!["kickstart", "-k", "system/org.nixos.nix-daemon"],
            vec!["bootout", "system/org.nixos.nix-daemon"],
            vec!["bootstrap", "system", plist],
        ]
    );
    assert!(
        applied.log.contains("failed: launchctl kickstart -k system/org.nixos.nix-daemon (exit 113)"),
        "{}",
        applied.log
    );
    assert!(applied.log.contains(&format!("ran launchctl bootstrap system {plist}")), "{}", applied.log);

    // When bootstrap fails too, the error names the restart and the fallback's last step.
    fs::write(mac.log.join("launchctl.bootstrap.fails"), "").unwrap();
    let mut again = Plan::new();
    again.write(&conf, "builders = @/etc/nix/machines\nbuilders-use-substitutes = true\n", 0o644, Owner::ROOT).unwrap();
    again.restart(plan.restart.clone().unwrap());
    let e = Applier::new(Mac::elevation(), &mac.runner).apply(&again).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "the privileged script failed (exit 1): restart command failed: launchctl kickstart -k \
             system/org.nixos.nix-daemon (exit 113); its fallback failed too: launchctl bootstrap system {plist} (exit 113)"
        )
    );
}

#[test]
fn over_ssh_the_mac_asks_with_sudo_in_the_terminal_not_a_dialog() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: the simulated sudo needs root to chown to 0:0");
        return;
    }
    let mac = Mac::new();
    // A login over SSH: launchd puts it in the Background session, no WindowServer.
    fs::write(mac.log.join("session"), "Background\n").unwrap();
    let path = mac.runner.env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
    let vars = |k: &str| match k {
        "PATH" => Some(path.clone()),
        "SSH_CONNECTION" => Some("192.0.2.7 50022 192.0.2.1 22".into()),
        "SSH_TTY" => Some("/dev/ttys003".into()),
        _ => None,
    };
    let env = ElevationEnv::capture(Host::MACOS_AARCH64, 501, &vars, &mac.runner);
    assert_eq!(mac.calls("launchctl"), vec![vec!["managername"]]);
    let elevation = Elevation::choose(Host::MACOS_AARCH64, &env).unwrap();
    assert_eq!(elevation, Elevation::Sudo);

    let conf = mac.etc.join("nix/nix.conf");
    let mut plan = Plan::new();
    plan.write(&conf, "builders = @/etc/nix/machines\n", 0o644, Owner::ROOT).unwrap();
    plan.restart(DaemonRestart::launchctl_kickstart(NIX_DAEMON_LAUNCHD));
    let applied = Applier::new(elevation, &mac.runner).apply(&plan).unwrap().unwrap();

    assert!(mac.calls("osascript").is_empty(), "no dialog over SSH");
    let sudo = mac.calls("sudo");
    assert_eq!(sudo.len(), 1);
    assert_eq!(
        sudo[0][..7],
        ["-p", &format!("{DEFAULT_PROMPT}: "), "--", "/bin/sh", "-c", SCRIPT, "builderbar-apply"].map(String::from)
    );
    assert_eq!(fs::read_to_string(&conf).unwrap(), "builders = @/etc/nix/machines\n");
    assert_eq!(mac.calls("launchctl")[1], ["kickstart", "-k", "system/org.nixos.nix-daemon"]);
    assert!(applied.log.contains("ran launchctl kickstart"), "{}", applied.log);
}
