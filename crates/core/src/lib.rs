//! builderbar-core: the domain behind the tray app and the CLI. No UI code lives here.

pub mod app_api;
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
