//! Exit codes, documented in README.md ("Exit codes"), and which code each core error gets.

use builderbar_core::api::ApiError;
use builderbar_core::vm::VmError;

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

/// An image fetch was cancelled (Ctrl-C): nothing was changed.
pub const CANCELLED: i32 = 130;

/// The exit code for a core error: the builder's own failures have codes of their own.
pub fn code_of(e: &ApiError) -> i32 {
    match e {
        ApiError::Vm(VmError::NotRunning) => NOT_RUNNING,
        ApiError::Vm(VmError::Busy { .. }) => BUSY,
        ApiError::Vm(VmError::ReadyTimeout { .. }) => TIMEOUT,
        ApiError::Vm(
            VmError::Failed { .. }
            | VmError::QemuFailed { .. }
            | VmError::PortInUse { .. }
            | VmError::AccelUnavailable { .. }
            | VmError::QemuMissing { .. },
        ) => FAILED,
        ApiError::Nix(builderbar_core::image::nix_provider::NixError::Cancelled) => CANCELLED,
        _ => ERROR,
    }
}
