//! The writable state disk: created once with qemu-img at the configured size, then kept,
//! and kept out of backups (on macOS, Time Machine's exclusion attribute).

use std::path::Path;

use crate::host::{Host, Os};
use crate::image::manifest::DiskTemplate;
use crate::vm::error::VmError;

/// An extended attribute that keeps a file out of the host's backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupExclusion {
    pub name: &'static str,
    pub value: &'static [u8],
}

/// Time Machine's sticky exclusion, exactly as `tmutil addexclusion FILE` sets it: this
/// attribute, whose value is a binary plist holding the string `com.apple.backupd`. The
/// exclusion travels with the file (a rename or copy keeps it), and it costs one setxattr,
/// where `tmutil` would be a process and, for some paths, root.
pub const TIME_MACHINE_EXCLUSION: BackupExclusion = BackupExclusion {
    name: "com.apple.metadata:com_apple_backup_excludeItem",
    // "bplist00"; the object: 0x5f (ASCII string, length as the int that follows), 0x10 0x11
    // (a 1-byte int: 17), the 17 bytes; the offset table (object 0 at 8); the 32-byte trailer:
    // 6 unused, offset size 1, ref size 1, 1 object, top object 0, offset table at 28.
    value: b"bplist00\x5f\x10\x11com.apple.backupd\x08\
             \0\0\0\0\0\0\x01\x01\
             \0\0\0\0\0\0\0\x01\
             \0\0\0\0\0\0\0\0\
             \0\0\0\0\0\0\0\x1c",
};

/// The exclusion for `host`'s backup tool: Time Machine on macOS; Linux has no standard one.
pub fn backup_exclusion(host: Host) -> Option<BackupExclusion> {
    match host.os {
        Os::Macos => Some(TIME_MACHINE_EXCLUSION),
        Os::Linux => None,
    }
}

impl BackupExclusion {
    /// Sets the attribute on `path` unless it already holds exactly this value.
    pub fn apply(&self, path: &Path) -> std::io::Result<()> {
        if xattr::get(path, self.name)?.as_deref() == Some(self.value) {
            return Ok(());
        }
        xattr::set(path, self.name, self.value)
    }
}

/// Keeps the state disk (tens of GiB that the builder can rebuild) out of `host`'s backups.
/// A failure is logged, not returned: a missing exclusion must not stop the builder.
fn exclude_from_backups(host: Host, path: &Path) {
    if let Some(x) = backup_exclusion(host) {
        if let Err(e) = x.apply(path) {
            tracing::warn!(path = %path.display(), "cannot set {} (the state disk stays in backups): {e}", x.name);
        }
    }
}

