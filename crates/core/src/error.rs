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
