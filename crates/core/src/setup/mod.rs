//! First-run setup: the steps that turn a running builder into one the host's Nix uses.

pub mod types;

pub use types::{BuilderInfo, SetupPlanView, SetupStep, StepState, TestBuildResult};