/// Creates the qcow2 state disk at `path` unless one exists: empty at `size_gib`, or as a
/// copy of the image's template (then at the template's size). Returns whether it created one.
/// Either way the disk ends up excluded from `host`'s backups.
pub async fn ensure_state_disk(
    host: Host,
    qemu_img: &Path,
    path: &Path,
    size_gib: u64,
    template: Option<&DiskTemplate>,
) -> Result<bool, VmError> {
    if path.exists() {
        // Disks made before the exclusion existed get it too.
        exclude_from_backups(host, path);
        return Ok(false);
    }
    let tmp = path.with_extension("qcow2.creating");
    let mut cmd = tokio::process::Command::new(qemu_img);
    match template {
        None => cmd.args(["create", "-q", "-f", "qcow2"]).arg(&tmp).arg(format!("{size_gib}G")),
        Some(t) => cmd.args(["convert", "-q", "-f", t.format.as_str(), "-O", "qcow2"]).arg(&t.path).arg(&tmp),
    };
    let out = cmd
        .output()
        .await
        .map_err(|e| VmError::Disk { path: path.into(), message: format!("cannot run qemu-img: {e}") })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(VmError::Disk { path: path.into(), message: String::from_utf8_lossy(&out.stderr).trim().into() });
    }
    exclude_from_backups(host, &tmp);
    // Renamed into place so an interrupted creation never leaves a disk that looks complete.
    std::fs::rename(&tmp, path).map_err(|e| VmError::Disk { path: path.into(), message: e.to_string() })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_once_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.qcow2");
        let qemu_img = Path::new("qemu-img");
        assert!(ensure_state_disk(Host::LINUX_X86_64, qemu_img, &p, 1, None).await.unwrap());
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        assert!(!ensure_state_disk(Host::LINUX_X86_64, qemu_img, &p, 2, None).await.unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
        assert_eq!(&std::fs::read(&p).unwrap()[..4], b"QFI\xfb");
    }

    #[tokio::test]
    async fn a_template_seeds_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("template.img");
        std::fs::write(&raw, vec![7u8; 1 << 20]).unwrap();
        let t = DiskTemplate { path: raw, format: crate::image::manifest::DiskFormat::Raw };
        let p = dir.path().join("state.qcow2");
        assert!(ensure_state_disk(Host::LINUX_X86_64, Path::new("qemu-img"), &p, 40, Some(&t)).await.unwrap());
        let back = dir.path().join("back.img");
        let st = std::process::Command::new("qemu-img")
            .args(["convert", "-f", "qcow2", "-O", "raw"])
            .arg(&p)
            .arg(&back)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read(&back).unwrap(), vec![7u8; 1 << 20], "template's bytes and size, not 40 GiB");
    }

    #[tokio::test]
    async fn a_failing_qemu_img_is_a_clear_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no-such-dir/state.qcow2");
        let e = ensure_state_disk(Host::LINUX_X86_64, Path::new("qemu-img"), &p, 1, None).await.unwrap_err();
        assert!(e.to_string().starts_with("could not create the state disk"), "{e}");
        assert!(!p.exists());
    }

    #[test]
    fn the_time_machine_exclusion_is_what_tmutil_sets() {
        let x = backup_exclusion(Host::MACOS_AARCH64).unwrap();
        assert_eq!(x.name, "com.apple.metadata:com_apple_backup_excludeItem");
        assert_eq!(x.value.len(), 61);
        // The value is a binary plist of the one string Time Machine looks for.
        let v: plist::Value = plist::from_bytes(x.value).unwrap();
        assert_eq!(v, plist::Value::String("com.apple.backupd".into()));
        let mut written = Vec::new();
        plist::to_writer_binary(&mut written, &v).unwrap();
        assert_eq!(written, x.value, "byte for byte what a binary plist writer makes of it");
        assert_eq!(backup_exclusion(Host::MACOS_X86_64), Some(x));
        assert_eq!(backup_exclusion(Host::LINUX_X86_64), None);
    }

    /// Whether the filesystem under `dir` takes `user.` attributes (tmpfs before 6.6 does not).
    fn user_xattrs_work(dir: &Path) -> bool {
        let probe = dir.join("probe");
        std::fs::write(&probe, "").unwrap();
        xattr::set(&probe, "user.builderbar.probe", b"1").is_ok()
    }

    #[tokio::test]
    async fn the_exclusion_is_written_and_read_back_where_the_filesystem_allows() {
        let dir = tempfile::tempdir().unwrap();
        if !user_xattrs_work(dir.path()) {
            eprintln!("skipped: {} takes no user xattrs", dir.path().display());
            return;
        }
        // Linux accepts only namespaced names, so the same value goes under `user.`: the
        // write, the read-back and the idempotence are the code macOS runs.
        let linux_name = BackupExclusion { name: "user.com_apple_backup_excludeItem", ..TIME_MACHINE_EXCLUSION };
        let p = dir.path().join("state.qcow2");
        std::fs::write(&p, "disk").unwrap();
        linux_name.apply(&p).unwrap();
        assert_eq!(xattr::get(&p, linux_name.name).unwrap().as_deref(), Some(TIME_MACHINE_EXCLUSION.value));
        linux_name.apply(&p).unwrap();

        // The macOS name is refused here (no such namespace): the disk is still made, with a warning.
        let p = dir.path().join("mac.qcow2");
        assert!(ensure_state_disk(Host::MACOS_AARCH64, Path::new("qemu-img"), &p, 1, None).await.unwrap());
        assert!(xattr::set(&p, TIME_MACHINE_EXCLUSION.name, TIME_MACHINE_EXCLUSION.value).is_err());
        assert!(!ensure_state_disk(Host::MACOS_AARCH64, Path::new("qemu-img"), &p, 1, None).await.unwrap());
    }
}
