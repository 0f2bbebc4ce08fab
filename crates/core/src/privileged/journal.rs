//! The journal of applied Plans (JSON, one file each) and undo: the inverse Plan of an entry.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::elevation::Elevation;
use super::plan::{current_state, DaemonRestart, Owner, Plan};
use super::PrivilegedError;
use crate::fsutil::write_atomic;

/// One file of an applied Plan, as the journal remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFile {
    pub path: PathBuf,
    /// A directory (created, or removed when empty), not a file.
    #[serde(default)]
    pub dir: bool,
    /// The file was deleted (otherwise written with `mode` and `owner`).
    pub deleted: bool,
    pub mode: Option<u32>,
    pub owner: Option<Owner>,
    pub secret: bool,
    /// A file was at `path` before the Plan was applied.
    pub existed_before: bool,
    /// Where the script kept the previous version (none if there was none or it was unchanged).
    pub backup: Option<PathBuf>,
}

/// An applied Plan: what changed, its diff, its backups, how it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPlan {
    /// Also the backups' suffix: `TARGET.builderbar-backup-<id>`.
    pub id: String,
    pub applied_at: String,
    pub unix_time: u64,
    pub elevation: Elevation,
    pub diff: String,
    pub files: Vec<AppliedFile>,
    pub restart: Option<Vec<String>>,
    /// What runs when `restart` fails (absent in entries written before fallbacks existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_fallback: Vec<Vec<String>>,
    /// The id of the entry this one undid.
    pub undo_of: Option<String>,
    /// What the script printed.
    pub log: String,
}

/// The journal directory: `<data dir>/privileged-journal/<id>.json`.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    pub fn new(data_dir: impl AsRef<Path>) -> Journal {
        Journal { dir: data_dir.as_ref().join("privileged-journal") }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.path_of(id).exists()
    }

    /// Writes an entry (atomically, mode 0600).
    pub fn save(&self, entry: &AppliedPlan) -> Result<(), PrivilegedError> {
        let err = |source| PrivilegedError::Journal { path: self.dir.clone(), source };
        fs::create_dir_all(&self.dir).map_err(err)?;
        let json = serde_json::to_vec_pretty(entry).map_err(|e| err(std::io::Error::other(e)))?;
        write_atomic(&self.path_of(&entry.id), &json, 0o600)
            .map_err(|e| PrivilegedError::Journal { path: e.path, source: e.source })
    }

    pub fn get(&self, id: &str) -> Result<AppliedPlan, PrivilegedError> {
        let path = self.path_of(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PrivilegedError::JournalNotFound { id: id.to_string() })
            }
            Err(source) => return Err(PrivilegedError::Journal { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| PrivilegedError::JournalParse { path, source })
    }

    /// All entries, oldest first.
    pub fn list(&self) -> Result<Vec<AppliedPlan>, PrivilegedError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(PrivilegedError::Journal { path: self.dir.clone(), source }),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                out.push(self.get(id)?);
            }
        }
        out.sort_by(|a, b| (a.unix_time, a.id.len(), &a.id).cmp(&(b.unix_time, b.id.len(), &b.id)));
        Ok(out)
    }

    /// Directories that applied Plans created and that no later Plan removed, so that undoing
    /// the wiring can take away exactly what setup made.
    pub fn created_dirs(&self) -> Result<Vec<PathBuf>, PrivilegedError> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for f in self.list()?.iter().flat_map(|e| &e.files).filter(|f| f.dir) {
            dirs.retain(|d| d != &f.path);
            if !f.deleted && !f.existed_before {
                dirs.push(f.path.clone());
            }
        }
        Ok(dirs)
    }

    /// The most recent entry that is neither undone nor itself an undo.
    pub fn last_undoable(&self) -> Result<Option<AppliedPlan>, PrivilegedError> {
        let all = self.list()?;
        let undone: Vec<&str> = all.iter().filter_map(|e| e.undo_of.as_deref()).collect();
        Ok(all.iter().rev().find(|e| e.undo_of.is_none() && !undone.contains(&e.id.as_str())).cloned())
    }
}

