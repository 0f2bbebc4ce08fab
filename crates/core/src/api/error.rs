//! The API layer's one error ([`ApiError`]: every domain error a flow can meet) and the shape
//! the UI shows ([`ErrorReport`]), made from it here and nowhere else.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::UserFacing;
use crate::gateway::GatewayError;
use crate::image::nix_provider::NixError;
use crate::image::{ImageError, ManifestError};
use crate::keys::KeyError;
use crate::privileged::PrivilegedError;
use crate::settings::{FieldError, SettingsError};
use crate::setup::SetupError;
use crate::vm::VmError;

/// Whatever stops a flow of the API layer: a domain error, unchanged, or a task that ended
/// without an answer. The CLI turns it into an exit code, the app into an [`ErrorReport`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Vm(#[from] VmError),
    #[error(transparent)]
    Image(#[from] ManifestError),
    #[error(transparent)]
    Nix(#[from] NixError),
    #[error(transparent)]
    Images(#[from] ImageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Privileged(#[from] PrivilegedError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A blocking step run off the async workers panicked or was cancelled.
    #[error("{what}: {source}")]
    Task {
        what: &'static str,
        hint: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl UserFacing for ApiError {
    fn hint(&self) -> String {
        match self {
            ApiError::Settings(e) => e.hint(),
            ApiError::Vm(e) => e.hint(),
            ApiError::Image(e) => e.hint(),
            ApiError::Nix(e) => e.hint(),
            ApiError::Images(e) => e.hint(),
            ApiError::Keys(e) => e.hint(),
            ApiError::Setup(e) => e.hint(),
            ApiError::Privileged(e) => e.hint(),
            ApiError::Gateway(e) => e.hint(),
            ApiError::Task { hint, .. } => (*hint).into(),
        }
    }
}

/// Any core error as it crosses to the UI: what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ErrorReport {
    pub message: String,
    pub hint: String,
    /// Per-field problems, for forms (settings); empty otherwise.
    pub fields: Vec<FieldError>,
}

impl From<&ApiError> for ErrorReport {
    fn from(e: &ApiError) -> ErrorReport {
        let fields = match e {
            // Settings errors carry their per-field problems to the form.
            ApiError::Settings(SettingsError::Invalid(fields) | SettingsError::Stored { fields, .. })
            | ApiError::Vm(VmError::Settings(SettingsError::Stored { fields, .. })) => fields.clone(),
            _ => Vec::new(),
        };
        ErrorReport { message: e.to_string(), hint: e.hint(), fields }
    }
}

impl From<ApiError> for ErrorReport {
    fn from(e: ApiError) -> ErrorReport {
        ErrorReport::from(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_keeps_the_message_the_hint_and_the_invalid_fields() {
        let field = FieldError { field: "cores".into(), message: "must be at least 1".into() };
        let r = ErrorReport::from(ApiError::from(SettingsError::Invalid(vec![field.clone()])));
        assert_eq!(r.message, "invalid settings: cores: must be at least 1");
        assert_eq!(r.hint, "Change the named values; nothing was saved.");
        assert_eq!(r.fields, vec![field]);
        let r = ErrorReport::from(ApiError::from(VmError::NotRunning));
        assert_eq!(
            (r.message.as_str(), r.hint.as_str()),
            ("the builder is not running", "Start it with `builderbar start`.")
        );
        assert!(r.fields.is_empty());
    }
}
