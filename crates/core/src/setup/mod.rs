//! First-run setup: the steps that turn a running builder into one the host's Nix uses.

pub mod context;
pub mod flow;
pub mod test_build;
pub mod types;
pub mod wiring;

pub use context::{user_name, wiring_target, WiringOverrides};
pub use test_build::TestBuild;
pub use types::{BuilderInfo, SetupPlanView, SetupStep, SetupStepId, StepState, TestBuildResult};
pub use wiring::{builder_info, plan_setup, plan_unsetup, BuilderIdentity, SetupError, SetupPlan, WiringTarget};
