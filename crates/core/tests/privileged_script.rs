//! The real privileged script, run as root (CI is root) in temp dirs with hostile paths and contents.
//! Without root these tests print why and pass vacuously.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use builderbar_core::privileged::script::{Invocation, Op};
use builderbar_core::privileged::{
    undo_plan, Applier, CommandRunner, Elevation, Journal, Owner, Plan, PrivilegedError, SystemRunner,
};

fn is_root() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: these tests run the privileged script for real and need root");
    false
}

/// Every file under `dir` (recursively), for litter checks.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_file(path: &Path, bytes: &[u8], mode: u32, uid: u32, gid: u32) {
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert!(m.is_file(), "{path:?}");
    assert_eq!(fs::read(path).unwrap(), bytes, "{path:?}");
    assert_eq!(m.mode() & 0o7777, mode, "{path:?}");
    assert_eq!((m.uid(), m.gid()), (uid, gid), "{path:?}");
}

/// A marker directory that hostile strings try to `touch` into; it must stay empty.
struct Markers(tempfile::TempDir);

impl Markers {
    fn new() -> Markers {
        Markers(tempfile::Builder::new().prefix("pwned-").tempdir_in("/tmp").unwrap())
    }
    fn path(&self) -> String {
        self.0.path().display().to_string()
    }
    fn assert_untouched(&self) {
        let left: Vec<_> = fs::read_dir(self.0.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "something was executed from a path or value: {left:?}");
    }
}

