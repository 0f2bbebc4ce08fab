//! Wiring the builder into the host's Nix: lossless nix.conf, machines and ssh_config edits,
//! who owns the config (plain, nix-darwin, Determinate), and restarting the daemon.
//!
//! Everything here is pure or takes its paths as parameters, so tests run on temp directories.

pub mod block;
pub mod changes;
pub mod conf;
pub mod daemon;
pub mod darwin_snippet;
pub mod lines;
pub mod machines;
pub mod managed;
pub mod ssh_config;
pub mod wiring;

pub use changes::{ConfPaths, FileEdit, NixChanges};
pub use conf::{ConfLine, NixConf};
pub use daemon::{restart_needed, DaemonProbe, DaemonService, NixFiles};
pub use darwin_snippet::darwin_snippet;
pub use machines::{MachinesLine, MachinesLineError};
pub use managed::{detect as detect_config_owner, ConfigOwner, DetectError, DetectOptions};
pub use ssh_config::{SshConfigError, SshHostBlock};
pub use wiring::{BuilderWiring, Wired, WiringError};
