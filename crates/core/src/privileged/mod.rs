//! Privileged changes: a Plan of root-owned files computed unprivileged, shown as a diff,
//! applied by one fixed script through one elevation, journaled so it can be undone.
//!
//! ```text
//! let mut plan = Plan::new();
//! plan.write("/etc/nix/machines", bytes, 0o644, Owner::ROOT)?;
//! plan.restart(DaemonRestart::launchctl_kickstart(NIX_DAEMON_LAUNCHD));
//! println!("{}", plan.diff());
//! let elevation = Elevation::choose(host, &ElevationEnv::from_process(host))?;
//! let journal = Journal::new(&paths.data_dir);
//! let applied = Applier::new(elevation, &SystemRunner::default()).with_journal(&journal).apply(&plan)?;
//! // later: let undo = undo_plan(&journal.last_undoable()?.unwrap())?; then apply `undo` the same way.
//! ```

pub mod apply;
pub mod diff;
pub mod elevation;
mod error;
pub mod journal;
pub mod plan;
pub mod runner;
pub mod script;
mod time;

pub use apply::{Applier, DEFAULT_PROMPT};
pub use elevation::{Elevation, ElevationEnv};
pub use error::PrivilegedError;
pub use journal::{undo_plan, AppliedFile, AppliedPlan, Journal};
pub use plan::{
    backup_path, Contents, DaemonRestart, Existing, FileChange, Owner, Plan, PlannedFile, DETERMINATE_DAEMON_LAUNCHD,
    NIX_DAEMON_LAUNCHD,
};
pub use runner::{CommandOutput, CommandRunner, CommandSpec, RecordingRunner, SystemRunner};