#[test]
fn hostile_paths_and_contents_land_exactly_and_nothing_executes() {
    if !is_root() {
        return;
    }
    let m = Markers::new();
    let mk = m.path();
    let base = tempfile::tempdir().unwrap();
    let b = base.path().display();

    let t1 = PathBuf::from(format!("{b}/dir with spaces/it's \"quoted\" $(touch {mk}/t1).conf"));
    let t2 = PathBuf::from(format!("{b}/`touch {mk}/t2`;echo hi >{mk}/t2b\n*?[ab]{{c,d}}"));
    let t3 = PathBuf::from(format!("{b}/new\nline\n"));
    let t4 = PathBuf::from(format!("{b}/-rf ~ $HOME ${{IFS}} & | ; < > \\ \t'\"'"));
    let existing = PathBuf::from(format!("{b}/exist'ing $(touch {mk}/ex)"));
    let doomed = PathBuf::from(format!("{b}/doomed `touch {mk}/doomed`"));
    for t in [&t1, &t2, &t3, &t4, &existing, &doomed] {
        fs::create_dir_all(t.parent().unwrap()).unwrap();
    }
    fs::write(&existing, b"original bytes\n").unwrap();
    fs::set_permissions(&existing, fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(&doomed, b"to be deleted\n").unwrap();

    let c1 = format!("$(touch {mk}/c1)\n`touch {mk}/c2`\n").into_bytes();
    let c2 = b"\0binary\xff\xfe no newline".to_vec();
    let c3 = b"line 1\r\nline 2 'single' \"double\" $((1+1)) ${HOME} *\n\n\n".to_vec();
    let c4 = Vec::new();
    let c5 = b"replaced\n".to_vec();

    // The staging area lives under a hostile name too.
    let staging_parent = PathBuf::from(format!("{b}/staging $(touch {mk}/st) `touch {mk}/st2`"));
    fs::create_dir_all(&staging_parent).unwrap();
    let restarted = base.path().join("restarted $(touch x)");

    let plan_of = || {
        let mut plan = Plan::new();
        plan.write(&t1, c1.clone(), 0o644, Owner::ROOT).unwrap();
        plan.write_secret(&t2, c2.clone(), 0o600, Owner { uid: 1234, gid: 5678 }).unwrap();
        plan.write(&t3, c3.clone(), 0o755, Owner::ROOT).unwrap();
        plan.write(&t4, c4.clone(), 0o640, Owner { uid: 0, gid: 5678 }).unwrap();
        plan.write(&existing, c5.clone(), 0o644, Owner::ROOT).unwrap();
        plan.delete(&doomed).unwrap();
        plan.restart(builderbar_core::privileged::DaemonRestart {
            argv: vec!["touch".into(), restarted.display().to_string()],
            fallback: Vec::new(),
        });
        plan
    };
    let plan = plan_of();
    assert_eq!(plan.files.len(), 6);
    let diff = plan.diff();
    assert!(diff.contains("(secret contents not shown, 20 bytes)"), "{diff}");
    assert!(diff.contains("new\\nline\\n"), "{diff}");

    let data = tempfile::tempdir().unwrap();
    let journal = Journal::new(data.path());
    let runner = SystemRunner::default();
    let applier = Applier { staging_parent: Some(staging_parent.clone()), ..Applier::new(Elevation::None, &runner) }
        .with_journal(&journal);
    let applied = applier.apply(&plan).unwrap().expect("a non-empty plan runs");

    assert_file(&t1, &c1, 0o644, 0, 0);
    assert_file(&t2, &c2, 0o600, 1234, 5678);
    assert_file(&t3, &c3, 0o755, 0, 0);
    assert_file(&t4, &c4, 0o640, 0, 5678);
    assert_file(&existing, &c5, 0o644, 0, 0);
    assert!(!doomed.exists());
    assert!(restarted.exists(), "the restart argv ran");
    m.assert_untouched();

    // Backups of the two files that existed, with their old bytes and mode.
    let by_path = |p: &Path| applied.files.iter().find(|f| f.path == p).unwrap().clone();
    let ex = by_path(&existing);
    assert!(ex.existed_before);
    assert_file(ex.backup.as_ref().unwrap(), b"original bytes\n", 0o640, 0, 0);
    let dm = by_path(&doomed);
    assert!(dm.deleted);
    assert_eq!(fs::read(dm.backup.as_ref().unwrap()).unwrap(), b"to be deleted\n");
    assert!(by_path(&t1).backup.is_none() && !by_path(&t1).existed_before);
    assert!(applied.log.contains("wrote "), "{}", applied.log);
    // The journal has it, with the diff (and no secret bytes).
    let logged = journal.get(&applied.id).unwrap();
    assert_eq!(logged, applied);
    assert!(!logged.diff.contains("binary"));
    // No temp files left anywhere; the staging directory is gone.
    let files = all_files(base.path());
    assert!(files.iter().all(|p| !p.to_string_lossy().contains(".builderbar-tmp")), "{files:?}");
    assert_eq!(fs::read_dir(&staging_parent).unwrap().count(), 0);

    // Re-applying: the recomputed Plan is empty, so nothing runs and nothing is asked.
    fs::remove_file(&restarted).unwrap();
    assert!(plan_of().is_empty());
    assert!(applier.apply(&plan_of()).unwrap().is_none());
    let before_count = all_files(base.path()).len();
    // And the script itself, told the same thing again, leaves the files alone and skips the restart.
    let out = run_script(&staging_parent, |stage| {
        let src = stage.join("1");
        fs::write(&src, &c1).unwrap();
        vec![Op::Write { target: t1.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }]
    });
    assert!(out.is_ok(), "{out:?}");
    let log = out.unwrap();
    assert!(log.contains("unchanged ") && log.contains("nothing changed, not restarting the daemon"), "{log}");
    assert!(!restarted.exists());
    assert_eq!(all_files(base.path()).len(), before_count, "no new backups");

    // Undo restores the original bytes, modes and owners, and removes what was created.
    let entry = journal.last_undoable().unwrap().unwrap();
    assert_eq!(entry.id, applied.id);
    let undo = undo_plan(&entry).unwrap();
    let undone = applier.apply(&undo).unwrap().unwrap();
    assert_eq!(undone.undo_of.as_deref(), Some(applied.id.as_str()));
    assert_file(&existing, b"original bytes\n", 0o640, 0, 0);
    assert_file(&doomed, b"to be deleted\n", 0o644, 0, 0);
    for t in [&t1, &t2, &t3, &t4] {
        assert!(!t.exists(), "{t:?}");
    }
    assert!(restarted.exists(), "undo restarts the daemon too");
    assert!(journal.last_undoable().unwrap().is_none());
    m.assert_untouched();
}

/// Runs the script directly (as root, no elevation) with a fresh private staging dir.
fn run_script(parent: &Path, ops: impl FnOnce(&Path) -> Vec<Op>) -> Result<String, String> {
    let stage = tempfile::Builder::new().prefix("stage").tempdir_in(parent).unwrap();
    fs::set_permissions(stage.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let inv = Invocation {
        staging: stage.path().into(),
        staging_uid: 0,
        stamp: "T1".into(),
        ops: ops(stage.path()),
        restart: vec![vec![
            "touch".into(),
            parent.parent().unwrap().join("restarted $(touch x)").display().to_string(),
        ]],
    };
    let out = SystemRunner::default().run(&Elevation::None.command("", &inv.argv())).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.success() {
        Ok(stdout)
    } else {
        Err(stderr)
    }
}

#[test]
fn script_refuses_untrusted_staging_symlinks_and_directories() {
    if !is_root() {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let work = base.path().join("w");
    fs::create_dir(&work).unwrap();
    let target = base.path().join("target");
    fs::write(&target, "old").unwrap();

    // A source that is a symlink (to a root-only file, say) is refused.
    let e = run_script(&work, |s| {
        let src = s.join("0");
        std::os::unix::fs::symlink("/etc/shadow", &src).unwrap();
        vec![Op::Write { target: target.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }]
    })
    .unwrap_err();
    assert!(e.contains("source is not a regular file"), "{e}");

    // A staging directory others can write to is refused.
    let e = run_script(&work, |s| {
        fs::set_permissions(s, fs::Permissions::from_mode(0o777)).unwrap();
        let src = s.join("0");
        fs::write(&src, "new").unwrap();
        vec![Op::Write { target: target.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }]
    })
    .unwrap_err();
    assert!(e.contains("staging directory is not private"), "{e}");

    // A staging directory owned by someone else is refused.
    let e = run_script(&work, |s| {
        rustix::fs::chown(s, Some(rustix::fs::Uid::from_raw(4321)), None).unwrap();
        let src = s.join("0");
        fs::write(&src, "new").unwrap();
        vec![Op::Write { target: target.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }]
    })
    .unwrap_err();
    assert!(e.contains("staging directory is not private to uid 0"), "{e}");

    // A target that is a symlink or a directory is refused, and nothing else in the plan is
    // touched: every operation is validated before the first write.
    let link = base.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for bad in [link.clone(), work.clone()] {
        let e = run_script(&work, |s| {
            let src = s.join("0");
            fs::write(&src, "new").unwrap();
            vec![
                Op::Write { target: target.clone(), source: src.clone(), mode: 0o644, uid: 0, gid: 0 },
                Op::Write { target: bad.clone(), source: src, mode: 0o644, uid: 0, gid: 0 },
            ]
        })
        .unwrap_err();
        assert!(e.contains("symbolic link") || e.contains("not a regular file"), "{e}");
    }
    assert_eq!(fs::read(&target).unwrap(), b"old");
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());

    // Bad numbers never reach chmod/chown.
    let e = run_script(&work, |s| {
        let src = s.join("0");
        fs::write(&src, "new").unwrap();
        vec![Op::Write { target: target.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }]
    });
    assert!(e.is_ok());
    let stage = tempfile::tempdir_in(&work).unwrap();
    fs::set_permissions(stage.path(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(stage.path().join("0"), "x").unwrap();
    let argv: Vec<std::ffi::OsString> =
        Invocation { staging: stage.path().into(), staging_uid: 0, stamp: "T2".into(), ops: vec![], restart: vec![] }
            .argv()
            .into_iter()
            .chain(
                ["write", target.to_str().unwrap(), stage.path().join("0").to_str().unwrap(), "0644;id", "0", "0"]
                    .map(Into::into),
            )
            .collect();
    let out = SystemRunner::default().run(&Elevation::None.command("", &argv)).unwrap();
    assert_eq!(out.code, Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "builderbar-apply: bad mode: 0644;id\n");
}

/// Mounts a tiny tmpfs so that writing the temp file runs out of space half-way.
struct TinyFs(tempfile::TempDir);

impl TinyFs {
    fn mount() -> Option<TinyFs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here");
            return None;
        }
        Some(TinyFs(dir))
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn failure_half_way_leaves_old_or_new_files_never_partial() {
    if !is_root() {
        return;
    }
    let Some(fs_) = TinyFs::mount() else { return };
    let dir = fs_.0.path();
    let first = dir.join("first");
    let second = dir.join("second");
    fs::write(&first, "first old\n").unwrap();
    fs::write(&second, "second old\n").unwrap();
    let stage_parent = tempfile::tempdir().unwrap();

    let mut plan = Plan::new();
    plan.write(&first, "first new\n", 0o644, Owner::ROOT).unwrap();
    // 1 MiB does not fit in 64 KiB: `cat` into the temp file fails after a partial write.
    plan.write(&second, vec![b'x'; 1 << 20], 0o644, Owner::ROOT).unwrap();
    let runner = SystemRunner::default();
    let data = tempfile::tempdir().unwrap();
    let journal = Journal::new(data.path());
    let applier =
        Applier { staging_parent: Some(stage_parent.path().into()), ..Applier::new(Elevation::None, &runner) }
            .with_journal(&journal);
    let e = applier.apply(&plan).unwrap_err();
    assert!(matches!(&e, PrivilegedError::ScriptFailed { stderr, .. } if stderr.starts_with("cannot write")), "{e}");

    // Each file is the old or the new one, whole; the failed temp file was removed.
    assert_eq!(fs::read(&first).unwrap(), b"first new\n");
    assert_eq!(fs::read(&second).unwrap(), b"second old\n");
    let names: Vec<String> =
        fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.contains(".builderbar-tmp")), "{names:?}");

    // The part that did land is journaled, so undo puts it back.
    let partial = journal.last_undoable().unwrap().expect("a partial entry");
    assert!(partial.log.starts_with("failed part-way"), "{}", partial.log);
    let undo = undo_plan(&partial).unwrap();
    assert_eq!(undo.files.len(), 1, "only the first file differs from its backup");
    applier.apply(&undo).unwrap().unwrap();
    assert_eq!(fs::read(&first).unwrap(), b"first old\n");
    assert_eq!(fs::read(&second).unwrap(), b"second old\n");
}

/// macOS's /bin/sh is bash in POSIX mode, not dash: the script must behave the same there.
#[test]
fn script_behaves_the_same_under_bash_posix() {
    if !is_root() {
        return;
    }
    if std::process::Command::new("bash").arg("-c").arg("true").status().is_err() {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let m = Markers::new();
    let mk = m.path();
    let base = tempfile::tempdir().unwrap();
    let stage = tempfile::tempdir().unwrap();
    fs::set_permissions(stage.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let target = base.path().join(format!("it's `touch {mk}/a` $(touch {mk}/b)\n"));
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    let existing = base.path().join("exists \"here\"");
    fs::write(&existing, "old").unwrap();
    let src = stage.path().join("0");
    fs::write(&src, format!("$(touch {mk}/c)\n")).unwrap();
    let inv = Invocation {
        staging: stage.path().into(),
        staging_uid: 0,
        stamp: "B1".into(),
        ops: vec![
            Op::Write { target: target.clone(), source: src.clone(), mode: 0o640, uid: 1, gid: 2 },
            Op::Write { target: existing.clone(), source: src.clone(), mode: 0o600, uid: 0, gid: 0 },
        ],
        restart: vec![vec!["true".into()]],
    };
    let mut argv = inv.argv();
    argv.splice(0..1, ["bash".into(), "--posix".into()]);
    let cmd = builderbar_core::privileged::CommandSpec::new(argv);
    let out = SystemRunner::default().run(&cmd).unwrap();
    assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = format!("$(touch {mk}/c)\n");
    assert_file(&target, want.as_bytes(), 0o640, 1, 2);
    assert_file(&existing, want.as_bytes(), 0o600, 0, 0);
    assert_eq!(fs::read(base.path().join("exists \"here\".builderbar-backup-B1")).unwrap(), b"old");
    m.assert_untouched();
}

/// Runs the script with one write and `restart` as the restart, under `shell`.
fn run_restart(shell: &[&str], restart: Vec<Vec<String>>) -> (PathBuf, tempfile::TempDir, Result<String, String>) {
    let work = tempfile::tempdir().unwrap();
    let stage = tempfile::Builder::new().prefix("stage").tempdir_in(work.path()).unwrap();
    fs::set_permissions(stage.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let src = stage.path().join("0");
    fs::write(&src, "new\n").unwrap();
    let target = work.path().join("nix.conf");
    let inv = Invocation {
        staging: stage.path().into(),
        staging_uid: 0,
        stamp: "R1".into(),
        ops: vec![Op::Write { target: target.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }],
        restart,
    };
    let mut argv = inv.argv();
    argv.splice(0..1, shell.iter().map(Into::into));
    let out = SystemRunner::default().run(&builderbar_core::privileged::CommandSpec::new(argv)).unwrap();
    let result = if out.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    (target, work, result)
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn a_failing_restart_runs_its_fallback_as_data() {
    if !is_root() {
        return;
    }
    let m = Markers::new();
    let mk = m.path();
    for shell in [&["/bin/sh"][..], &["bash", "--posix"]] {
        // launchd's shape: kickstart fails, bootout fails too (the job is gone), bootstrap
        // loads it. Each word is one argument: none is read as shell code or an option.
        let marker = tempfile::tempdir().unwrap();
        let loaded = marker.path().join(format!("loaded $(touch {mk}/a) `touch {mk}/b`"));
        fs::create_dir_all(loaded.parent().unwrap()).unwrap();
        let (target, _work, out) = run_restart(
            shell,
            vec![
                argv(&["sh", "-c", "echo 'Could not find service' >&2; exit 113"]),
                argv(&["false", "-k", "$(touch x)"]),
                argv(&["touch", "--", loaded.to_str().unwrap()]),
            ],
        );
        let log = out.unwrap_or_else(|e| panic!("{shell:?}: {e}"));
        assert_file(&target, b"new\n", 0o644, 0, 0);
        assert!(loaded.exists(), "{shell:?}: the fallback's last command ran: {log}");
        assert!(
            log.contains("failed: sh -c echo 'Could not find service' >&2; exit 113 (exit 113)\ntrying the fallback\n"),
            "{log}"
        );
        assert!(log.contains("failed: false -k $(touch x) (exit 1)\n"), "{log}");
        assert!(log.contains(&format!("ran touch -- {}\n", loaded.display())), "{log}");

        // The fallback's last command decides: its failure is the script's, naming both.
        let (_, _work, out) =
            run_restart(shell, vec![argv(&["false"]), argv(&["true"]), argv(&["sh", "-c", "exit 5"])]);
        assert_eq!(
            out.unwrap_err(),
            "builderbar-apply: restart command failed: false (exit 1); its fallback failed too: sh -c exit 5 (exit 5)\n"
        );
        // Without a fallback, the restart's failure is the script's.
        let (_, _work, out) = run_restart(shell, vec![argv(&["sh", "-c", "exit 113"])]);
        assert_eq!(out.unwrap_err(), "builderbar-apply: restart command failed: sh -c exit 113 (exit 113)\n");
        // A restart that works needs no fallback.
        let (_, _work, out) = run_restart(shell, vec![argv(&["true"]), argv(&["sh", "-c", "exit 9"])]);
        assert!(!out.unwrap().contains("fallback"));
    }
    m.assert_untouched();
}

#[test]
fn a_malformed_restart_is_refused_before_any_file_changes() {
    if !is_root() {
        return;
    }
    for tail in [
        &["--"][..],
        &["--", "2", "true"],
        &["--", "0"],
        &["--", "01", "true"],
        &["--", "1", "true", "x"],
        &["--", "1;", "true"],
    ] {
        let work = tempfile::tempdir().unwrap();
        let stage = tempfile::Builder::new().prefix("stage").tempdir_in(work.path()).unwrap();
        fs::set_permissions(stage.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let src = stage.path().join("0");
        fs::write(&src, "new\n").unwrap();
        let target = work.path().join("nix.conf");
        let inv = Invocation {
            staging: stage.path().into(),
            staging_uid: 0,
            stamp: "R2".into(),
            ops: vec![Op::Write { target: target.clone(), source: src, mode: 0o644, uid: 0, gid: 0 }],
            restart: vec![],
        };
        let argv: Vec<std::ffi::OsString> = inv.argv().into_iter().chain(tail.iter().map(Into::into)).collect();
        let out = SystemRunner::default().run(&builderbar_core::privileged::CommandSpec::new(argv)).unwrap();
        assert!(!out.success(), "{tail:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("builderbar-apply: "), "{tail:?}: {err}");
        assert!(!target.exists(), "{tail:?}: nothing is written when the restart is malformed");
    }
}
