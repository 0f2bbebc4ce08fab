//! Where setup gets builder images: the flake Builderbar ships (a copy under the caches
//! directory), another flake the `image_source` setting names, or a Nix file taking `stage`.

use std::path::{Path, PathBuf};

use crate::error::UserFacing;
use crate::host::{Host, Os};
use crate::image::nix_provider::{ImageSource, Stage};

/// The origin of the images setup fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOrigin {
    /// A flake reference: `path:<caches>/flake/<hash>` (ours) or what the setting names.
    Flake(String),
    /// A Nix file built with `nix-build <file> --argstr stage <stock|builderbar>` (no flakes:
    /// any Nix, e.g. Debian's 2.8, and a test guest on Linux).
    File(PathBuf),
}

/// Why no image can be had from the origin.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "Builderbar's flake has builder images for Macs only; this {host} builds Linux natively and has no \
         image source"
    )]
    NoSourceForHost { host: String },
    #[error("cannot write the flake Builderbar builds images from to {}: {source}", .path.display())]
    FlakeCopy { path: PathBuf, source: std::io::Error },
    #[error("cannot link the image under {}: {source}", .path.display())]
    Link { path: PathBuf, source: std::io::Error },
    #[error("no image named {name} under {}", .dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("the image {name} is the one in use")]
    InUse { name: String },
    #[error("there is no previous image to go back to")]
    NoPrevious,
}

impl UserFacing for ImageError {
    fn hint(&self) -> String {
        match self {
            ImageError::NoSourceForHost { .. } => "Set `image_source` to a Nix file that takes `stage` \
                (e.g. tests/nix/test-image.nix), build the test guest with tests/guest/build.sh, or choose an \
                image directory with `builderbar image use DIR`."
                .into(),
            ImageError::FlakeCopy { .. } | ImageError::Link { .. } => {
                "Check that the caches directory is writable and the disk is not full, then try again.".into()
            }
            ImageError::NotFound { .. } => "`builderbar image list` shows the images there are.".into(),
            ImageError::InUse { .. } => {
                "Switch to another image first (`builderbar image use NAME`), then remove this one.".into()
            }
            ImageError::NoPrevious => "`builderbar image list` shows the images there are.".into(),
        }
    }
}

impl ImageOrigin {
    /// The origin the `image_source` setting names; `None` is Builderbar's own flake, written
    /// (once per flake version) under `cache_dir`.
    pub fn resolve(setting: Option<&str>, cache_dir: &Path) -> Result<ImageOrigin, ImageError> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.ends_with(".nix") && !s.contains('#') => Ok(ImageOrigin::File(PathBuf::from(s))),
            Some(s) => Ok(ImageOrigin::Flake(s.to_string())),
            None => {
                let dir = crate::image::flake_copy::write_flake_copy(cache_dir)
                    .map_err(|source| ImageError::FlakeCopy { path: cache_dir.join("flake"), source })?;
                Ok(ImageOrigin::Flake(format!("path:{}", dir.display())))
            }
        }
    }

    /// What to build for `stage` on `host`.
    pub fn source(&self, host: Host, stage: Stage) -> Result<ImageSource, ImageError> {
        match self {
            ImageOrigin::Flake(flake) => ImageSource::flake_image(flake, host, stage)
                .ok_or_else(|| ImageError::NoSourceForHost { host: host_words(host) }),
            ImageOrigin::File(path) => Ok(ImageSource::File {
                path: path.clone(),
                attr: None,
                args: vec![("stage".into(), stage.name().into())],
            }),
        }
    }
}

fn host_words(host: Host) -> String {
    match host.os {
        Os::Macos => "Mac".into(),
        Os::Linux => "Linux machine".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_names_a_flake_or_a_file_and_else_our_own_flake_copy() {
        let dir = tempfile::tempdir().unwrap();
        let ours = ImageOrigin::resolve(None, dir.path()).unwrap();
        let ImageOrigin::Flake(reference) = &ours else { panic!("{ours:?}") };
        assert!(reference.starts_with(&format!("path:{}/flake/", dir.path().display())), "{reference}");
        assert_eq!(
            ours.source(Host::MACOS_AARCH64, Stage::Stock).unwrap(),
            ImageSource::Flake(format!("{reference}#packages.aarch64-darwin.builder-image-stock"))
        );
        assert!(matches!(ours.source(Host::LINUX_X86_64, Stage::Stock), Err(ImageError::NoSourceForHost { .. })));
        let other = ImageOrigin::resolve(Some("github:me/fork"), dir.path()).unwrap();
        assert_eq!(other, ImageOrigin::Flake("github:me/fork".into()));
        let file = ImageOrigin::resolve(Some("/src/tests/nix/test-image.nix"), dir.path()).unwrap();
        assert_eq!(
            file.source(Host::LINUX_X86_64, Stage::Hardened).unwrap(),
            ImageSource::File {
                path: "/src/tests/nix/test-image.nix".into(),
                attr: None,
                args: vec![("stage".into(), "builderbar".into())]
            }
        );
    }
}
