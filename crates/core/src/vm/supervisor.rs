//! The supervisor: one handle per process and VM directory that starts qemu detached, watches
//! it, tells its state and stops it, and lets any process reattach to a VM another started.
//!
//! One file per job: `start` (the locked start, or joining the VM that runs; waiting for
//! Running), `prepare` (everything qemu needs before it runs, and its argv), `spawn` (qemu
//! detached, until its QMP socket answers), `fallback` (the `auto` accelerator's KVM → TCG),
//! `monitor` (console, readiness, exit), `status` (the state as the VM directory tells it),
//! `stop` (the graceful stop), `records` (run and failure records, cleanup after a run) and
//! `health` (a state disk deleted under the VM, a full disk).

mod fallback;
pub mod health;
mod monitor;
mod prepare;
mod records;
mod spawn;
mod start;
mod status;
mod stop;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{watch, Mutex};
use tracing::info;

use crate::host::Host;
use crate::image::ImageManifest;
use crate::keys::InstallKeys;
use crate::paths::AppPaths;
use crate::settings::Settings;
use crate::ssh::SshTarget;
use crate::vm::console::{ConsoleHub, DEFAULT_HISTORY};
use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::state::{RunRecord, VmStatus};

/// Where a supervisor works: the host and the per-user paths.
#[derive(Debug, Clone)]
pub struct VmContext {
    pub host: Host,
    pub paths: AppPaths,
    pub files: VmFiles,
}

impl VmContext {
    pub fn new(host: Host, paths: AppPaths) -> VmContext {
        let files = VmFiles::new(&paths);
        VmContext { host, paths, files }
    }

    pub fn keys(&self) -> InstallKeys {
        InstallKeys::at(&self.paths.keys_dir())
    }
}

/// What to start: the settings in force and the image directory.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub settings: Settings,
    pub image_dir: PathBuf,
}

/// One per process and VM directory; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: VmContext,
    status: watch::Sender<VmStatus>,
    console: ConsoleHub,
    /// In-process serialization of start/stop (the control lock serializes across processes).
    op: Mutex<()>,
    monitor: Mutex<Option<MonitorHandle>>,
}

/// The one monitor of this process (see `monitor`): which qemu it watches, and how to end it.
struct MonitorHandle {
    pid: u32,
    stop: watch::Sender<bool>,
}

impl Supervisor {
    pub fn new(ctx: VmContext) -> Supervisor {
        let (status, _) = watch::channel(VmStatus::stopped());
        Supervisor {
            inner: Arc::new(Inner {
                ctx,
                status,
                console: ConsoleHub::new(DEFAULT_HISTORY),
                op: Mutex::new(()),
                monitor: Mutex::new(None),
            }),
        }
    }

    pub fn context(&self) -> &VmContext {
        &self.inner.ctx
    }

    fn files(&self) -> &VmFiles {
        &self.inner.ctx.files
    }

    /// Every state change, as it happens.
    pub fn subscribe(&self) -> watch::Receiver<VmStatus> {
        self.inner.status.subscribe()
    }

    pub fn status(&self) -> VmStatus {
        self.inner.status.borrow().clone()
    }

    pub fn console(&self) -> &ConsoleHub {
        &self.inner.console
    }

    /// Publishes `status` to every subscriber, if it is news.
    fn set(&self, status: VmStatus) {
        self.inner.status.send_if_modified(|cur| {
            if *cur != status {
                info!(state = status.state.name(), pid = ?status.pid, "builder state");
                *cur = status;
                true
            } else {
                false
            }
        });
    }

    /// The serial console socket of the running VM (in the socket directory its start chose).
    pub fn serial_socket(&self) -> PathBuf {
        records::run_files(self.files()).serial_socket()
    }

    /// Whether the running VM's state disk was deleted or replaced under it.
    pub fn state_disk_lost(&self) -> Option<health::DiskLoss> {
        let run = records::read_json::<RunRecord>(&self.files().run_record())?;
        health::state_disk_loss(self.files(), &run)
    }

    /// The SSH target of the running builder, host key pinned.
    pub fn ssh_target(&self) -> Result<SshTarget, VmError> {
        let run = records::read_json::<RunRecord>(&self.files().run_record()).ok_or(VmError::NotRunning)?;
        let image = ImageManifest::load(&run.image_dir)?;
        Ok(SshTarget {
            port: run.port,
            user: image.ssh.user,
            identity: self.inner.ctx.keys().client_private(),
            known_hosts: self.files().known_hosts(),
        })
    }
}

#[cfg(test)]
mod tests;
