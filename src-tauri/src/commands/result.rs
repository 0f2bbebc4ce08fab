//! What every command answers on failure: an `ErrorReport` (from the core's `ApiError` by `?`,
//! or a bad argument from the UI).

use builderbar_core::api::ErrorReport;

/// Every command's error: what happened and what to do.
pub type CmdResult<T> = Result<T, ErrorReport>;

/// An argument the UI should never send (a bug in the UI, or a window overstepping).
pub fn bad_argument(message: impl Into<String>, hint: impl Into<String>) -> ErrorReport {
    ErrorReport { message: message.into(), hint: hint.into(), fields: Vec::new() }
}
