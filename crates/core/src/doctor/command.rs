//! The external commands the doctor's checks run (`nix`, `ssh`, `qemu`): on tokio's process
//! driver, never blocking an async worker, each killed when its timeout runs out.

use std::ffi::OsStr;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

/// Quick questions to a local program (`--version`, `show-config`).
pub const LOCAL: Duration = Duration::from_secs(10);
/// Anything that goes over SSH to the builder (ssh itself connects within 10 s).
pub const REMOTE: Duration = Duration::from_secs(30);

/// Why a command gave no output.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} did not finish within {} s", .timeout.as_secs())]
    TimedOut { program: String, timeout: Duration },
}

/// A command for `program` with stdin closed, killed if it is dropped (the timeout).
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    c.stdin(Stdio::null()).kill_on_drop(true);
    c
}

/// Runs `cmd` to completion, capturing its output, within `timeout`.
pub async fn output(mut cmd: Command, timeout: Duration) -> Result<Output, CommandError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    match tokio::time::timeout(timeout, cmd.output()).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(source)) => Err(CommandError::Spawn { program, source }),
        Err(_) => Err(CommandError::TimedOut { program, timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_is_captured_and_a_hanging_program_is_stopped() {
        let mut c = command("sh");
        c.args(["-c", "echo out; echo err >&2"]);
        let out = output(c, LOCAL).await.unwrap();
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
        let mut c = command("sleep");
        c.arg("30");
        let e = output(c, Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(e, CommandError::TimedOut { .. }), "{e}");
        assert!(e.to_string().starts_with("sleep did not finish within"), "{e}");
        let e = output(command("/nonexistent/program"), LOCAL).await.unwrap_err();
        assert!(e.to_string().starts_with("cannot run /nonexistent/program: "), "{e}");
    }
}
