//! The contract every user-facing error in the core follows: a message and a hint.

/// An error a user can hit. `Display` says what happened and why; `hint` says what to do.
pub trait UserFacing: std::error::Error {
    /// What the user can do about it, in one or two plain sentences.
    fn hint(&self) -> String;

    /// Message and hint together, as the CLI and the log print them.
    fn report(&self) -> String {
        format!("{self}\nhint: {}", self.hint())
    }
}

/// Any core error as it crosses to the UI: what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ErrorReport {
    pub message: String,
    pub hint: String,
    /// Per-field problems, for forms (settings); empty otherwise.
    pub fields: Vec<crate::settings::FieldError>,
}

impl ErrorReport {
    pub fn from_error<E: UserFacing + ?Sized>(e: &E) -> ErrorReport {
        ErrorReport { message: e.to_string(), hint: e.hint(), fields: Vec::new() }
    }
}
