//! The builder's state as every face sees it, and the records that let other processes see it.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The supervisor's state machine: Stopped -> Starting -> Running -> Stopping -> Stopped,
/// and Failed from anywhere, until the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum VmState {
    Stopped,
    Starting,
    Running,
    Stopping,
    Failed { reason: String, hint: String, console_tail: Vec<String> },
}

impl VmState {
    pub fn name(&self) -> &'static str {
        match self {
            VmState::Stopped => "stopped",
            VmState::Starting => "starting",
            VmState::Running => "running",
            VmState::Stopping => "stopping",
            VmState::Failed { .. } => "failed",
        }
    }

    pub fn is_transitioning(&self) -> bool {
        matches!(self, VmState::Starting | VmState::Stopping)
    }
}

/// State plus the facts the UI and `status` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct VmStatus {
    #[serde(flatten)]
    pub state: VmState,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub accelerator: Option<String>,
    pub image: Option<String>,
    /// Unix time in milliseconds when qemu was started.
    #[ts(type = "number | null")]
    pub started_at_ms: Option<u64>,
    /// A note for the user that is not an error (e.g. "KVM hung at boot; using TCG").
    pub notice: Option<String>,
}

impl VmStatus {
    pub fn stopped() -> VmStatus {
        VmStatus::of(VmState::Stopped)
    }

    pub fn of(state: VmState) -> VmStatus {
        VmStatus { state, pid: None, port: None, accelerator: None, image: None, started_at_ms: None, notice: None }
    }

    pub fn uptime_secs(&self, now_ms: u64) -> Option<u64> {
        self.started_at_ms.map(|s| now_ms.saturating_sub(s) / 1000)
    }
}

/// Written when qemu has been started: what runs, so any process can describe and reattach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub pid: u32,
    pub port: u16,
    pub accelerator: String,
    pub image_name: String,
    pub image_dir: std::path::PathBuf,
    pub started_at_ms: u64,
    pub ready_marker: Option<String>,
    pub notice: Option<String>,
    /// The socket directory of this run. Any process reaches the sockets through it, whatever
    /// directory its own environment would choose for a new start.
    #[serde(default)]
    pub runtime_dir: Option<std::path::PathBuf>,
    /// The state disk as the run began, so a disk deleted or replaced under it is noticed.
    #[serde(default)]
    pub state_disk: Option<FileId>,
}

/// Which file a path names: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The file at `path` now; None if there is none.
    pub fn of(path: &std::path::Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| FileId { dev: m.dev(), ino: m.ino() })
    }
}

/// Written when a run ends badly; shown as Failed until the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub reason: String,
    pub hint: String,
    pub console_tail: Vec<String>,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
