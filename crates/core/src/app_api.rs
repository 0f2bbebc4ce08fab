//! The entry points the tray app's commands call that have no home elsewhere in the core yet.
//!
//! `image_dir` is real. The doctor and setup functions are placeholders with the signatures the
//! app needs: each returns a clear "not implemented yet" [`ErrorReport`] until the doctor and
//! setup modules provide them, so the app's windows already show a proper error.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::doctor::DoctorReport;
use crate::error::ErrorReport;
use crate::host::Os;
use crate::settings::Settings;
use crate::setup::{BuilderInfo, SetupPlanView, SetupStep, TestBuildResult};
use crate::vm::{VmContext, VmError};

/// What `settings_save` answers: whether the running builder must restart to apply the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SettingsSaved {
    pub restart_needed: bool,
}

/// Where the default image lives when the settings name none.
pub fn default_image_dir(ctx: &VmContext) -> PathBuf {
    ctx.paths.cache_dir.join("images/default")
}

/// The image to start: the setting, else this host's default image, else `VmError::NoImage`
/// with what to do about it. (The same rule as the CLI's `Ctx::image_dir` without `--image`.)
pub fn image_dir(ctx: &VmContext, settings: &Settings) -> Result<PathBuf, VmError> {
    if let Some(p) = settings.image.as_deref() {
        return Ok(p.to_path_buf());
    }
    let default = default_image_dir(ctx);
    if default.exists() {
        return Ok(default);
    }
    Err(VmError::NoImage {
        hint: match ctx.host.os {
            Os::Linux => format!(
                "Build the test guest with `tests/guest/build.sh` (it links {}), or choose an image directory in \
                 Settings.",
                default.display()
            ),
            Os::Macos => "Run the first-run setup (it fetches the builder image), or choose an image directory in \
                          Settings."
                .into(),
        },
    })
}

fn not_yet(what: &str) -> ErrorReport {
    ErrorReport {
        message: format!("{what} is not implemented yet in this build of Builderbar"),
        hint: "Use the command line (`builderbar doctor`, `builderbar setup`) for now.".into(),
        fields: Vec::new(),
    }
}

/// Whether the first-run setup still has to run (the app then opens the setup window at launch).
pub fn setup_needed(_ctx: &VmContext, _settings: &Settings) -> Result<bool, ErrorReport> {
    Err(not_yet("Checking whether setup is needed"))
}

/// All doctor checks for this host, settings and builder.
pub async fn run_doctor(_ctx: &VmContext, _settings: &Settings) -> Result<DoctorReport, ErrorReport> {
    Err(not_yet("The doctor"))
}

/// How Nix reaches the builder (machines line, ssh config) and whether nix.conf is wired.
pub fn builder_info(_ctx: &VmContext, _settings: &Settings) -> Result<BuilderInfo, ErrorReport> {
    Err(not_yet("Builder connection details"))
}

/// The first-run steps as they stand now.
pub fn setup_steps(_ctx: &VmContext, _settings: &Settings) -> Result<Vec<SetupStep>, ErrorReport> {
    Err(not_yet("Setup"))
}

/// The privileged Plan the user approves before the one authorization prompt.
pub fn setup_plan(_ctx: &VmContext, _settings: &Settings) -> Result<SetupPlanView, ErrorReport> {
    Err(not_yet("The setup plan"))
}

/// Applies the Plan (one OS prompt), restarts the Nix daemon if needed; `progress` receives each
/// step as it changes. Returns the final steps.
pub async fn setup_apply(
    _ctx: &VmContext,
    _settings: &Settings,
    _progress: &(dyn Fn(SetupStep) + Send + Sync),
) -> Result<Vec<SetupStep>, ErrorReport> {
    Err(not_yet("Applying the setup plan"))
}

/// A real remote build through the builder.
pub async fn setup_test_build(_ctx: &VmContext, _settings: &Settings) -> Result<TestBuildResult, ErrorReport> {
    Err(not_yet("The test build"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::paths::{AppPaths, PathEnv};

    fn ctx(home: &std::path::Path, host: Host) -> VmContext {
        let env = PathEnv { home: home.into(), builderbar_home: Some(home.join("bb")), ..Default::default() };
        VmContext::new(host, AppPaths::for_host(host, &env))
    }

    #[test]
    fn image_dir_prefers_the_setting_then_the_default_and_else_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(dir.path(), Host::LINUX_X86_64);
        let mut s = Settings { image: Some("/images/x".into()), ..Settings::default() };
        assert_eq!(image_dir(&c, &s).unwrap(), PathBuf::from("/images/x"));
        s.image = None;
        let err = image_dir(&c, &s).unwrap_err();
        assert!(matches!(&err, VmError::NoImage { hint } if hint.contains("tests/guest/build.sh")), "{err:?}");
        std::fs::create_dir_all(default_image_dir(&c)).unwrap();
        assert_eq!(image_dir(&c, &s).unwrap(), default_image_dir(&c));
        let mac = ctx(dir.path(), Host::MACOS_AARCH64);
        let err = image_dir(&mac, &Settings { image: None, ..Settings::default() });
        assert!(matches!(err, Ok(_) | Err(VmError::NoImage { .. })));
    }
}
