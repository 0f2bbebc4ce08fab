//! The files of one VM: state directory (disk, pidfile, logs) and short socket directory.

use std::path::{Path, PathBuf};

use crate::paths::AppPaths;

/// Paths of everything a running VM owns. Sockets live in the short runtime dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFiles {
    pub vm_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl VmFiles {
    pub fn new(paths: &AppPaths) -> VmFiles {
        VmFiles { vm_dir: paths.vm_dir.clone(), runtime_dir: paths.runtime_dir.clone() }
    }

    pub fn at(vm_dir: &Path, runtime_dir: &Path) -> VmFiles {
        VmFiles { vm_dir: vm_dir.into(), runtime_dir: runtime_dir.into() }
    }

    /// Written and locked by qemu itself (-pidfile).
    pub fn pidfile(&self) -> PathBuf {
        self.vm_dir.join("qemu.pid")
    }
    pub fn qmp_socket(&self) -> PathBuf {
        self.runtime_dir.join("qmp.sock")
    }
    pub fn serial_socket(&self) -> PathBuf {
        self.runtime_dir.join("serial.sock")
    }
    /// Everything the guest printed on its serial console this boot (qemu writes it).
    pub fn console_log(&self) -> PathBuf {
        self.vm_dir.join("console.log")
    }
    pub fn qemu_stderr(&self) -> PathBuf {
        self.vm_dir.join("qemu.stderr")
    }
    pub fn state_disk(&self) -> PathBuf {
        self.vm_dir.join("state.qcow2")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.vm_dir.join("known_hosts")
    }
    /// Held (flock) while a process starts or stops the VM: serializes them across processes.
    pub fn control_lock(&self) -> PathBuf {
        self.vm_dir.join("control.lock")
    }
    /// Why the last run failed, for every process to see until the next start.
    pub fn failure_record(&self) -> PathBuf {
        self.vm_dir.join("failure.json")
    }
    /// Facts about the current run (accelerator, image, port) for status and reattach.
    pub fn run_record(&self) -> PathBuf {
        self.vm_dir.join("run.json")
    }
    /// Present while a stop is in progress, so other processes show Stopping, and an exit
    /// while it exists counts as a clean stop.
    pub fn stopping_marker(&self) -> PathBuf {
        self.vm_dir.join("stopping")
    }
    /// What the guest receives through the image's key channel (fw_cfg files or a share).
    pub fn guest_keys_dir(&self) -> PathBuf {
        self.vm_dir.join("guest-keys")
    }
    /// Present once an `auto` start found that KVM cannot run the guest here (it is rejected,
    /// or hangs at early boot): later `auto` starts go straight to TCG. Holds the reason.
    pub fn kvm_broken_marker(&self) -> PathBuf {
        self.vm_dir.join("kvm-broken")
    }
    pub fn share_dir(&self, name: &str) -> PathBuf {
        self.vm_dir.join("shares").join(name)
    }
}
