//! The flake the app ships (flake.nix, flake.lock, nix/), compiled into the binary, and the
//! copy of it under the caches directory that images are built from: the app and the CLI
//! carry the same pinned nixpkgs, wherever they were installed from.

use std::path::{Path, PathBuf};

/// Every file of the flake, as (path relative to the flake's root, contents).
pub const FLAKE_FILES: &[(&str, &str)] = &[
    ("flake.nix", include_str!("../../../../flake.nix")),
    ("flake.lock", include_str!("../../../../flake.lock")),
    ("nix/base64.nix", include_str!("../../../../nix/base64.nix")),
    ("nix/builder-module.nix", include_str!("../../../../nix/builder-module.nix")),
    ("nix/check-lint.nix", include_str!("../../../../nix/check-lint.nix")),
    ("nix/darwin-module.nix", include_str!("../../../../nix/darwin-module.nix")),
    ("nix/devshell.nix", include_str!("../../../../nix/devshell.nix")),
    ("nix/image-builderbar.nix", include_str!("../../../../nix/image-builderbar.nix")),
    ("nix/image-stock.nix", include_str!("../../../../nix/image-stock.nix")),
    ("nix/image.nix", include_str!("../../../../nix/image.nix")),
    ("nix/manifest.nix", include_str!("../../../../nix/manifest.nix")),
    ("nix/package.nix", include_str!("../../../../nix/package.nix")),
    ("nix/store-image.nix", include_str!("../../../../nix/store-image.nix")),
];

/// A short hash of the flake's files: the copy's directory name, so a new Builderbar with a
/// moved pin writes a new copy and never edits one Nix may be reading.
pub fn flake_hash() -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for (name, text) in FLAKE_FILES {
        for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

/// Writes the flake under `<cache_dir>/flake/<hash>` unless it is there, and returns that
/// directory. Written into a temporary directory and renamed, so a copy is whole or absent.
pub fn write_flake_copy(cache_dir: &Path) -> std::io::Result<PathBuf> {
    let parent = cache_dir.join("flake");
    let dir = parent.join(flake_hash());
    if dir.join("flake.nix").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&parent)?;
    let tmp = tempfile::Builder::new().prefix(".flake-").tempdir_in(&parent)?;
    for (name, text) in FLAKE_FILES {
        let path = tmp.path().join(name);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&path, text)?;
    }
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another process wrote the same copy first.
        Err(_) if dir.join("flake.nix").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_flake_is_carried() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut want = vec!["flake.nix".to_string(), "flake.lock".to_string()];
        for e in std::fs::read_dir(root.join("nix")).unwrap().flatten() {
            want.push(format!("nix/{}", e.file_name().to_string_lossy()));
        }
        want.sort();
        let mut have: Vec<String> = FLAKE_FILES.iter().map(|(n, _)| n.to_string()).collect();
        have.sort();
        assert_eq!(have, want, "add the new file to FLAKE_FILES");
    }

    #[test]
    fn the_copy_is_written_once_whole_and_named_by_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_flake_copy(dir.path()).unwrap();
        assert_eq!(a, dir.path().join("flake").join(flake_hash()));
        assert!(std::fs::read_to_string(a.join("flake.lock")).unwrap().contains("nixpkgs"));
        assert!(a.join("nix/image-stock.nix").is_file());
        assert_eq!(write_flake_copy(dir.path()).unwrap(), a);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("flake")).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary directory is left behind");
    }
}
