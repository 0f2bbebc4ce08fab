//! The writable state disk: created once with qemu-img at the configured size, then kept.

use std::path::Path;

use crate::vm::error::VmError;

/// Creates a qcow2 disk of `size_gib` at `path` unless one exists. Returns whether it created one.
pub async fn ensure_state_disk(path: &Path, size_gib: u64) -> Result<bool, VmError> {
    if path.exists() {
        return Ok(false);
    }
    let tmp = path.with_extension("qcow2.creating");
    let out = tokio::process::Command::new("qemu-img")
        .arg("create")
        .arg("-q")
        .args(["-f", "qcow2"])
        .arg(&tmp)
        .arg(format!("{size_gib}G"))
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
        assert!(ensure_state_disk(&p, 1).await.unwrap());
        std::fs::write(dir.path().join("marker"), "x").unwrap();
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        assert!(!ensure_state_disk(&p, 2).await.unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
        assert_eq!(&std::fs::read(&p).unwrap()[..4], b"QFI\xfb");
    }
}
