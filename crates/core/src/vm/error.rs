//! Everything that can go wrong starting, watching or stopping the VM, with hints.

use std::path::PathBuf;

use crate::error::UserFacing;
use crate::image::ManifestError;
use crate::keys::KeyError;
use crate::settings::SettingsError;

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("{0}")]
    Image(#[from] ManifestError),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("no builder image is configured")]
    NoImage { hint: String },
    #[error("the {accel} accelerator cannot be used: {why}")]
    AccelUnavailable { accel: String, why: String },
    #[error("port {port} on 127.0.0.1 is already in use by another program, so the builder cannot listen there")]
    PortInUse { port: u16 },
    #[error("{program} was not found on PATH")]
    QemuMissing { program: String, hint: String },
    #[error("qemu refused to start: {summary}")]
    QemuFailed { summary: String, stderr: String, hint: String },
    #[error("another Builderbar process is starting or stopping the builder and did not finish within {secs} s")]
    Busy { secs: u64 },
    #[error("the builder did not become ready within {secs} s")]
    ReadyTimeout { secs: u64 },
    #[error("the builder failed: {reason}")]
    Failed { reason: String, hint: String },
    #[error("could not create the state disk {}: {message}", .path.display())]
    Disk { path: PathBuf, message: String },
    #[error("cannot use {} for the builder's sockets: {why}", .path.display())]
    RuntimeDir { path: PathBuf, why: String, hint: String },
    #[error(
        "the builder's socket path {} is {len} bytes long, but a unix socket path here is at most {max} bytes \
         (sun_path is {size} bytes)",
        .path.display()
    )]
    SocketPathTooLong { path: PathBuf, len: usize, max: usize, size: usize },
    #[error("the disk holding {} has only {free_mib} MiB free; the builder needs at least {need_mib} MiB there", .dir.display())]
    DiskFull { dir: PathBuf, free_mib: u64, need_mib: u64 },
    #[error("the builder is not running")]
    NotRunning,
    #[error("QMP (qemu's control socket) failed: {0}")]
    Qmp(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl VmError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VmError {
        let what = what.into();
        move |source| VmError::Io { what, source }
    }
}

impl UserFacing for VmError {
    fn hint(&self) -> String {
        match self {
            VmError::Image(e) => e.hint(),
            VmError::Keys(e) => e.hint(),
            VmError::Settings(e) => e.hint(),
            VmError::RuntimeDir { hint, .. } => hint.clone(),
            VmError::SocketPathTooLong { .. } => "Point BUILDERBAR_RUNTIME_DIR (or XDG_RUNTIME_DIR) at a shorter \
                 directory, or unset it to use /tmp/builderbar-<uid>."
                .into(),
            VmError::DiskFull { dir, .. } => format!(
                "Free space on the disk that holds {} (the state disk grows there as the builder builds), then \
                 start the builder again.",
                dir.display()
            ),
            VmError::NoImage { hint } | VmError::QemuMissing { hint, .. } | VmError::QemuFailed { hint, .. } => {
                hint.clone()
            }
            VmError::Failed { hint, .. } => hint.clone(),
            VmError::AccelUnavailable { .. } => {
                "Set the accelerator to `tcg` (software emulation; slower but works everywhere) or `auto` in Settings \
                 or with `builderbar settings set accelerator tcg`."
                    .into()
            }
            VmError::PortInUse { port } => format!(
                "Stop the program using port {port} (`lsof -iTCP:{port} -sTCP:LISTEN` shows it) or choose another \
                 port in Settings."
            ),
            VmError::Busy { .. } => "Wait a moment and try again; `builderbar status` shows what is happening.".into(),
            VmError::ReadyTimeout { .. } => {
                "Open the console (`builderbar console`) to see where the guest's boot stopped.".into()
            }
            VmError::Disk { .. } => "Check free disk space and that qemu-img is installed.".into(),
            VmError::NotRunning => "Start it with `builderbar start`.".into(),
            VmError::Qmp(_) => "Stop and start the builder again; the log has details (`builderbar logs`).".into(),
            VmError::Io { .. } => "Check that Builderbar's data directory is writable.".into(),
        }
    }
}
