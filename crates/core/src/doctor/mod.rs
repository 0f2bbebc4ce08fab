//! Doctor: checks of everything Builderbar depends on, each with a cause and a fix.

pub mod checks;
pub mod command;
pub mod report;

pub use checks::{run, DoctorInputs};
pub use report::{CheckStatus, DoctorCheck, DoctorReport};
