//! The builder's state as the VM directory tells it, so every process (app, tray, CLI) sees
//! the same: a live qemu and its banner, the stopping marker, the failure record; and the
//! refresh that publishes it and reattaches to a qemu another process started.

use std::time::Duration;

use crate::ssh::probe_banner;
use crate::vm::console::ConsoleHub;
use crate::vm::files::VmFiles;
use crate::vm::process::live_pid;
use crate::vm::state::{FailureRecord, RunRecord, VmState, VmStatus};

use super::records::{self, cleanup_run_files, read_json, record_failure, run_status};
use super::Supervisor;

impl Supervisor {
    /// Re-reads the truth from the VM directory (any process may have changed it),
    /// publishes it, and attaches a monitor to a running VM we are not yet watching.
    pub async fn refresh(&self) -> VmStatus {
        let s = derive(self.files(), &self.inner.console).await;
        if let Some(pid) = s.pid {
            self.ensure_monitor(pid, None).await;
        }
        self.set(s.clone());
        s
    }

    /// Reattaches to a VM that is already running (after a crash or restart of this process).
    pub async fn attach(&self) -> VmStatus {
        self.refresh().await
    }
}

/// The state now. A qemu that ended with nobody watching is recorded as failed, once, for everyone.
pub(super) async fn derive(files: &VmFiles, console: &ConsoleHub) -> VmStatus {
    let run = read_json::<RunRecord>(&files.run_record());
    if let Some(pid) = live_pid(&files.pidfile()) {
        let Some(run) = run else { return VmStatus { pid: Some(pid), ..VmStatus::of(VmState::Starting) } };
        // Running = the banner answers; a booted guest under TCG can take over 0.5 s to send it.
        let state = if files.stopping_marker().exists() {
            VmState::Stopping
        } else if probe_banner(run.port, Duration::from_secs(2)).await.is_some() {
            VmState::Running
        } else {
            VmState::Starting
        };
        return VmStatus { pid: Some(pid), ..run_status(state, &run) };
    }
    if let Some(f) = read_json::<FailureRecord>(&files.failure_record()) {
        return records::failed_status(&f);
    }
    match run {
        Some(_) if files.stopping_marker().exists() => VmStatus::of(VmState::Stopping),
        Some(_) => {
            let record = records::ended(records::unwatched_exit_reason(files), console, files);
            let status = record_failure(files, &record);
            cleanup_run_files(files);
            status
        }
        None => VmStatus::stopped(),
    }
}
