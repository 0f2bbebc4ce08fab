//! Exit codes, documented in README.md ("Exit codes"), and how errors are printed.

use builderbar_core::UserFacing;

pub const OK: i32 = 0;
/// Something failed; the message says what and the hint what to do.
pub const ERROR: i32 = 1;
/// Bad command line (clap uses 2 as well).
pub const USAGE: i32 = 2;
/// The builder is not running (ssh, console).
pub const NOT_RUNNING: i32 = 3;
/// The builder failed to start or failed while starting.
pub const FAILED: i32 = 4;
/// The builder did not become ready in time.
pub const TIMEOUT: i32 = 5;
/// Another process is starting or stopping the builder.
pub const BUSY: i32 = 6;

/// `doctor` found a failing check; `setup` was declined or its test build failed.
pub const CHECK_FAILED: i32 = 7;

/// Prints an error with its hint, logs it, and returns the exit code for it.
pub fn report<E: UserFacing + ?Sized>(e: &E, code: i32) -> i32 {
    tracing::error!("{e}");
    eprintln!("error: {e}");
    eprintln!("hint: {}", e.hint());
    code
}

pub fn vm_code(e: &builderbar_core::vm::VmError) -> i32 {
    use builderbar_core::vm::VmError;
    match e {
        VmError::NotRunning => NOT_RUNNING,
        VmError::Busy { .. } => BUSY,
        VmError::ReadyTimeout { .. } => TIMEOUT,
        VmError::Failed { .. }
        | VmError::QemuFailed { .. }
        | VmError::PortInUse { .. }
        | VmError::AccelUnavailable { .. }
        | VmError::QemuMissing { .. } => FAILED,
        _ => ERROR,
    }
}
