//! Doctor: checks of everything Builderbar depends on, each with a cause and a fix.

pub mod report;

pub use report::{CheckStatus, DoctorCheck, DoctorReport};
