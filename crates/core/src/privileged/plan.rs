//! The Plan: root-owned files to write or delete (with their current state), and a daemon restart.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::PrivilegedError;

/// A file's owner, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// root:wheel on macOS, root:root on Linux: both are 0:0.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// Where a written file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// Bytes computed by us; staged in a private directory for the script.
    Bytes(Vec<u8>),
    /// An existing file the script copies (a backup we cannot read unprivileged, when undoing).
    CopyOf(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// Replace (or create) the file with these contents, mode and owner. `secret` contents are
    /// never shown in the diff or the journal.
    Write { contents: Contents, mode: u32, owner: Owner, secret: bool },
    /// Remove the file, after backing it up unless every byte of it is Builderbar's own.
    Delete { backup: bool },
    /// Create the directory (its parent exists, or an earlier entry creates it).
    MakeDir { mode: u32, owner: Owner },
    /// Remove the directory if it is empty when the script gets to it (a later file keeps it).
    RemoveDir,
}

impl FileChange {
    pub fn is_dir(&self) -> bool {
        matches!(self, FileChange::MakeDir { .. } | FileChange::RemoveDir)
    }
}

/// What is at the target path now, as far as we can see without privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub mode: u32,
    pub owner: Owner,
    /// `None` when the file is not readable by us (e.g. a root-only key).
    pub bytes: Option<Vec<u8>>,
}

/// One file of a Plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Absolute target path.
    pub path: PathBuf,
    pub change: FileChange,
    /// The file as it was when the Plan was computed; `None` when it did not exist.
    pub before: Option<Existing>,
}

/// The command that restarts the Nix daemon, as an argv (never a shell string), and what to
/// run when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonRestart {
    pub argv: Vec<String>,
    /// Commands run in order when `argv` fails (launchd: `bootout`, then `bootstrap` of the
    /// job's plist); failures before the last are tolerated, the last one's status decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<Vec<String>>,
}

/// launchd label of the upstream Nix installer's daemon.
pub const NIX_DAEMON_LAUNCHD: &str = "system/org.nixos.nix-daemon";
/// launchd label of Determinate Nix's daemon.
pub const DETERMINATE_DAEMON_LAUNCHD: &str = "system/systems.determinate.nix-daemon";

impl DaemonRestart {
    /// `launchctl kickstart -k <target>` (macOS), e.g. with [`NIX_DAEMON_LAUNCHD`], and no fallback.
    pub fn launchctl_kickstart(target: &str) -> DaemonRestart {
        DaemonRestart {
            argv: vec!["launchctl".into(), "kickstart".into(), "-k".into(), target.into()],
            fallback: Vec::new(),
        }
    }

    /// `systemctl restart <unit>` (Linux with systemd), e.g. `nix-daemon`.
    pub fn systemctl_restart(unit: &str) -> DaemonRestart {
        DaemonRestart { argv: vec!["systemctl".into(), "restart".into(), unit.into()], fallback: Vec::new() }
    }

    /// Every command in the order the script may run them: the restart, then its fallback.
    pub fn commands(&self) -> Vec<Vec<String>> {
        std::iter::once(self.argv.clone()).chain(self.fallback.iter().cloned()).collect()
    }

    /// One line for the user: `a b c`, or `a b c (if that fails: d e, then f g)`.
    pub fn describe(&self) -> String {
        let mut s = self.argv.join(" ");
        if !self.fallback.is_empty() {
            let rest: Vec<String> = self.fallback.iter().map(|c| c.join(" ")).collect();
            s.push_str(&format!(" (if that fails: {})", rest.join(", then ")));
        }
        s
    }
}

/// Root-owned changes, computed unprivileged, shown as a diff, applied by one elevated script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The files that change, in order. Files that would not change are left out.
    pub files: Vec<PlannedFile>,
    /// Run after the files are in place, only if at least one changed.
    pub restart: Option<DaemonRestart>,
    /// The journal id of the applied Plan this one undoes, if any.
    pub undo_of: Option<String>,
}

