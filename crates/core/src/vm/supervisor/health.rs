//! What goes wrong under a running VM without qemu saying so: its state disk deleted or
//! replaced, the filesystem under the VM directory full; and the free space a start needs.

use std::path::Path;

use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::state::{FileId, RunRecord};

/// Below this much free space under the VM directory a start is refused and a running builder
/// is reported as out of space: qemu's own files and the state disk's growth need room.
pub const MIN_FREE_MIB: u64 = 256;

/// Free space, in MiB, for us on the filesystem holding `dir`.
pub fn free_mib(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize) / (1024 * 1024))
}

/// Refuses a start that would meet a full disk (qemu then fails, or cannot even say why).
pub(super) fn check_free_space(vm_dir: &Path) -> Result<(), VmError> {
    match free_mib(vm_dir) {
        Some(free) if free < MIN_FREE_MIB => {
            Err(VmError::DiskFull { dir: vm_dir.into(), free_mib: free, need_mib: MIN_FREE_MIB })
        }
        _ => Ok(()),
    }
}

/// What became of the state disk a run began with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskLoss {
    /// No file at its path: qemu writes to a deleted file, lost when it exits.
    Deleted,
    /// Another file at its path: the run still uses the old, deleted one.
    Replaced,
}

/// Whether the state disk of `run` is gone from under it.
pub fn state_disk_loss(files: &VmFiles, run: &RunRecord) -> Option<DiskLoss> {
    let began = run.state_disk?;
    match FileId::of(&files.state_disk()) {
        None => Some(DiskLoss::Deleted),
        Some(now) if now != began => Some(DiskLoss::Replaced),
        Some(_) => None,
    }
}

/// Said to the user about a lost state disk.
pub fn disk_loss_notice(files: &VmFiles, loss: DiskLoss) -> String {
    let path = files.state_disk();
    match loss {
        DiskLoss::Deleted => format!(
            "The state disk {} was deleted while the builder runs: qemu still writes to the deleted file, and what \
             the builder stored is lost when it stops; the next start creates a new, empty disk.",
            path.display()
        ),
        DiskLoss::Replaced => format!(
            "The state disk {} was replaced while the builder runs: the builder still uses the old, deleted one, \
             which is lost when it stops.",
            path.display()
        ),
    }
}

/// Everything the user should know about a running VM: the run's own note, then what health
/// finds now. None when there is nothing to say.
pub(super) fn run_notice(files: &VmFiles, run: &RunRecord) -> Option<String> {
    let mut notes: Vec<String> = run.notice.iter().cloned().collect();
    if let Some(loss) = state_disk_loss(files, run) {
        notes.push(disk_loss_notice(files, loss));
    }
    if let Some(free) = free_mib(&files.vm_dir).filter(|f| *f < MIN_FREE_MIB) {
        notes.push(format!(
            "The disk holding {} is full or nearly so ({free} MiB free): the builder's writes to its state disk \
             fail, and its filesystem may have turned read-only. Free space there, then restart the builder \
             (`builderbar stop`, then `builderbar start`).",
            files.vm_dir.display()
        ));
    }
    (!notes.is_empty()).then(|| notes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state_disk: Option<FileId>) -> RunRecord {
        RunRecord {
            pid: 1,
            port: 1,
            accelerator: "tcg".into(),
            image_name: "i".into(),
            image_dir: "/i".into(),
            started_at_ms: 0,
            ready_marker: None,
            notice: None,
            runtime_dir: None,
            state_disk,
        }
    }

    #[test]
    fn a_deleted_or_replaced_state_disk_is_noticed() {
        let t = tempfile::tempdir().unwrap();
        let files = VmFiles::at(t.path(), &t.path().join("run"));
        std::fs::write(files.state_disk(), "disk").unwrap();
        let r = run(FileId::of(&files.state_disk()));
        assert_eq!(state_disk_loss(&files, &r), None);
        assert_eq!(run_notice(&files, &r), None);

        // Replaced: a new file under the same name (the old one held open elsewhere).
        let keep = std::fs::File::open(files.state_disk()).unwrap();
        std::fs::remove_file(files.state_disk()).unwrap();
        std::fs::write(files.state_disk(), "other").unwrap();
        assert_eq!(state_disk_loss(&files, &r), Some(DiskLoss::Replaced));
        std::fs::remove_file(files.state_disk()).unwrap();
        assert_eq!(state_disk_loss(&files, &r), Some(DiskLoss::Deleted));
        drop(keep);
        let n = run_notice(&files, &RunRecord { notice: Some("KVM hung; TCG.".into()), ..r }).unwrap();
        assert!(n.starts_with("KVM hung; TCG. The state disk") && n.contains("was deleted"), "{n}");
        // A run without a state disk has none to lose.
        assert_eq!(state_disk_loss(&files, &run(None)), None);
    }

    #[test]
    fn free_space_is_measured() {
        let t = tempfile::tempdir().unwrap();
        assert!(free_mib(t.path()).is_some_and(|f| f > 0));
        assert!(free_mib(&t.path().join("absent")).is_none());
    }
}
