//! The writable state disk: created with qemu-img at the configured size for one image, kept
//! while that image runs, and kept out of backups (on macOS, Time Machine's exclusion
//! attribute). `state.json` beside it records the image it was made for: another image gets a
//! new disk, and the old one is kept as `previous-state.qcow2` until the new image works.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

/// Which image a state disk belongs to: the image directory (a store path, for images Nix
/// built) and a hash of its manifest. A disk holds the image's Nix store overlay and database:
/// under another image's store it would be wrong, not merely stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskIdentity {
    pub image: PathBuf,
    pub manifest_hash: String,
}

impl DiskIdentity {
    /// The identity of the image in `image_dir` (links resolved, so two links to one store
    /// path are one image).
    pub fn of(image_dir: &Path) -> DiskIdentity {
        let image = std::fs::canonicalize(image_dir).unwrap_or_else(|_| image_dir.to_path_buf());
        let manifest = std::fs::read(image.join(crate::image::MANIFEST_FILE)).unwrap_or_default();
        let mut h: u64 = 0xcbf29ce484222325;
        for b in manifest {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        DiskIdentity { image, manifest_hash: format!("{h:016x}") }
    }
}

/// `state.json`: what the disk beside it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DiskRecord {
    #[serde(flatten)]
    identity: DiskIdentity,
    size_gib: u64,
}

/// What a start did about the state disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskOutcome {
    /// The disk of this image was there.
    Kept,
    /// There was none: a new one.
    Created,
    /// The disk belonged to another image: a new one, the old kept at `previous`.
    Renewed { previous: PathBuf },
    /// The kept disk was this image's: swapped back in (the other one is now the kept one).
    Restored,
}

impl DiskOutcome {
    /// What to tell the user, when there is something to tell.
    pub fn notice(&self) -> Option<String> {
        match self {
            DiskOutcome::Renewed { previous } => Some(format!(
                "The image changed, so the builder got a new state disk (its Nix store starts empty); the old one is \
                 kept at {} until the new image works. To go back: `builderbar image use previous`.",
                previous.display()
            )),
            DiskOutcome::Restored => Some("Back on the previous image: its state disk was swapped back in.".into()),
            DiskOutcome::Kept | DiskOutcome::Created => None,
        }
    }
}

fn record_path(disk: &Path) -> PathBuf {
    disk.with_extension("json")
}