/// Where the script keeps the previous version of `target` when applying with `stamp`.
pub fn backup_path(target: &Path, stamp: &str) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(format!(".builderbar-backup-{stamp}"));
    PathBuf::from(s)
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    /// Write `bytes` to `path` with `mode` and `owner`. Reads the current file to leave it out
    /// when nothing would change, and to show the diff.
    pub fn write(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
        owner: Owner,
    ) -> Result<&mut Plan, PrivilegedError> {
        self.push_write(path.as_ref(), Contents::Bytes(bytes.into()), mode, owner, false)
    }

    /// Like [`Plan::write`] for a private key or other secret: the diff shows only its size.
    pub fn write_secret(
        &mut self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
        owner: Owner,
    ) -> Result<&mut Plan, PrivilegedError> {
        self.push_write(path.as_ref(), Contents::Bytes(bytes.into()), mode, owner, true)
    }

    /// Restore `path` from the existing file `source` (used by undo for backups we cannot read).
    pub fn copy_from(
        &mut self,
        path: impl AsRef<Path>,
        source: impl AsRef<Path>,
        mode: u32,
        owner: Owner,
        secret: bool,
    ) -> Result<&mut Plan, PrivilegedError> {
        let source = source.as_ref();
        check_target(source)?;
        self.push_write(path.as_ref(), Contents::CopyOf(source.to_path_buf()), mode, owner, secret)
    }

    /// Delete `path` (it is backed up first). Left out when the file does not exist.
    pub fn delete(&mut self, path: impl AsRef<Path>) -> Result<&mut Plan, PrivilegedError> {
        self.push_delete(path.as_ref(), true)
    }

    /// Delete `path`, which holds only what Builderbar wrote (our key, a file of our lines
    /// alone), without a backup: a backup would keep a secret, or litter a directory that
    /// setup created, and holds nothing of the user's.
    pub fn delete_ours(&mut self, path: impl AsRef<Path>) -> Result<&mut Plan, PrivilegedError> {
        self.push_delete(path.as_ref(), false)
    }

    fn push_delete(&mut self, path: &Path, backup: bool) -> Result<&mut Plan, PrivilegedError> {
        self.check_new(path)?;
        if let Some(before) = current_state(path)? {
            let change = FileChange::Delete { backup };
            self.files.push(PlannedFile { path: path.to_path_buf(), change, before: Some(before) });
        }
        Ok(self)
    }

    /// Creates every missing directory on the way to `dir` (outermost first), so that files
    /// can be written into it; nothing is added for directories that exist.
    pub fn create_dirs(
        &mut self,
        dir: impl AsRef<Path>,
        mode: u32,
        owner: Owner,
    ) -> Result<&mut Plan, PrivilegedError> {
        let dir = dir.as_ref();
        check_target(dir)?;
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at {
            if d.is_dir() || self.creates_dir(d) {
                break;
            }
            match fs::symlink_metadata(d) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(d.to_path_buf()),
                Err(source) => return Err(PrivilegedError::ReadCurrent { path: d.to_path_buf(), source }),
                Ok(_) => return Err(invalid(d, "it exists and is not a directory")),
            }
            at = d.parent();
        }
        for d in missing.into_iter().rev() {
            self.files.push(PlannedFile { path: d, change: FileChange::MakeDir { mode, owner }, before: None });
        }
        Ok(self)
    }

    /// Removes the directory `dir` if it is empty once the Plan's earlier entries are applied
    /// (the script checks again and keeps a directory that is not). Left out when it is gone.
    pub fn remove_dir_if_empty(&mut self, dir: impl AsRef<Path>) -> Result<&mut Plan, PrivilegedError> {
        let dir = dir.as_ref();
        check_target(dir)?;
        let Ok(entries) = fs::read_dir(dir) else { return Ok(self) };
        let removed = |p: &Path| {
            self.files
                .iter()
                .any(|f| f.path == p && matches!(f.change, FileChange::Delete { .. } | FileChange::RemoveDir))
        };
        if entries.flatten().all(|e| removed(&e.path())) {
            let before = dir_state(dir)?;
            self.files.push(PlannedFile { path: dir.to_path_buf(), change: FileChange::RemoveDir, before });
        }
        Ok(self)
    }

    fn creates_dir(&self, dir: &Path) -> bool {
        self.files.iter().any(|f| f.path == dir && matches!(f.change, FileChange::MakeDir { .. }))
    }

    /// Restart the daemon after the files changed.
    pub fn restart(&mut self, restart: DaemonRestart) -> &mut Plan {
        self.restart = Some(restart);
        self
    }

    /// True when applying would change nothing (no prompt is shown for an empty Plan).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn push_write(
        &mut self,
        path: &Path,
        contents: Contents,
        mode: u32,
        owner: Owner,
        secret: bool,
    ) -> Result<&mut Plan, PrivilegedError> {
        self.check_new(path)?;
        if mode > 0o7777 {
            return Err(invalid(path, "the mode is not a permission mode (0..=0o7777)"));
        }
        let before = current_state(path)?;
        if let (Some(b), Contents::Bytes(new)) = (&before, &contents) {
            if b.bytes.as_ref() == Some(new) && b.mode == mode && b.owner == owner {
                return Ok(self);
            }
        }
        self.files.push(PlannedFile {
            path: path.to_path_buf(),
            change: FileChange::Write { contents, mode, owner, secret },
            before,
        });
        Ok(self)
    }

    fn check_new(&self, path: &Path) -> Result<(), PrivilegedError> {
        check_target(path)?;
        if !path.parent().is_some_and(|p| p.is_dir() || self.creates_dir(p)) {
            return Err(invalid(path, "its directory does not exist"));
        }
        if self.files.iter().any(|f| f.path == path) {
            return Err(invalid(path, "the Plan already changes this file"));
        }
        Ok(())
    }
}

