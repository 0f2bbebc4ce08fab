//! builderbar-core: the domain behind the tray app and the CLI, and the API layer (`api`) both
//! call. No UI code lives here; the shapes the UI is sent live in `api`.

pub mod api;
pub mod app_location;
pub mod doctor;
pub mod error;
pub mod fsutil;
pub mod gateway;
pub mod host;
pub mod image;
pub mod keys;
pub mod metrics;
pub mod nix;
pub mod paths;
pub mod privileged;
pub mod settings;
pub mod setup;
pub mod ssh;
pub mod vm;

pub use error::UserFacing;
