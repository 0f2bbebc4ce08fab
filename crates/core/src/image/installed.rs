//! The images setup fetched: links under `<caches>/images`, each a Nix garbage-collector root
//! of one image directory in the store, named by stage and store hash (`stock-1a2b3c4d`).

use std::path::{Path, PathBuf};

use crate::image::manifest::{HostKeySpec, ImageManifest};
use crate::image::nix_provider::Stage;
use crate::image::origin::ImageError;

/// The stage an image is at, read from its manifest: a host key everybody knows (nixpkgs'
/// stock builder) is stage 1; a host key made for this install is stage 2.
pub fn stage_of(manifest: &ImageManifest) -> Stage {
    match manifest.host_key {
        HostKeySpec::Fixed { .. } => Stage::Stock,
        HostKeySpec::Runtime => Stage::Hardened,
    }
}

/// One entry of `<caches>/images`.
#[derive(Debug, Clone)]
pub struct InstalledImage {
    pub name: String,
    /// The link (or directory) under `<caches>/images`: what the image setting names.
    pub path: PathBuf,
    /// Where it leads (a store path, for what setup fetched).
    pub target: PathBuf,
    pub manifest: Result<ImageManifest, String>,
}

/// `<caches>/images`.
#[derive(Debug, Clone)]
pub struct InstalledImages {
    pub dir: PathBuf,
}

impl InstalledImages {
    pub fn new(cache_dir: &Path) -> InstalledImages {
        InstalledImages { dir: cache_dir.join("images") }
    }

    /// Where the image `store_path` of `stage` is linked: `<stage>-<first 8 of its hash>`.
    pub fn link_for(&self, stage: Stage, store_path: &Path) -> PathBuf {
        let base = store_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let hash: String = base.chars().take_while(|c| *c != '-').take(8).collect();
        self.dir.join(format!("{}-{hash}", stage.name()))
    }

    /// Creates `<caches>/images` for a new link.
    pub fn ensure_dir(&self) -> Result<(), ImageError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| ImageError::Link { path: self.dir.clone(), source })
    }

    /// Every image there, by name.
    pub fn list(&self) -> Vec<InstalledImage> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out: Vec<InstalledImage> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| {
                let path = e.path();
                let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                let manifest = ImageManifest::load(&path).map_err(|e| e.to_string());
                InstalledImage { name: e.file_name().to_string_lossy().into_owned(), path, target, manifest }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The image with this name (or at this path under `<caches>/images`).
    pub fn find(&self, name: &str) -> Result<InstalledImage, ImageError> {
        let wanted = Path::new(name);
        self.list()
            .into_iter()
            .find(|i| i.name == name || i.path == wanted)
            .ok_or_else(|| ImageError::NotFound { name: name.into(), dir: self.dir.clone() })
    }

    /// Removes the link `name` (its store paths become garbage for `nix-collect-garbage`);
    /// refuses the image in use. Only links are removed: a directory there is someone's own.
    pub fn remove(&self, name: &str, in_use: Option<&Path>) -> Result<InstalledImage, ImageError> {
        let image = self.find(name)?;
        if in_use.is_some_and(|u| same_image(u, &image.path)) {
            return Err(ImageError::InUse { name: image.name });
        }
        let meta = std::fs::symlink_metadata(&image.path)
            .map_err(|source| ImageError::Link { path: image.path.clone(), source })?;
        if !meta.file_type().is_symlink() {
            return Err(ImageError::Link {
                path: image.path.clone(),
                source: std::io::Error::other("it is a directory, not a link Builderbar made; remove it yourself"),
            });
        }
        std::fs::remove_file(&image.path).map_err(|source| ImageError::Link { path: image.path.clone(), source })?;
        Ok(image)
    }
}

/// Whether two image paths lead to the same directory.
pub fn same_image(a: &Path, b: &Path) -> bool {
    a == b || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOCK: &str = r#"{"schema":1,"name":"s","system":"aarch64-linux","kernel":"k","initrd":"i","console":"ttyAMA0",
      "ssh":{"user":"builder"},"host_key":{"kind":"fixed","public":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb"},"keys":{"channel":"fw_cfg","prefix":"p"}}"#;

    #[test]
    fn links_are_named_by_stage_and_hash_listed_and_removed_unless_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let images = InstalledImages::new(dir.path());
        let store = dir.path().join("store/1a2b3c4d5e6f-builderbar-image-stock-aarch64-linux");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("builderbar-image.json"), STOCK).unwrap();
        let link = images.link_for(Stage::Stock, &store);
        assert_eq!(link, dir.path().join("images/stock-1a2b3c4d"));
        images.ensure_dir().unwrap();
        std::os::unix::fs::symlink(&store, &link).unwrap();
        let list = images.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "stock-1a2b3c4d");
        assert_eq!(stage_of(list[0].manifest.as_ref().unwrap()), Stage::Stock);
        assert!(matches!(images.remove("stock-1a2b3c4d", Some(&store)), Err(ImageError::InUse { .. })));
        assert!(matches!(images.remove("nope", None), Err(ImageError::NotFound { .. })));
        images.remove("stock-1a2b3c4d", None).unwrap();
        assert!(images.list().is_empty());
        assert!(store.is_dir(), "only the link goes");
    }
}