fn invalid(path: &Path, reason: &'static str) -> PrivilegedError {
    PrivilegedError::InvalidTarget { path: path.to_string_lossy().escape_debug().to_string(), reason }
}

/// Targets are absolute, normal (no `.`/`..`), UTF-8 (the journal is JSON) paths.
fn check_target(path: &Path) -> Result<(), PrivilegedError> {
    if !path.is_absolute() {
        return Err(invalid(path, "the path is not absolute"));
    }
    if path.to_str().is_none() {
        return Err(invalid(path, "the path is not valid UTF-8"));
    }
    if path.components().any(|c| matches!(c, Component::CurDir | Component::ParentDir)) {
        return Err(invalid(path, "the path contains . or .."));
    }
    if path.file_name().is_none() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(invalid(path, "the path names a directory"));
    }
    Ok(())
}

/// The file at `path` now: `None` if missing; an error for symlinks and non-files, which the
/// script refuses to replace.
pub(crate) fn current_state(path: &Path) -> Result<Option<Existing>, PrivilegedError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PrivilegedError::ReadCurrent { path: path.to_path_buf(), source }),
    };
    if meta.file_type().is_symlink() {
        return Err(invalid(path, "it is a symbolic link (managed by another tool?); Builderbar will not replace it"));
    }
    if !meta.is_file() {
        return Err(invalid(path, "it exists and is not a regular file"));
    }
    let bytes = match fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => None,
        Err(source) => return Err(PrivilegedError::ReadCurrent { path: path.to_path_buf(), source }),
    };
    Ok(Some(Existing {
        mode: meta.permissions().mode() & 0o7777,
        owner: Owner { uid: meta.uid(), gid: meta.gid() },
        bytes,
    }))
}

