//! First-run setup in the domain: where it writes (`target`), the Plan that wires the builder
//! into Nix or takes it out again (`plan`), and the test build that proves it (`test_build`).
//! The steps the user sees are in `api::setup`.

pub mod plan;
pub mod target;
pub mod test_build;

pub use plan::{is_wired, plan_setup, plan_unsetup, BuilderIdentity, SetupError, SetupPlan};
pub use target::{user_name, SetupTarget, TargetOverrides};
pub use test_build::TestBuild;
