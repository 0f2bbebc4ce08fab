//! The Linux flows, with recording shims for `sudo`, `pkexec` and `systemctl` first on PATH:
//! each shim records its argv and then (we are root) runs the command as the real tool would.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use builderbar_core::host::Host;
use builderbar_core::privileged::script::SCRIPT;
use builderbar_core::privileged::{
    Applier, DaemonRestart, Elevation, ElevationEnv, Owner, Plan, PrivilegedError, SystemRunner, DEFAULT_PROMPT,
};

const SHIM: &str = r#"#!/bin/sh
log=@LOG@
tool=${0##*/}
n=$(ls "$log" | grep -c "^$tool\.call\.")
for a in "$@"; do printf '%s\0' "$a"; done >"$log/$tool.call.$n"
if [ -e "$log/deny" ]; then
  case $tool in
    sudo) echo "sudo: 3 incorrect password attempts" >&2; exit 1 ;;
    pkexec) exit 126 ;;
  esac
fi
case $tool in
  sudo) while [ "$1" != -- ]; do shift; done; shift; exec "$@" ;;
  pkexec) exec "$@" ;;
  *) exit 0 ;;
esac
"#;

struct Linux {
    _tmp: tempfile::TempDir,
    log: PathBuf,
    etc: PathBuf,
    runner: SystemRunner,
}

impl Linux {
    fn new() -> Linux {
        let tmp = tempfile::tempdir().unwrap();
        let (shims, log, etc) = (tmp.path().join("shims"), tmp.path().join("log"), tmp.path().join("etc/nix"));
        for d in [&shims, &log, &etc] {
            fs::create_dir_all(d).unwrap();
        }
        for name in ["sudo", "pkexec", "systemctl"] {
            let p = shims.join(name);
            fs::write(&p, SHIM.replace("@LOG@", &log.display().to_string())).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut path = OsString::from(&shims);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        Linux { _tmp: tmp, log, etc, runner: SystemRunner { env: vec![("PATH".into(), path)] } }
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

    fn plan(&self, contents: &str) -> Plan {
        let mut plan = Plan::new();
        plan.write(self.etc.join("machines"), contents, 0o644, Owner::ROOT).unwrap();
        plan.restart(DaemonRestart::systemctl_restart("nix-daemon"));
        plan
    }
}

fn root() -> bool {
    let r = rustix::process::geteuid().is_root();
    if !r {
        eprintln!("skipped: the shims run the script for real and need root");
    }
    r
}

#[test]
fn terminal_session_uses_sudo_then_systemctl() {
    if !root() {
        return;
    }
    let linux = Linux::new();
    let env =
        ElevationEnv { euid: 1000, graphical: false, has_pkexec: true, has_sudo: true, ..ElevationEnv::default() };
    let elevation = Elevation::choose(Host::LINUX_X86_64, &env).unwrap();
    assert_eq!(elevation, Elevation::Sudo);
    let applier = Applier::new(elevation, &linux.runner);
    let applied = applier.apply(&linux.plan("m1\n")).unwrap().unwrap();
    let sudo = linux.calls("sudo");
    assert_eq!(sudo.len(), 1);
    assert_eq!(sudo[0][..6], ["-p", &format!("{DEFAULT_PROMPT}: "), "--", "/bin/sh", "-c", SCRIPT]);
    assert_eq!(sudo[0][6], "builderbar-apply");
    assert_eq!(sudo[0][sudo[0].len() - 5..], ["--", "3", "systemctl", "restart", "nix-daemon"]);
    assert_eq!(linux.calls("systemctl"), vec![vec!["restart", "nix-daemon"]]);
    assert_eq!(fs::read_to_string(linux.etc.join("machines")).unwrap(), "m1\n");
    assert!(applied.files[0].backup.is_none());

    // A refused password changes nothing and is reported as such.
    fs::write(linux.log.join("deny"), "").unwrap();
    let e = applier.apply(&linux.plan("m2\n")).unwrap_err();
    assert!(
        matches!(&e, PrivilegedError::NotAuthorized { stderr, .. } if stderr.contains("incorrect password")),
        "{e}"
    );
    assert_eq!(fs::read_to_string(linux.etc.join("machines")).unwrap(), "m1\n");
    assert_eq!(linux.calls("systemctl").len(), 1);
}

#[test]
fn desktop_session_uses_pkexec() {
    if !root() {
        return;
    }
    let linux = Linux::new();
    let env = ElevationEnv { euid: 1000, graphical: true, has_pkexec: true, has_sudo: true, ..ElevationEnv::default() };
    let elevation = Elevation::choose(Host::LINUX_X86_64, &env).unwrap();
    assert_eq!(elevation, Elevation::Pkexec);
    let applier = Applier::new(elevation, &linux.runner);
    fs::write(linux.etc.join("machines"), "old\n").unwrap();
    let applied = applier.apply(&linux.plan("new\n")).unwrap().unwrap();
    let pkexec = linux.calls("pkexec");
    assert_eq!(pkexec.len(), 1);
    assert_eq!(pkexec[0][..4], ["/bin/sh", "-c", SCRIPT, "builderbar-apply"]);
    assert_eq!(fs::read_to_string(linux.etc.join("machines")).unwrap(), "new\n");
    assert_eq!(fs::read_to_string(applied.files[0].backup.as_ref().unwrap()).unwrap(), "old\n");

    // Dismissing the polkit dialog (exit 126) is a cancel.
    fs::write(linux.log.join("deny"), "").unwrap();
    let e = applier.apply(&linux.plan("newer\n")).unwrap_err();
    assert!(matches!(e, PrivilegedError::Cancelled { .. }), "{e}");
    assert_eq!(linux.calls("systemctl").len(), 1);
}
