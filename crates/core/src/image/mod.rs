//! Builder images: the manifest contract (`builderbar-image.json`) and where images come from.

pub mod flake_copy;
pub mod installed;
pub mod manifest;
pub mod nix_provider;
pub mod origin;

pub use manifest::{
    DiskFormat, DiskSpec, DiskTemplate, HostKeySpec, ImageManifest, KeyChannel, KeyFiles, ManifestError, ShareSource,
    ShareSpec, SshSpec, MANIFEST_FILE, SCHEMA_VERSION,
};
pub use origin::{ImageError, ImageOrigin};
