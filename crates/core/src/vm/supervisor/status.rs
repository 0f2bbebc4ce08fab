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

/// How long the banner gets to tell Running from Starting: a booted guest under TCG can take
/// over 0.5 s to send it.
const BANNER_WAIT: Duration = Duration::from_secs(2);

impl Supervisor {
    /// Re-reads the truth from the VM directory (any process may have changed it),
    /// publishes it, and attaches a monitor to a running VM we are not yet watching.
    pub async fn refresh(&self) -> VmStatus {
        let (seen, banner_port) = observe(self.files(), &self.inner.console);
        if banner_port.is_some() && self.status().state != VmState::Running {
            // A qemu this process did not see running shows as Starting at once, not after the
            // banner probe (a guest still booting can keep it waiting for all of BANNER_WAIT).
            self.set(seen.clone());
        }
        let s = settle(seen, banner_port).await;
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
    let (seen, banner_port) = observe(files, console);
    settle(seen, banner_port).await
}

/// What the VM directory says without asking the guest, and the port whose SSH banner decides
/// between Starting (as returned) and Running (None: the state is settled).
fn observe(files: &VmFiles, console: &ConsoleHub) -> (VmStatus, Option<u16>) {
    let run = read_json::<RunRecord>(&files.run_record());
    if let Some(pid) = live_pid(&files.pidfile()) {
        let Some(run) = run else { return (VmStatus { pid: Some(pid), ..VmStatus::of(VmState::Starting) }, None) };
        if files.stopping_marker().exists() {
            return (VmStatus { pid: Some(pid), ..run_status(files, VmState::Stopping, &run) }, None);
        }
        return (VmStatus { pid: Some(pid), ..run_status(files, VmState::Starting, &run) }, Some(run.port));
    }
    if let Some(f) = read_json::<FailureRecord>(&files.failure_record()) {
        return (records::failed_status(&f), None);
    }
    let status = match run {
        Some(_) if files.stopping_marker().exists() => VmStatus::of(VmState::Stopping),
        Some(_) => {
            let record = records::ended(records::unwatched_exit_reason(files), console, files);
            let status = record_failure(files, &record);
            cleanup_run_files(files);
            status
        }
        None => VmStatus::stopped(),
    };
    (status, None)
}

/// Running when the guest's sshd answers on `banner_port`.
async fn settle(mut seen: VmStatus, banner_port: Option<u16>) -> VmStatus {
    if let Some(port) = banner_port {
        if probe_banner(port, BANNER_WAIT).await.is_some() {
            seen.state = VmState::Running;
        }
    }
    seen
}