/// The Plan that puts back what `entry` changed: backed-up files are restored (their bytes when
/// we can read them, else copied by the script from the backup), files that did not exist are
/// deleted. Apply it like any Plan; it restarts the daemon the same way.
pub fn undo_plan(entry: &AppliedPlan) -> Result<Plan, PrivilegedError> {
    let mut plan = Plan::new();
    for f in entry.files.iter().rev() {
        if f.dir {
            match (f.deleted, f.existed_before, f.mode, f.owner) {
                (true, _, Some(mode), Some(owner)) => {
                    plan.create_dirs(&f.path, mode, owner)?;
                }
                (false, false, _, _) => {
                    plan.remove_dir_if_empty(&f.path)?;
                }
                _ => {}
            }
            continue;
        }
        if let Some(backup) = &f.backup {
            let Some(b) = current_state(backup)? else {
                return Err(PrivilegedError::BackupMissing { path: backup.clone() });
            };
            match b.bytes {
                Some(bytes) if f.secret => plan.write_secret(&f.path, bytes, b.mode, b.owner)?,
                Some(bytes) => plan.write(&f.path, bytes, b.mode, b.owner)?,
                None => plan.copy_from(&f.path, backup, b.mode, b.owner, f.secret)?,
            };
        } else if !f.existed_before {
            plan.delete(&f.path)?;
        }
    }
    if let Some(argv) = &entry.restart {
        plan.restart(DaemonRestart { argv: argv.clone(), fallback: entry.restart_fallback.clone() });
    }
    plan.undo_of = Some(entry.id.clone());
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, t: u64, undo_of: Option<&str>) -> AppliedPlan {
        AppliedPlan {
            id: id.into(),
            applied_at: String::new(),
            unix_time: t,
            elevation: Elevation::None,
            diff: String::new(),
            files: vec![],
            restart: None,
            restart_fallback: Vec::new(),
            undo_of: undo_of.map(Into::into),
            log: String::new(),
        }
    }

    #[test]
    fn saves_lists_and_finds_the_last_undoable() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        assert!(j.list().unwrap().is_empty());
        assert!(j.last_undoable().unwrap().is_none());
        j.save(&entry("A", 1, None)).unwrap();
        j.save(&entry("B", 2, None)).unwrap();
        assert_eq!(j.last_undoable().unwrap().unwrap().id, "B");
        j.save(&entry("C", 3, Some("B"))).unwrap();
        assert_eq!(j.last_undoable().unwrap().unwrap().id, "A");
        assert_eq!(j.list().unwrap().iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["A", "B", "C"]);
        assert!(matches!(j.get("Z"), Err(PrivilegedError::JournalNotFound { .. })));
    }

    #[test]
    fn undo_restores_backups_and_deletes_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nix.conf");
        let backup = dir.path().join("nix.conf.builderbar-backup-X");
        let created = dir.path().join("machines");
        fs::write(&conf, "new\n").unwrap();
        fs::write(&backup, "old\n").unwrap();
        fs::write(&created, "m\n").unwrap();
        let mut e = entry("X", 1, None);
        let me = current_state(&backup).unwrap().unwrap().owner;
        let file = |path: &Path, existed_before, backup: Option<PathBuf>| AppliedFile {
            path: path.into(),
            dir: false,
            deleted: false,
            mode: Some(0o644),
            owner: Some(me),
            secret: false,
            existed_before,
            backup,
        };
        e.files = vec![file(&conf, true, Some(backup.clone())), file(&created, false, None)];
        e.restart = Some(vec!["systemctl".into(), "restart".into(), "nix-daemon".into()]);
        e.restart_fallback = vec![vec!["true".into()]];
        let plan = undo_plan(&e).unwrap();
        assert_eq!(plan.undo_of.as_deref(), Some("X"));
        assert_eq!(plan.files.len(), 2);
        assert_eq!(plan.files[0].path, created);
        assert!(matches!(plan.files[0].change, crate::privileged::plan::FileChange::Delete { backup: true }));
        assert!(plan.diff().contains("-new\n+old\n"), "{}", plan.diff());
        let restart = plan.restart.unwrap();
        assert_eq!(restart.argv, ["systemctl", "restart", "nix-daemon"]);
        assert_eq!(restart.fallback, [["true"]], "undo restarts the way the Plan did, fallback included");

        fs::remove_file(&backup).unwrap();
        assert!(matches!(undo_plan(&e), Err(PrivilegedError::BackupMissing { .. })));
    }
}
