//! The API layer: the flows the tray app's commands and the CLI's commands both run (builder
//! lifecycle, settings, doctor, setup) and the shapes the UI sees. Domain modules below it
//! return their typed errors; here they become one [`ApiError`], and an [`ErrorReport`] for
//! the UI is made from that, once.

pub mod builder;
pub mod doctor;
pub mod error;
pub mod image;
pub mod settings;
pub mod setup;

pub use error::{ApiError, ErrorReport};
pub use settings::SettingsSaved;
pub use setup::{Applied, BuilderInfo, SetupFlow, SetupPlanView, SetupStep, SetupStepId, StepState, TestBuildResult};
