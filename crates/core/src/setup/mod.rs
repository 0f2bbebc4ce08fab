//! First-run setup in the domain: where the wiring goes, the Plan that puts it there (or takes
//! it out), and the test build that proves it. The steps the user sees are in `api::setup`.

pub mod context;
pub mod test_build;
pub mod wiring;

pub use context::{user_name, wiring_target, WiringOverrides};
pub use test_build::TestBuild;
pub use wiring::{is_wired, plan_setup, plan_unsetup, BuilderIdentity, SetupError, SetupPlan, WiringTarget};
