//! The entry points the tray app's commands call that have no home elsewhere in the core yet.
//!
//! Each composes the image, doctor and setup modules the way the CLI's commands do (the CLI
//! calls the same functions), and maps every error to an [`ErrorReport`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::doctor::{DoctorInputs, DoctorReport};
use crate::error::{ErrorReport, UserFacing};
use crate::host::Os;
use crate::image::ImageManifest;
use crate::keys::InstallKeys;
use crate::privileged::Elevation;
use crate::settings::Settings;
use crate::setup::flow::{self, SetupInputs};
use crate::setup::{
    user_name, wiring_target, BuilderIdentity, BuilderInfo, SetupPlanView, SetupStep, SetupStepId, StepState,
    TestBuild, TestBuildResult, WiringOverrides, WiringTarget,
};
use crate::vm::{Supervisor, VmContext, VmError, VmState};

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

fn report<E: UserFacing + ?Sized>(e: &E) -> ErrorReport {
    ErrorReport::from_error(e)
}

/// Where the wiring goes (settings, else the system's) and how it is authorized.
fn wiring(ctx: &VmContext, settings: &Settings) -> Result<(WiringTarget, Elevation), ErrorReport> {
    wiring_target(ctx.host, settings, &WiringOverrides::default()).map_err(|e| report(&e))
}

fn image(ctx: &VmContext, settings: &Settings) -> Result<ImageManifest, ErrorReport> {
    let dir = image_dir(ctx, settings).map_err(|e| report(&e))?;
    ImageManifest::load(&dir).map_err(|e| report(&e))
}

fn identity(
    ctx: &VmContext,
    settings: &Settings,
) -> Result<(ImageManifest, InstallKeys, BuilderIdentity), ErrorReport> {
    let image = image(ctx, settings)?;
    let keys = InstallKeys::ensure(&ctx.paths.keys_dir()).map_err(|e| report(&e))?;
    let id = BuilderIdentity::new(&image, &keys, settings.port, settings.cores).map_err(|e| report(&e))?;
    Ok((image, keys, id))
}

fn setup_inputs<'a>(
    ctx: &VmContext,
    settings: &Settings,
    target: &'a WiringTarget,
    elevation: Elevation,
) -> SetupInputs<'a> {
    SetupInputs {
        host: ctx.host,
        keys_dir: ctx.paths.keys_dir(),
        data_dir: ctx.paths.data_dir.clone(),
        image_dir: image_dir(ctx, settings).map_err(|e| report(&e)),
        port: settings.port,
        cores: settings.cores,
        target,
        elevation,
    }
}

/// Whether the first-run setup still has to run (the app then opens the setup window at launch).
pub fn setup_needed(ctx: &VmContext, settings: &Settings) -> Result<bool, ErrorReport> {
    let (target, elevation) = wiring(ctx, settings)?;
    Ok(flow::setup_needed(&setup_inputs(ctx, settings, &target, elevation)))
}

/// All doctor checks for this host, settings and builder (what `builderbar doctor` shows),
/// against `target` (the settings' wiring target when None).
pub async fn run_doctor(
    supervisor: &Supervisor,
    settings: &Settings,
    target: Option<&WiringTarget>,
) -> Result<DoctorReport, ErrorReport> {
    let ctx = supervisor.context();
    let own;
    let target = match target {
        Some(t) => t,
        None => {
            own = wiring(ctx, settings)?.0;
            &own
        }
    };
    let image = image(ctx, settings).ok();
    let keys = ctx.keys();
    let status = supervisor.refresh().await;
    let ssh = if status.state == VmState::Running { supervisor.ssh_target().ok() } else { None };
    let inputs = DoctorInputs {
        host: ctx.host,
        settings,
        image: image.as_ref(),
        keys: &keys,
        target,
        status: &status,
        ssh,
        user: user_name(),
        vm_dir: &ctx.paths.vm_dir,
    };
    Ok(crate::doctor::run(&inputs).await)
}

/// How Nix reaches the builder (machines line, ssh config) and whether nix.conf is wired.
pub fn builder_info(ctx: &VmContext, settings: &Settings) -> Result<BuilderInfo, ErrorReport> {
    let (target, _) = wiring(ctx, settings)?;
    let (_, _, id) = identity(ctx, settings)?;
    crate::setup::builder_info(&id, &target).map_err(|e| report(&e))
}

/// The first-run steps as they stand now (checks are run by the doctor first).
pub async fn setup_steps(supervisor: &Supervisor, settings: &Settings) -> Result<Vec<SetupStep>, ErrorReport> {
    let ctx = supervisor.context();
    let (target, elevation) = wiring(ctx, settings)?;
    let report = run_doctor(supervisor, settings, Some(&target)).await?;
    Ok(flow::steps(&setup_inputs(ctx, settings, &target, elevation), Some(&report)))
}

/// The privileged Plan the user approves before the one authorization prompt.
pub fn setup_plan(ctx: &VmContext, settings: &Settings) -> Result<SetupPlanView, ErrorReport> {
    let (target, elevation) = wiring(ctx, settings)?;
    let (_, keys, id) = identity(ctx, settings)?;
    crate::setup::plan_setup(ctx.host, &keys, &id, &target, elevation.tool()).map(|p| p.view).map_err(|e| report(&e))
}

/// Applies the Plan (one OS prompt), restarting the Nix daemon if needed; `progress` receives
/// each step as it changes. Returns the final steps.
pub async fn setup_apply(
    ctx: &VmContext,
    settings: &Settings,
    progress: &(dyn Fn(SetupStep) + Send + Sync),
) -> Result<Vec<SetupStep>, ErrorReport> {
    let (target, elevation) = wiring(ctx, settings)?;
    let inputs = setup_inputs(ctx, settings, &target, elevation);
    let mut running = flow::steps(&inputs, None).into_iter().find(|s| s.id == SetupStepId::Authorize);
    if let Some(s) = running.as_mut() {
        s.state = StepState::Running;
        s.detail = format!("waiting for authorization ({})", elevation.tool());
        progress(s.clone());
    }
    // The prompt blocks until the user answers; keep it off the async workers.
    let owned = (ctx.clone(), settings.clone(), target.clone());
    let steps = tokio::task::spawn_blocking(move || {
        let (ctx, settings, target) = owned;
        flow::apply(&setup_inputs(&ctx, &settings, &target, elevation))
    })
    .await
    .map_err(|e| ErrorReport {
        message: format!("setup stopped: {e}"),
        hint: "Try again.".into(),
        fields: vec![],
    })?;
    match steps {
        Ok(steps) => {
            for s in &steps {
                progress(s.clone());
            }
            Ok(steps)
        }
        Err(e) => {
            if let Some(mut s) = running {
                s.state = StepState::Failed;
                s.detail = e.message.clone();
                s.error = Some(e.clone());
                progress(s);
            }
            Err(e)
        }
    }
}

/// A real remote build through the builder (which must be running and wired).
pub async fn setup_test_build(supervisor: &Supervisor, settings: &Settings) -> Result<TestBuildResult, ErrorReport> {
    let ctx = supervisor.context();
    let (target, _) = wiring(ctx, settings)?;
    let image = image(ctx, settings)?;
    if supervisor.refresh().await.state != VmState::Running {
        return Err(report(&VmError::NotRunning));
    }
    let build = TestBuild::new(&image.system, target);
    tokio::task::spawn_blocking(move || build.run()).await.map_err(|e| ErrorReport {
        message: format!("the test build did not finish: {e}"),
        hint: "Try again; the log has details.".into(),
        fields: Vec::new(),
    })
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
