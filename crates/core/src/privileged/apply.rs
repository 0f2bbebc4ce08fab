//! Applying a Plan: stage the files privately, run the script once through the elevation, read the result.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::elevation::Elevation;
use super::journal::{AppliedFile, AppliedPlan, Journal};
use super::plan::{backup_path, Contents, FileChange, Plan};
use super::runner::{CommandOutput, CommandRunner, CommandSpec};
use super::script::{Invocation, Op, SCRIPT_NAME};
use super::{time, PrivilegedError};

/// The text of the administrator prompt (macOS shows it in the password dialog).
pub const DEFAULT_PROMPT: &str =
    "Builderbar wants to connect Nix to its Linux builder. This changes files in /etc and restarts the Nix daemon.";

/// Applies Plans: one staging directory, one elevated script run, one journal entry per Plan.
pub struct Applier<'a> {
    pub elevation: Elevation,
    pub runner: &'a dyn CommandRunner,
    pub prompt: String,
    /// Where the private staging directory is created (the system temp dir when `None`).
    pub staging_parent: Option<PathBuf>,
    /// Where each applied Plan is logged for undo (not logged when `None`).
    pub journal: Option<&'a Journal>,
}

impl<'a> Applier<'a> {
    pub fn new(elevation: Elevation, runner: &'a dyn CommandRunner) -> Applier<'a> {
        Applier { elevation, runner, prompt: DEFAULT_PROMPT.into(), staging_parent: None, journal: None }
    }

    pub fn with_journal(mut self, journal: &'a Journal) -> Applier<'a> {
        self.journal = Some(journal);
        self
    }

    /// Applies `plan`. An empty Plan changes nothing and asks for nothing (`Ok(None)`).
    pub fn apply(&self, plan: &Plan) -> Result<Option<AppliedPlan>, PrivilegedError> {
        if plan.is_empty() {
            return Ok(None);
        }
        let now = time::unix_secs(SystemTime::now());
        let stamp = self.unique_stamp(plan, now);

        let parent = match &self.staging_parent {
            Some(p) => p.clone(),
            None => std::env::temp_dir(),
        };
        let parent =
            std::path::absolute(&parent).map_err(|source| PrivilegedError::Stage { path: parent.clone(), source })?;
        let staging = tempfile::Builder::new()
            .prefix("builderbar-stage-")
            .tempdir_in(&parent)
            .map_err(|source| PrivilegedError::Stage { path: parent.clone(), source })?;
        let stage_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PrivilegedError::Stage { path, source }
        };
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o700)).map_err(stage_err(staging.path()))?;

        let mut ops = Vec::new();
        for (i, f) in plan.files.iter().enumerate() {
            match &f.change {
                FileChange::Write { contents, mode, owner, .. } => {
                    let source = match contents {
                        Contents::Bytes(bytes) => {
                            let p = staging.path().join(i.to_string());
                            let mut file = fs::OpenOptions::new()
                                .write(true)
                                .create_new(true)
                                .mode(0o600)
                                .open(&p)
                                .map_err(stage_err(&p))?;
                            file.write_all(bytes).and_then(|_| file.sync_all()).map_err(stage_err(&p))?;
                            p
                        }
                        Contents::CopyOf(src) => src.clone(),
                    };
                    ops.push(Op::Write { target: f.path.clone(), source, mode: *mode, uid: owner.uid, gid: owner.gid });
                }
                FileChange::Delete { backup } => ops.push(Op::Delete { target: f.path.clone(), backup: *backup }),
                FileChange::MakeDir { mode, owner } => {
                    ops.push(Op::MakeDir { target: f.path.clone(), mode: *mode, uid: owner.uid, gid: owner.gid })
                }
                FileChange::RemoveDir => ops.push(Op::RemoveDir { target: f.path.clone() }),
            }
        }
        let invocation = Invocation {
            staging: staging.path().to_path_buf(),
            staging_uid: rustix::process::geteuid().as_raw(),
            stamp: stamp.clone(),
            ops,
            restart: plan.restart.as_ref().map(|r| r.commands()).unwrap_or_default(),
        };
        let cmd = self.elevation.command(&self.prompt, &invocation.argv());
        let result = self.run(&cmd);
        drop(staging);