/// A directory's mode and owner (no bytes), for the diff and the journal.
fn dir_state(path: &Path) -> Result<Option<Existing>, PrivilegedError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(Some(Existing {
            mode: m.permissions().mode() & 0o7777,
            owner: Owner { uid: m.uid(), gid: m.gid() },
            bytes: None,
        })),
        Ok(_) => Err(invalid(path, "it exists and is not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PrivilegedError::ReadCurrent { path: path.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Owner {
        Owner { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() }
    }

    #[test]
    fn unchanged_files_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nix.conf");
        fs::write(&p, b"a = b\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut plan = Plan::new();
        plan.write(&p, "a = b\n", 0o644, me()).unwrap();
        assert!(plan.is_empty());
        plan.write(&p, "a = c\n", 0o644, me()).unwrap();
        assert_eq!(plan.files.len(), 1);
        assert_eq!(plan.files[0].before.as_ref().unwrap().bytes.as_deref(), Some(&b"a = b\n"[..]));
        // Deleting a missing file is nothing to do.
        plan.delete(dir.path().join("missing")).unwrap();
        assert_eq!(plan.files.len(), 1);
    }

    #[test]
    fn mode_change_alone_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        fs::write(&p, b"k").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut plan = Plan::new();
        plan.write_secret(&p, "k", 0o600, me()).unwrap();
        assert_eq!(plan.files.len(), 1);
    }

    #[test]
    fn rejects_bad_targets() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/static/nix/nix.conf", &link).unwrap();
        let mut plan = Plan::new();
        for bad in [Path::new("relative/nix.conf"), Path::new("/etc/nix/../passwd"), &link, dir.path()] {
            let e = plan.write(bad, "x", 0o644, Owner::ROOT).unwrap_err();
            assert!(matches!(e, PrivilegedError::InvalidTarget { .. }), "{bad:?}: {e}");
        }
        let p = dir.path().join("f");
        plan.write(&p, "x", 0o644, Owner::ROOT).unwrap();
        assert!(plan.delete(&p).is_err(), "a path twice in one Plan");
        assert!(plan.write(dir.path().join("g"), "x", 0o10644, Owner::ROOT).is_err());
        let e = plan.write(dir.path().join("no/such/dir"), "x", 0o644, Owner::ROOT).unwrap_err();
        assert!(e.to_string().ends_with("its directory does not exist"), "{e}");
    }

    #[test]
    fn missing_directories_are_created_outermost_first_and_removed_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        let mut plan = Plan::new();
        plan.create_dirs(&deep, 0o755, Owner::ROOT).unwrap();
        plan.write(deep.join("machines"), "x\n", 0o644, Owner::ROOT).unwrap();
        let kinds: Vec<_> = plan.files.iter().map(|f| (f.path.clone(), f.change.is_dir())).collect();
        assert_eq!(kinds, [(dir.path().join("a"), true), (deep.clone(), true), (deep.join("machines"), false)],);
        // Existing directories add nothing.
        let mut again = Plan::new();
        again.create_dirs(dir.path(), 0o755, Owner::ROOT).unwrap();
        assert!(again.is_empty());

        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("machines"), "x\n").unwrap();
        let mut undo = Plan::new();
        undo.delete_ours(deep.join("machines")).unwrap();
        undo.remove_dir_if_empty(&deep).unwrap();
        undo.remove_dir_if_empty(dir.path().join("a")).unwrap();
        assert_eq!(undo.files.len(), 3, "{:?}", undo.files);
        // A directory holding something else of the user's stays.
        fs::write(deep.join("theirs"), "y").unwrap();
        let mut keep = Plan::new();
        keep.delete(deep.join("machines")).unwrap();
        keep.remove_dir_if_empty(&deep).unwrap();
        keep.remove_dir_if_empty(dir.path().join("a")).unwrap();
        assert_eq!(keep.files.len(), 1, "{:?}", keep.files);
    }

    #[test]
    fn backup_path_appends_the_stamp() {
        assert_eq!(
            backup_path(Path::new("/etc/nix/nix.conf"), "20260101T000000Z"),
            PathBuf::from("/etc/nix/nix.conf.builderbar-backup-20260101T000000Z")
        );
    }

    #[test]
    fn restart_argv() {
        assert_eq!(
            DaemonRestart::launchctl_kickstart(NIX_DAEMON_LAUNCHD).argv,
            ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"]
        );
        assert_eq!(DaemonRestart::systemctl_restart("nix-daemon").argv, ["systemctl", "restart", "nix-daemon"]);
        assert_eq!(DaemonRestart::systemctl_restart("nix-daemon").describe(), "systemctl restart nix-daemon");
    }

    #[test]
    fn a_fallback_is_described_and_kept_out_of_old_journal_json() {
        let r = DaemonRestart {
            argv: vec!["launchctl".into(), "kickstart".into(), "-k".into(), "system/l".into()],
            fallback: vec![
                vec!["launchctl".into(), "bootout".into(), "system/l".into()],
                vec!["launchctl".into(), "bootstrap".into(), "system".into(), "/L/l.plist".into()],
            ],
        };
        assert_eq!(
            r.describe(),
            "launchctl kickstart -k system/l (if that fails: launchctl bootout system/l, then launchctl bootstrap \
             system /L/l.plist)"
        );
        assert_eq!(r.commands().len(), 3);
        // A restart written before fallbacks existed still reads.
        let old: DaemonRestart = serde_json::from_str(r#"{"argv":["systemctl","restart","nix-daemon"]}"#).unwrap();
        assert_eq!(old, DaemonRestart::systemctl_restart("nix-daemon"));
        assert_eq!(serde_json::to_string(&old).unwrap(), r#"{"argv":["systemctl","restart","nix-daemon"]}"#);
    }
}
