//! Stop: the stopping marker, the guest's power key over QMP, wait, QMP `quit`, then SIGKILL.
//! The state disk survives; a guest still booting gets only a moment.

use std::time::{Duration, Instant};

use rustix::process::Signal;
use tracing::{info, warn};

use crate::ssh::probe_banner;
use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::lock::ControlLock;
use crate::vm::process::{kill, live_pid};
use crate::vm::qmp;
use crate::vm::state::{RunRecord, VmState, VmStatus};

use super::records::{cleanup_run_files, clear_failure, read_json, run_files};
use super::Supervisor;

impl Supervisor {
    /// Graceful stop: the guest's power key (QMP system_powerdown), then QMP quit, then SIGKILL. The state disk survives.
    pub async fn stop(&self, graceful_timeout: Duration) -> Result<VmStatus, VmError> {
        let _op = self.inner.op.lock().await;
        let files = self.files();
        let _lock = ControlLock::acquire(&files.control_lock(), graceful_timeout + Duration::from_secs(60)).await?;
        let Some(pid) = live_pid(&files.pidfile()) else {
            cleanup_run_files(files);
            clear_failure(files);
            self.detach_monitor().await;
            self.set(VmStatus::stopped());
            return Ok(self.status());
        };
        std::fs::write(files.stopping_marker(), b"").map_err(VmError::io("cannot write the stopping marker"))?;
        let mut s = self.status();
        s.state = VmState::Stopping;
        s.pid = Some(pid);
        self.set(s);
        // A guest that is still booting may not handle the power key yet (and runs no
        // builds): give it only a moment before qemu is told to quit. A booting guest's
        // forward closes at once; a booted one under TCG takes up to ~0.5 s to send its
        // banner (measured, aarch64), so the probe waits longer than that.
        let port = read_json::<RunRecord>(&files.run_record()).map(|r| r.port);
        // The sockets are where the start put them, whatever this process's environment says.
        let qmp_socket = run_files(files).qmp_socket();
        let booted = match port {
            Some(p) => probe_banner(p, Duration::from_secs(2)).await.is_some(),
            None => false,
        };
        let graceful_timeout = if booted { graceful_timeout } else { graceful_timeout.min(Duration::from_secs(3)) };
        info!(pid, booted, "asking the guest to power off");
        if let Err(e) = qmp::command(&qmp_socket, "system_powerdown", Duration::from_secs(3)).await {
            warn!("system_powerdown failed: {e}");
        }
        let mut exited = wait_exit(pid, files, graceful_timeout).await;
        if !exited {
            warn!(pid, "guest did not power off within {} s; telling qemu to quit", graceful_timeout.as_secs());
            let _ = qmp::command(&qmp_socket, "quit", Duration::from_secs(2)).await;
            exited = wait_exit(pid, files, Duration::from_secs(5)).await;
        }
        if !exited {
            warn!(pid, "qemu did not quit; killing it");
            kill(pid, Signal::KILL);
            wait_exit(pid, files, Duration::from_secs(5)).await;
        }
        self.detach_monitor().await;
        cleanup_run_files(files);
        clear_failure(files);
        self.set(VmStatus::stopped());
        Ok(self.status())
    }

    /// Kills a qemu that cannot be asked (it hangs), as a stop: the stopping marker first, so
    /// its exit is not taken for a failure.
    pub(super) async fn stop_hung(&self, pid: u32) {
        let files = self.files();
        std::fs::write(files.stopping_marker(), b"").ok();
        kill(pid, Signal::KILL);
        wait_exit(pid, files, Duration::from_secs(5)).await;
        self.detach_monitor().await;
    }
}

/// Waits until `pid` is no longer the qemu of this VM directory; false on timeout.
async fn wait_exit(pid: u32, files: &VmFiles, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if live_pid(&files.pidfile()) != Some(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
