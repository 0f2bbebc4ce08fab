//! The one static script that applies a Plan as root, and the argv that invokes it.

use std::ffi::OsString;
use std::path::PathBuf;

/// The script's text (POSIX sh), embedded at build time. Data never enters this text: it is
/// passed as `/bin/sh -c SCRIPT builderbar-apply ARGS...`.
pub const SCRIPT: &str = include_str!("apply.sh");

/// `$0` of the script, shown in `ps` and in its error messages.
pub const SCRIPT_NAME: &str = "builderbar-apply";

/// The shell that runs it; absolute, as pkexec requires.
pub const SHELL: &str = "/bin/sh";

/// One operation of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `write TARGET SOURCE MODE UID GID`
    Write { target: PathBuf, source: PathBuf, mode: u32, uid: u32, gid: u32 },
    /// `delete TARGET` (backed up first) or `remove TARGET` (no backup)
    Delete { target: PathBuf, backup: bool },
    /// `mkdir TARGET MODE UID GID`
    MakeDir { target: PathBuf, mode: u32, uid: u32, gid: u32 },
    /// `rmdir TARGET` (only if empty)
    RemoveDir { target: PathBuf },
}

/// Everything the script is told, all as separate arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Private directory with the staged sources, owned by `staging_uid`, mode 0700.
    pub staging: PathBuf,
    pub staging_uid: u32,
    /// Suffix of the backups: `TARGET.builderbar-backup-STAMP`; `[0-9A-Za-z-]+`.
    pub stamp: String,
    pub ops: Vec<Op>,
    /// The daemon restart, run once at the end if something changed: its command, then the
    /// commands of its fallback (run in order when the first fails). Empty: no restart.
    pub restart: Vec<Vec<String>>,
}

impl Invocation {
    /// The full argv: `/bin/sh -c SCRIPT builderbar-apply STAGING UID STAMP OPS... [-- RESTART]`,
    /// where RESTART is each command as `COUNT ARG...` (data, never shell code).
    pub fn argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![SHELL.into(), "-c".into(), SCRIPT.into(), SCRIPT_NAME.into()];
        v.push(self.staging.clone().into());
        v.push(self.staging_uid.to_string().into());
        v.push(self.stamp.clone().into());
        for op in &self.ops {
            match op {
                Op::Write { target, source, mode, uid, gid } => {
                    v.push("write".into());
                    v.push(target.clone().into());
                    v.push(source.clone().into());
                    v.push(format!("{mode:04o}").into());
                    v.push(uid.to_string().into());
                    v.push(gid.to_string().into());
                }
                Op::Delete { target, backup } => {
                    v.push(if *backup { "delete" } else { "remove" }.into());
                    v.push(target.clone().into());
                }
                Op::MakeDir { target, mode, uid, gid } => {
                    v.push("mkdir".into());
                    v.push(target.clone().into());
                    v.push(format!("{mode:04o}").into());
                    v.push(uid.to_string().into());
                    v.push(gid.to_string().into());
                }
                Op::RemoveDir { target } => {
                    v.push("rmdir".into());
                    v.push(target.clone().into());
                }
            }
        }
        if !self.restart.is_empty() {
            v.push("--".into());
            for command in &self.restart {
                v.push(command.len().to_string().into());
                v.extend(command.iter().map(OsString::from));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_passes_every_value_as_its_own_argument() {
        let inv = Invocation {
            staging: "/tmp/stage dir".into(),
            staging_uid: 501,
            stamp: "20260101T000000Z".into(),
            ops: vec![
                Op::Write {
                    target: "/etc/nix/a'b".into(),
                    source: "/tmp/stage dir/0".into(),
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                },
                Op::Delete { target: "/etc/nix/$(x)".into(), backup: true },
            ],
            restart: vec![
                vec!["launchctl".into(), "kickstart".into(), "-k".into(), "system/org.nixos.nix-daemon".into()],
                vec!["launchctl".into(), "bootout".into(), "system/org.nixos.nix-daemon".into()],
                vec![
                    "launchctl".into(),
                    "bootstrap".into(),
                    "system".into(),
                    "/Library/LaunchDaemons/org.nixos.nix-daemon.plist".into(),
                ],
            ],
        };
        let argv: Vec<String> = inv.argv().into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(argv[..4], ["/bin/sh", "-c", SCRIPT, "builderbar-apply"]);
        assert_eq!(
            argv[4..],
            [
                "/tmp/stage dir",
                "501",
                "20260101T000000Z",
                "write",
                "/etc/nix/a'b",
                "/tmp/stage dir/0",
                "0644",
                "0",
                "0",
                "delete",
                "/etc/nix/$(x)",
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
                "/Library/LaunchDaemons/org.nixos.nix-daemon.plist",
            ]
        );
    }

    #[test]
    fn script_is_static_and_never_evaluates_data() {
        assert!(SCRIPT.starts_with("# builderbar-apply"));
        for line in SCRIPT.lines().map(str::trim_start).filter(|l| !l.starts_with('#')) {
            assert!(!line.contains("eval"), "{line}");
            assert!(!line.contains("sh -c"), "{line}");
        }
    }

    #[test]
    fn script_passes_shellcheck_when_available() {
        let Ok(out) = std::process::Command::new("shellcheck")
            .args(["-s", "sh", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(SCRIPT.as_bytes())?;
                c.wait_with_output()
            })
        else {
            return; // shellcheck not installed
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
}
