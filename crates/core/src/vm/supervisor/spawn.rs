//! qemu started detached (its own process group, stdin and stdout closed, stderr to a file),
//! and the wait until its QMP socket answers, or it exits and its stderr says why.

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::sync::watch;
use tracing::info;

use crate::vm::argv::QemuArgv;
use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::process::kill;
use crate::vm::qemu_error::explain;
use crate::vm::qmp;
use crate::vm::state::RunRecord;

use super::health::check_free_space;
use super::records::{cleanup_run_files, write_json};

/// How long qemu gets to open its control socket.
const QMP_TIMEOUT: Duration = Duration::from_secs(30);

/// A qemu that answers on QMP.
pub(super) struct Spawned {
    pub pid: u32,
    /// Its exit status, once it has exited (only the process that spawned it can know).
    pub exit: watch::Receiver<Option<ExitStatus>>,
}

/// Spawns `argv` for the run `run` describes (written to `run.json` before qemu exists, so a
/// process that dies right after spawning it still leaves enough for the next one to
/// reattach) and waits until QMP answers.
pub(super) async fn spawn_qemu(files: &VmFiles, argv: &QemuArgv, run: &RunRecord) -> Result<Spawned, VmError> {
    info!(argv = %argv.pretty(), "starting qemu");
    let stderr = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(files.qemu_stderr())
    }
    .map_err(VmError::io("cannot create qemu.stderr"))?;
    let mut cmd = tokio::process::Command::new(&argv.program);
    cmd.args(&argv.args)
        .current_dir(&files.vm_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        // Its own process group: a Ctrl-C in the terminal that started it does not reach qemu.
        .process_group(0)
        .kill_on_drop(false);
    write_json(&files.run_record(), run);
    let mut child = cmd.spawn().map_err(VmError::io(format!("cannot run {}", argv.program)))?;
    let pid = child.id().unwrap_or(0);
    // qemu writes (and locks) the same pidfile a moment later; writing it now closes the
    // window in which another process would not see this VM.
    let _ = crate::fsutil::write_atomic(&files.pidfile(), format!("{pid}\n").as_bytes(), 0o600);
    let (exit_tx, exit) = watch::channel::<Option<ExitStatus>>(None);
    tokio::spawn(async move {
        let status = child.wait().await.ok();
        let _ = exit_tx.send(status);
    });
    wait_for_qmp(files, pid, run.port, exit.clone()).await?;
    Ok(Spawned { pid, exit })
}

/// qemu is up when its QMP socket answers; it may instead exit with an error.
async fn wait_for_qmp(
    files: &VmFiles,
    pid: u32,
    port: u16,
    mut exit: watch::Receiver<Option<ExitStatus>>,
) -> Result<(), VmError> {
    let started = Instant::now();
    loop {
        if exit.borrow().is_some() {
            let err = std::fs::read_to_string(files.qemu_stderr()).unwrap_or_default();
            cleanup_run_files(files);
            // A disk that filled up meanwhile: qemu could not write its files (nor, often, its
            // message), so its stderr says "No space left on device" or nothing at all.
            check_free_space(&files.vm_dir)?;
            let (summary, hint) = explain(&err, port);
            return Err(VmError::QemuFailed { summary, stderr: err, hint });
        }
        if qmp::command(&files.qmp_socket(), "query-status", Duration::from_millis(500)).await.is_ok() {
            return Ok(());
        }
        if started.elapsed() > QMP_TIMEOUT {
            kill(pid, Signal::KILL);
            return Err(VmError::QemuFailed {
                summary: format!("qemu did not open its control socket within {} s", QMP_TIMEOUT.as_secs()),
                stderr: std::fs::read_to_string(files.qemu_stderr()).unwrap_or_default(),
                hint: "Check `builderbar logs`; the machine may be overloaded.".into(),
            });
        }
        tokio::select! {
            _ = exit.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}
