//! Atomic writes of the files Builderbar writes itself (settings, keys, records, the change
//! journal): a temp file in the same directory, fsync, rename. Files under /etc are written
//! by the privileged script instead (`privileged::script`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::UserFacing;

/// Writing `path` failed; the file still holds its old contents (or still does not exist).
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl UserFacing for WriteError {
    fn hint(&self) -> String {
        "Check that the directory exists, is writable by you and has free space; the old file was left untouched."
            .into()
    }
}

/// Replaces `path` with `bytes` and permission bits `mode`, atomically: readers see the old
/// file or the new one, never a partial one, even if the process dies half-way. Creates the
/// parent directory first.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WriteError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| WriteError { path: path.to_path_buf(), source })?;
    }
    write_atomic_with(path, bytes, mode, |_| Ok(()))
}

const TMP_MARK: &str = ".builderbar-tmp-";

/// `write_atomic` with a hook that runs after the temp file is complete and synced and before
/// the rename; tests use it to fail or kill the writer at the worst moment.
pub(crate) fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let err = |source| WriteError { path: path.to_path_buf(), source };
    let name = path.file_name().ok_or_else(|| err(std::io::Error::other("the path has no file name")))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The temp name stays well under NAME_MAX (255) whatever the target's name.
    let short: String = name.to_string_lossy().chars().take(64).collect();
    let prefix = format!(".{short}{TMP_MARK}");
    sweep_stale(dir, &prefix);

    let mut tmp =
        tempfile::Builder::new().prefix(&format!("{prefix}{}-", std::process::id())).tempfile_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().set_permissions(fs::Permissions::from_mode(mode & 0o7777)).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    // On any error below, dropping `tmp` removes the temp file.
    before_rename(tmp.path()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes temp files left next to the target by writers that were killed (their pid is gone).
fn sweep_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(prefix)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if pid_is_gone(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn pid_is_gone(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        Some(p) => matches!(rustix::process::test_kill_process(p), Err(rustix::io::Errno::SRCH)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn litter(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(TMP_MARK))
            .collect()
    }

    #[test]
    fn writes_bytes_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        write_atomic(&p, b"secret\n", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"secret\n");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o600);
        write_atomic(&p, b"other", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"other");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o644);
        assert!(litter(dir.path()).is_empty());
    }

    #[test]
    fn creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.txt");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert!(litter(p.parent().unwrap()).is_empty());
    }

    #[test]
    fn long_names_fit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n".repeat(255));
        write_atomic(&p, b"x", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn failed_rename_leaves_old_file_and_no_litter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nix.conf");
        fs::write(&p, b"old contents\n").unwrap();
        let mut seen_tmp = None;
        let e = write_atomic_with(&p, b"new contents that never land\n", 0o644, |tmp| {
            // The temp file is complete at this point ...
            assert_eq!(fs::read(tmp).unwrap(), b"new contents that never land\n");
            seen_tmp = Some(tmp.to_path_buf());
            // ... and the rename "fails".
            Err(std::io::Error::other("injected failure before rename"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("injected failure"));
        assert_eq!(fs::read(&p).unwrap(), b"old contents\n");
        assert!(!seen_tmp.unwrap().exists());
        assert!(litter(dir.path()).is_empty());
    }

    #[test]
    fn failed_rename_of_new_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fresh");
        write_atomic_with(&p, b"x", 0o644, |_| Err(std::io::Error::other("boom"))).unwrap_err();
        assert!(!p.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Runs in a child process (see `killed_writer_...`): writes and dies by SIGKILL just before
    /// the rename.
    #[test]
    fn crash_child() {
        let Some(target) = std::env::var_os("BUILDERBAR_CRASH_CHILD_TARGET") else { return };
        write_atomic_with(Path::new(&target), b"NEW CONTENTS, complete\n", 0o644, |_| {
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL)?;
            std::thread::sleep(std::time::Duration::from_secs(10));
            Ok(())
        })
        .unwrap();
        unreachable!("the writer should have been killed");
    }

    #[test]
    fn killed_writer_leaves_old_file_and_next_write_sweeps_litter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("machines");
        fs::write(&p, b"old\n").unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fsutil::tests::crash_child", "--test-threads=1", "--nocapture"])
            .env("BUILDERBAR_CRASH_CHILD_TARGET", &p)
            .output()
            .unwrap();
        assert!(!status.status.success(), "child must have died");
        // The target is the old file, intact; the killed writer's temp file is the only trace.
        assert_eq!(fs::read(&p).unwrap(), b"old\n");
        let left = litter(dir.path());
        assert_eq!(left.len(), 1, "{left:?}");
        // The next writer sweeps it (its pid is dead) and lands its own bytes.
        write_atomic(&p, b"new\n", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new\n");
        assert!(litter(dir.path()).is_empty());
    }
}