/// Where the state disk of the previous image is kept.
pub fn previous_path(disk: &Path) -> PathBuf {
    disk.with_file_name(format!("previous-{}", disk.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
}

/// The kept disk of the previous image, if there is one.
pub fn previous_disk(disk: &Path) -> Option<PathBuf> {
    Some(previous_path(disk)).filter(|p| p.exists())
}

/// The image the kept disk was made for.
pub fn previous_identity(disk: &Path) -> Option<DiskIdentity> {
    read_record(&previous_path(disk)).map(|r| r.identity)
}

/// Deletes the kept disk (once the new image works). Returns whether there was one.
pub fn discard_previous(disk: &Path) -> std::io::Result<bool> {
    let prev = previous_path(disk);
    let _ = std::fs::remove_file(record_path(&prev));
    match std::fs::remove_file(&prev) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_record(disk: &Path) -> Option<DiskRecord> {
    serde_json::from_slice(&std::fs::read(record_path(disk)).ok()?).ok()
}

fn write_record(disk: &Path, record: &DiskRecord) -> Result<(), VmError> {
    let json = serde_json::to_string_pretty(record).expect("disk record");
    crate::fsutil::write_atomic(&record_path(disk), format!("{json}\n").as_bytes(), 0o644)
        .map_err(|e| VmError::Disk { path: disk.into(), message: e.to_string() })
}

fn rename_disk(from: &Path, to: &Path) -> Result<(), VmError> {
    let err = |e: std::io::Error| VmError::Disk {
        path: from.into(),
        message: format!("cannot move it to {}: {e}", to.display()),
    };
    std::fs::rename(from, to).map_err(err)?;
    match std::fs::rename(record_path(from), record_path(to)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err(e)),
        _ => Ok(()),
    }
}

/// The state disk for the image `identity`: the one there if it is this image's (a disk made
/// before records existed is taken as this image's), the kept one swapped back if that is
/// this image's, else a new one, the old one kept as the previous disk (replacing an older
/// kept one). See [`ensure_state_disk`] for how a disk is made.
pub async fn ensure_state_disk_for(
    host: Host,
    qemu_img: &Path,
    path: &Path,
    identity: &DiskIdentity,
    size_gib: u64,
    template: Option<&DiskTemplate>,
) -> Result<DiskOutcome, VmError> {
    let record = DiskRecord { identity: identity.clone(), size_gib };
    if path.exists() {
        match read_record(path) {
            Some(r) if r.identity == *identity => {
                return ensure_state_disk(host, qemu_img, path, size_gib, template).await.map(|_| DiskOutcome::Kept)
            }
            None => {
                write_record(path, &record)?;
                return ensure_state_disk(host, qemu_img, path, size_gib, template).await.map(|_| DiskOutcome::Kept);
            }
            Some(_) => {}
        }
        let prev = previous_path(path);
        if previous_identity(path).as_ref() == Some(identity) {
            let swap = path.with_file_name(".swap-state.qcow2");
            rename_disk(path, &swap)?;
            rename_disk(&prev, path)?;
            rename_disk(&swap, &prev)?;
            exclude_from_backups(host, path);
            return Ok(DiskOutcome::Restored);
        }
        discard_previous(path).map_err(|e| VmError::Disk { path: prev.clone(), message: e.to_string() })?;
        rename_disk(path, &prev)?;
        ensure_state_disk(host, qemu_img, path, size_gib, template).await?;
        write_record(path, &record)?;
        return Ok(DiskOutcome::Renewed { previous: prev });
    }
    ensure_state_disk(host, qemu_img, path, size_gib, template).await?;
    write_record(path, &record)?;
    Ok(DiskOutcome::Created)
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

    fn image(dir: &Path, name: &str) -> DiskIdentity {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(crate::image::MANIFEST_FILE), format!("{{\"name\": \"{name}\"}}")).unwrap();
        DiskIdentity::of(&d)
    }

    #[tokio::test]
    async fn a_disk_belongs_to_its_image_a_new_image_gets_a_new_one_and_going_back_swaps_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vm/state.qcow2");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let q = Path::new("qemu-img");
        let (one, two) = (image(dir.path(), "one"), image(dir.path(), "two"));
        let h = Host::LINUX_X86_64;
        assert_eq!(ensure_state_disk_for(h, q, &p, &one, 1, None).await.unwrap(), DiskOutcome::Created);
        std::fs::write(p.with_file_name("marker-one"), "").unwrap();
        let one_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&p).unwrap());
        assert_eq!(ensure_state_disk_for(h, q, &p, &one, 1, None).await.unwrap(), DiskOutcome::Kept);
        let renewed = ensure_state_disk_for(h, q, &p, &two, 1, None).await.unwrap();
        assert_eq!(renewed, DiskOutcome::Renewed { previous: previous_path(&p) });
        assert!(renewed.notice().unwrap().contains("builderbar image use previous"));
        assert_eq!(previous_identity(&p), Some(one.clone()));
        let ino = |x: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(x).unwrap());
        assert_eq!(ino(&previous_path(&p)), one_inode, "the old disk itself is kept");
        assert_ne!(ino(&p), one_inode);
        // Back to the first image: its disk comes back, the second's is kept.
        assert_eq!(ensure_state_disk_for(h, q, &p, &one, 1, None).await.unwrap(), DiskOutcome::Restored);
        assert_eq!(ino(&p), one_inode);
        assert_eq!(previous_identity(&p), Some(two.clone()));
        // A third image replaces the kept disk; discarding removes it.
        let three = image(dir.path(), "three");
        ensure_state_disk_for(h, q, &p, &three, 1, None).await.unwrap();
        assert_eq!(previous_identity(&p), Some(one));
        assert!(discard_previous(&p).unwrap());
        assert!(previous_disk(&p).is_none() && !discard_previous(&p).unwrap());
        let names: Vec<String> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        assert!(!names.iter().any(|n| n.contains("swap")), "{names:?}");
    }

    #[tokio::test]
    async fn a_disk_made_before_records_is_taken_as_the_current_images() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.qcow2");
        assert!(ensure_state_disk(Host::LINUX_X86_64, Path::new("qemu-img"), &p, 1, None).await.unwrap());
        let id = image(dir.path(), "img");
        let got = ensure_state_disk_for(Host::LINUX_X86_64, Path::new("qemu-img"), &p, &id, 1, None).await.unwrap();
        assert_eq!(got, DiskOutcome::Kept);
        assert_eq!(read_record(&p).unwrap().identity, id);
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
