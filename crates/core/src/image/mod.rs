//! Builder images: the manifest contract (`builderbar-image.json`) and where images come from.

pub mod manifest;

pub use manifest::{
    DiskSpec, HostKeySpec, ImageManifest, KeyChannel, ManifestError, ShareSource, ShareSpec, SshSpec, MANIFEST_FILE,
    SCHEMA_VERSION,
};