        let out = match result {
            Ok(out) => out,
            Err(e @ PrivilegedError::ScriptFailed { .. }) => {
                // Some files may be in place already: journal those so `undo` can put them back.
                let partial = self.entry(plan, &stamp, now, true, format!("failed part-way: {e}"));
                if let (Some(j), false) = (self.journal, partial.files.is_empty()) {
                    j.save(&partial)?;
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let applied = self.entry(plan, &stamp, now, false, String::from_utf8_lossy(&out.stdout).replace('\r', "\n"));
        if let Some(j) = self.journal {
            j.save(&applied)?;
        }
        Ok(Some(applied))
    }

    /// The journal entry of `plan` applied with `stamp`. With `only_changed`, files that show
    /// no sign of having been touched (no backup, not newly created) are left out.
    fn entry(&self, plan: &Plan, stamp: &str, now: u64, only_changed: bool, log: String) -> AppliedPlan {
        let files = plan
            .files
            .iter()
            .filter_map(|f| {
                let dir = f.change.is_dir();
                let backup = backup_path(&f.path, stamp);
                let backup = (!dir && fs::symlink_metadata(&backup).is_ok()).then_some(backup);
                let exists = fs::symlink_metadata(&f.path).is_ok();
                let created = f.before.is_none() && exists;
                let removed = matches!(f.change, FileChange::RemoveDir) && !exists;
                if only_changed && backup.is_none() && !created && !removed {
                    return None;
                }
                let (deleted, mode, owner, secret) = match &f.change {
                    FileChange::Write { mode, owner, secret, .. } => (false, Some(*mode), Some(*owner), *secret),
                    FileChange::MakeDir { mode, owner } => (false, Some(*mode), Some(*owner), false),
                    FileChange::Delete { .. } => (true, None, None, false),
                    // A directory the script kept (something else is in it) was not deleted.
                    FileChange::RemoveDir => {
                        (!exists, f.before.as_ref().map(|b| b.mode), f.before.as_ref().map(|b| b.owner), false)
                    }
                };
                let existed_before = f.before.is_some() || backup.is_some();
                Some(AppliedFile { path: f.path.clone(), dir, deleted, mode, owner, secret, existed_before, backup })
            })
            .collect();
        AppliedPlan {
            id: stamp.to_string(),
            applied_at: time::rfc3339(now),
            unix_time: now,
            elevation: self.elevation,
            diff: plan.diff(),
            files,
            restart: plan.restart.as_ref().map(|r| r.argv.clone()),
            restart_fallback: plan.restart.as_ref().map(|r| r.fallback.clone()).unwrap_or_default(),
            undo_of: plan.undo_of.clone(),
            log,
        }
    }

    /// A backup suffix no target (and no journal entry) uses yet.
    fn unique_stamp(&self, plan: &Plan, now: u64) -> String {
        let base = time::stamp(now);
        (0..)
            .map(|n| if n == 0 { base.clone() } else { format!("{base}-{n}") })
            .find(|s| {
                plan.files.iter().all(|f| fs::symlink_metadata(backup_path(&f.path, s)).is_err())
                    && self.journal.is_none_or(|j| !j.contains(s))
            })
            .unwrap_or(base)
    }

    fn run(&self, cmd: &CommandSpec) -> Result<CommandOutput, PrivilegedError> {
        let tool = self.elevation.tool().to_string();
        let out = match self.runner.run(cmd) {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.elevation != Elevation::None => {
                return Err(PrivilegedError::ElevationMissing { tool });
            }
            Err(source) => {
                return Err(PrivilegedError::Spawn { program: cmd.program.to_string_lossy().into(), source })
            }
        };
        if out.success() {
            return Ok(out);
        }
        Err(classify(self.elevation, &out))
    }
}

/// Tells a refused or cancelled prompt from a failure of the script itself.
fn classify(elevation: Elevation, out: &CommandOutput) -> PrivilegedError {
    let stderr = String::from_utf8_lossy(&out.stderr).replace('\r', "\n");
    let code = out.code.map_or("by a signal".to_string(), |c| c.to_string());
    let marker = format!("{SCRIPT_NAME}: ");
    if let Some(at) = stderr.find(&marker) {
        // osascript wraps the script's stderr as "NN:NN: execution error: <stderr> (<code>)".
        let msg = stderr[at + marker.len()..].trim_end();
        let msg = match elevation {
            Elevation::Osascript => msg.rsplit_once(" (").map_or(msg, |(m, _)| m),
            _ => msg,
        };
        return PrivilegedError::ScriptFailed { code, stderr: msg.trim_end().to_string() };
    }
    let tool = elevation.tool().to_string();
    let stderr = stderr.trim().to_string();
    match elevation {
        Elevation::Osascript if stderr.contains("(-128)") => PrivilegedError::Cancelled { tool },
        Elevation::Osascript => PrivilegedError::NotAuthorized { tool, stderr },
        Elevation::Pkexec if out.code == Some(126) => PrivilegedError::Cancelled { tool },
        Elevation::Pkexec if out.code == Some(127) => PrivilegedError::NotAuthorized { tool, stderr },
        Elevation::Sudo if out.code == Some(1) => PrivilegedError::NotAuthorized { tool, stderr },
        _ => PrivilegedError::ScriptFailed { code, stderr },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::plan::{DaemonRestart, Owner};
    use crate::privileged::runner::RecordingRunner;
    use crate::privileged::script::SCRIPT;

    fn plan_in(dir: &Path) -> Plan {
        let mut plan = Plan::new();
        plan.write(dir.join("machines"), "ssh-ng://builder@builderbar x86_64-linux\n", 0o644, Owner::ROOT).unwrap();
        plan.restart(DaemonRestart::systemctl_restart("nix-daemon"));
        plan
    }

    #[test]
    fn empty_plan_runs_nothing() {
        let r = RecordingRunner::new();
        assert!(Applier::new(Elevation::Sudo, &r).apply(&Plan::new()).unwrap().is_none());
        assert!(r.calls().is_empty());
    }

    #[test]
    fn runs_the_script_once_through_the_elevation_with_staged_files() {
        let dir = tempfile::tempdir().unwrap();
        let r = RecordingRunner::new();
        let applier = Applier { staging_parent: Some(dir.path().into()), ..Applier::new(Elevation::Pkexec, &r) };
        let applied = applier.apply(&plan_in(dir.path())).unwrap().unwrap();
        let calls = r.calls();
        assert_eq!(calls.len(), 1);
        let argv = calls[0].argv_lossy();
        let staging = &argv[5];
        assert!(staging.starts_with(&format!("{}/builderbar-stage-", dir.path().display())), "{staging}");
        assert_eq!(argv[..5], ["pkexec", "/bin/sh", "-c", SCRIPT, "builderbar-apply"]);
        let target = dir.path().join("machines").display().to_string();
        let uid = rustix::process::geteuid().as_raw().to_string();
        assert_eq!(
            argv[6..],
            [
                &uid,
                &applied.id,
                "write",
                &target,
                &format!("{staging}/0"),
                "0644",
                "0",
                "0",
                "--",
                "3",
                "systemctl",
                "restart",
                "nix-daemon"
            ]
        );
        // The staging directory is gone afterwards.
        assert!(!Path::new(staging).exists());
        assert!(!applied.files[0].existed_before);
        assert_eq!(applied.files[0].backup, None);
    }

    fn failing(elevation: Elevation, out: CommandOutput) -> PrivilegedError {
        let dir = tempfile::tempdir().unwrap();
        let r = RecordingRunner::new();
        r.reply(Ok(out));
        Applier::new(elevation, &r).apply(&plan_in(dir.path())).unwrap_err()
    }

    #[test]
    fn classifies_cancel_refusal_and_script_failure() {
        use PrivilegedError::*;
        let e =
            failing(Elevation::Osascript, CommandOutput::failed(1, "0:412: execution error: User canceled. (-128)\n"));
        assert!(matches!(e, Cancelled { .. }), "{e}");
        let e = failing(
            Elevation::Osascript,
            CommandOutput::failed(1, "0:412: execution error: builderbar-apply: target is a symbolic link, refusing to replace it: /etc/nix/nix.conf (1)\n"),
        );
        assert_eq!(e.to_string(), "the privileged script failed (exit 1): target is a symbolic link, refusing to replace it: /etc/nix/nix.conf");
        assert!(matches!(failing(Elevation::Pkexec, CommandOutput::failed(126, "")), Cancelled { .. }));
        assert!(matches!(
            failing(Elevation::Pkexec, CommandOutput::failed(127, "Not authorized")),
            NotAuthorized { .. }
        ));
        let e = failing(Elevation::Sudo, CommandOutput::failed(1, "sudo: 3 incorrect password attempts\n"));
        assert!(matches!(&e, NotAuthorized { stderr, .. } if stderr == "sudo: 3 incorrect password attempts"), "{e}");
        let e = failing(Elevation::Sudo, CommandOutput::failed(1, "builderbar-apply: cannot rename x to y\n"));
        assert!(matches!(&e, ScriptFailed { stderr, .. } if stderr == "cannot rename x to y"), "{e}");
        let e = failing(Elevation::None, CommandOutput { code: None, ..Default::default() });
        assert!(matches!(&e, ScriptFailed { code, .. } if code == "by a signal"), "{e}");
    }

    #[test]
    fn missing_tool_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let r = RecordingRunner::new();
        r.reply(Err(std::io::ErrorKind::NotFound.into()));
        let e = Applier::new(Elevation::Pkexec, &r).apply(&plan_in(dir.path())).unwrap_err();
        assert!(matches!(&e, PrivilegedError::ElevationMissing { tool } if tool == "pkexec"), "{e}");
        use crate::error::UserFacing;
        assert!(e.hint().contains("Install pkexec"));
    }
}
