//! The writable state disk: created once with qemu-img at the configured size, then kept.

use std::path::Path;

use crate::image::manifest::DiskTemplate;
use crate::vm::error::VmError;

/// Creates the qcow2 state disk at `path` unless one exists: empty at `size_gib`, or as a
/// copy of the image's template (then at the template's size). Returns whether it created one.
pub async fn ensure_state_disk(
    qemu_img: &Path,
    path: &Path,
    size_gib: u64,
    template: Option<&DiskTemplate>,
) -> Result<bool, VmError> {
    if path.exists() {
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
        assert!(ensure_state_disk(qemu_img, &p, 1, None).await.unwrap());
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        assert!(!ensure_state_disk(qemu_img, &p, 2, None).await.unwrap());
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
        assert!(ensure_state_disk(Path::new("qemu-img"), &p, 40, Some(&t)).await.unwrap());
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
        let e = ensure_state_disk(Path::new("qemu-img"), &p, 1, None).await.unwrap_err();
        assert!(e.to_string().starts_with("could not create the state disk"), "{e}");
        assert!(!p.exists());
    }
}
