//! Start: under the control lock, join the qemu that already runs, or prepare, spawn and
//! watch a new one (falling back from KVM to TCG under `auto`); then wait for Running.

use std::time::Duration;

use tracing::info;

use crate::settings::Accelerator;
use crate::vm::accel::Accel;
use crate::vm::error::VmError;
use crate::vm::lock::ControlLock;
use crate::vm::process::{find_by_argv, live_pid};
use crate::vm::state::{now_ms, RunRecord, VmState, VmStatus};

use super::fallback::{kvm_hangs, KvmBroken};
use super::prepare::prepare;
use super::records::{self, cleanup_run_files, clear_failure, record_failure, run_status, write_json};
use super::spawn::spawn_qemu;
use super::{status, StartRequest, Supervisor};

impl Supervisor {
    /// Starts the VM, or joins the one that is already running. Returns once qemu runs
    /// (state Starting); use [`Supervisor::wait_ready`] for Running.
    pub async fn start(&self, req: StartRequest) -> Result<VmStatus, VmError> {
        let _op = self.inner.op.lock().await;
        let lock_wait = Duration::from_secs(u64::from(req.settings.stop_timeout_secs) + 60);
        let _lock = ControlLock::acquire(&self.files().control_lock(), lock_wait).await?;
        let pidfile = self.files().pidfile();
        // A starter that died right after spawning qemu may have left it without a pidfile.
        let running = live_pid(&pidfile).or_else(|| {
            let pid = find_by_argv(&pidfile)?;
            let _ = crate::fsutil::write_atomic(&pidfile, format!("{pid}\n").as_bytes(), 0o600);
            Some(pid)
        });
        if let Some(pid) = running {
            info!(pid, "builder already running; joining it");
            drop(_lock);
            self.ensure_monitor(pid, None).await;
            let s = status::derive(self.files(), &self.inner.console).await;
            self.set(s.clone());
            return Ok(s);
        }
        let result = match self.start_locked(&req, None).await {
            Err(e) => match KvmBroken::rejected(&req, &e) {
                Some(why) => self.fall_back_to_tcg(&req, why).await,
                None => Err(e),
            },
            ok => ok,
        };
        result.inspect_err(|e| self.set(record_failure(self.files(), &records::start_failed(e))))
    }

    /// One attempt, under the control lock: prepare, spawn, watch.
    pub(super) async fn start_locked(&self, req: &StartRequest, notice: Option<String>) -> Result<VmStatus, VmError> {
        let files = self.files();
        cleanup_run_files(files);
        clear_failure(files);
        self.set(VmStatus::of(VmState::Starting));
        let prepared = prepare(&self.inner.ctx, req).await?;
        let mut run = RunRecord {
            pid: 0,
            port: prepared.port,
            accelerator: prepared.accel.as_str().into(),
            image_name: prepared.image.name.clone(),
            image_dir: req.image_dir.clone(),
            started_at_ms: now_ms(),
            ready_marker: prepared.image.ready_marker.clone(),
            notice: notice.or(prepared.disk_notice.clone()),
            runtime_dir: Some(files.runtime_dir.clone()),
            state_disk: prepared.state_disk,
        };
        let qemu = spawn_qemu(files, &prepared.argv, &run).await?;
        run.pid = qemu.pid;
        write_json(&files.run_record(), &run);
        self.inner.console.reset();
        self.set(run_status(files, VmState::Starting, &run));
        self.ensure_monitor(qemu.pid, Some(qemu.exit.clone())).await;
        if prepared.accel == Accel::Kvm
            && req.settings.accelerator == Accelerator::Auto
            && kvm_hangs(files, &qemu.exit).await
        {
            self.stop_hung(qemu.pid).await;
            return self.fall_back_to_tcg(req, KvmBroken::Hung).await;
        }
        Ok(self.status())
    }

    /// Waits until Running; Failed or Stopped (or the timeout) is an error.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<VmStatus, VmError> {
        let mut rx = self.subscribe();
        let wait = async {
            loop {
                let s = rx.borrow_and_update().clone();
                match &s.state {
                    VmState::Running => return Ok(s),
                    VmState::Failed { reason, hint, .. } => {
                        return Err(VmError::Failed { reason: reason.clone(), hint: hint.clone() })
                    }
                    VmState::Stopped => {
                        return Err(VmError::Failed {
                            reason: "the builder stopped while it was starting".into(),
                            hint: "Start it again; `builderbar console` shows the boot.".into(),
                        })
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(VmError::NotRunning);
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| VmError::ReadyTimeout { secs: timeout.as_secs() })?
    }
}
