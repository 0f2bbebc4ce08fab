//! The files that let every process see a run: `run.json` (what runs) and `failure.json` (why
//! the last run failed, written here and nowhere else), the states they describe, and the
//! cleanup after a run.

use std::path::Path;
use std::process::ExitStatus;

use tracing::warn;

use crate::error::UserFacing;
use crate::vm::console::ConsoleHub;
use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::process::live_pid;
use crate::vm::state::{FailureRecord, RunRecord, VmState, VmStatus};

/// What to do after a run ended by itself.
const ENDED_HINT: &str = "Read the console lines below for the guest's last words; start the builder again when ready.";

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Writes a record of the VM directory: private to the user, like everything in it.
pub(super) fn write_json<T: serde::Serialize>(path: &Path, value: &T) {
    let bytes = serde_json::to_vec_pretty(value).expect("json");
    if let Err(e) = crate::fsutil::write_atomic(path, &bytes, 0o600) {
        warn!("cannot write {}: {e}", path.display());
    }
}

/// A start that failed: the error and its hint.
pub(super) fn start_failed(e: &VmError) -> FailureRecord {
    FailureRecord { reason: e.to_string(), hint: e.hint(), console_tail: vec![] }
}

/// A run that ended without a stop: why, and the guest's last console lines (from this
/// process's console ring, else the log file).
pub(super) fn ended(reason: String, console: &ConsoleHub, files: &VmFiles) -> FailureRecord {
    let mut tail = console.tail_lines(20);
    if tail.is_empty() {
        let bytes = std::fs::read(files.console_log()).unwrap_or_default();
        tail = crate::vm::console::tail_lines(&bytes[bytes.len().saturating_sub(64 * 1024)..], 20);
    }
    FailureRecord { reason, hint: ENDED_HINT.into(), console_tail: tail }
}

/// Why qemu ended when nobody holds its exit status: a pidfile left behind means it was
/// killed or crashed (qemu removes it on a clean exit).
pub(super) fn unwatched_exit_reason(files: &VmFiles) -> String {
    if files.pidfile().exists() {
        "qemu exited unexpectedly (it was killed or crashed)".into()
    } else {
        "the guest shut down on its own".into()
    }
}

/// Why qemu ended, from its exit status.
pub(super) fn exit_reason(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (_, Some(9)) => "qemu was killed (SIGKILL)".into(),
        (_, Some(sig)) => format!("qemu was terminated by signal {sig}"),
        (Some(0), _) => "the guest shut down on its own".into(),
        (Some(c), _) => format!("qemu exited with status {c}"),
        _ => "qemu exited".into(),
    }
}

/// Writes `failure.json`, so every process shows Failed until the next start; returns that status.
pub(super) fn record_failure(files: &VmFiles, record: &FailureRecord) -> VmStatus {
    write_json(&files.failure_record(), record);
    failed_status(record)
}

/// `state` with the facts of the run record (port, accelerator, image, start time) and what
/// the user should know about the run now (its notice, a lost state disk, a full disk).
pub(super) fn run_status(files: &VmFiles, state: VmState, run: &RunRecord) -> VmStatus {
    VmStatus {
        state,
        pid: Some(run.pid),
        port: Some(run.port),
        accelerator: Some(run.accelerator.clone()),
        image: Some(run.image_name.clone()),
        started_at_ms: Some(run.started_at_ms),
        notice: super::health::run_notice(files, run),
    }
}

/// The files of the run that is recorded, sockets included: the socket directory the run
/// chose, which may not be the one this process would choose (another environment).
pub(super) fn run_files(files: &VmFiles) -> VmFiles {
    match read_json::<RunRecord>(&files.run_record()).and_then(|r| r.runtime_dir) {
        Some(dir) => VmFiles::at(&files.vm_dir, &dir),
        None => files.clone(),
    }
}

/// The Failed state a failure record describes.
pub(super) fn failed_status(f: &FailureRecord) -> VmStatus {
    VmStatus::of(VmState::Failed {
        reason: f.reason.clone(),
        hint: f.hint.clone(),
        console_tail: f.console_tail.clone(),
    })
}

/// Removes what a finished run leaves: sockets, stale pidfile, run record, stopping marker.
pub(super) fn cleanup_run_files(files: &VmFiles) {
    let run = run_files(files);
    for p in [run.qmp_socket(), run.serial_socket(), files.qmp_socket(), files.serial_socket()] {
        let _ = std::fs::remove_file(p);
    }
    for p in [files.run_record(), files.stopping_marker()] {
        let _ = std::fs::remove_file(p);
    }
    if live_pid(&files.pidfile()).is_none() {
        let _ = std::fs::remove_file(files.pidfile());
    }
}

/// Forgets the last run's failure (a new start, or a stop).
pub(super) fn clear_failure(files: &VmFiles) {
    let _ = std::fs::remove_file(files.failure_record());
}
