//! The entry points the tray app's commands call that have no home elsewhere in the core yet.
//!
//! `image_dir`, `run_doctor`, `builder_info`, `setup_plan` and `setup_test_build` compose the
//! doctor and setup modules the way the CLI's `setup`/`doctor` commands do. `setup_needed`,
//! `setup_steps` and `setup_apply` are placeholders with the signatures the app needs: each
//! returns a clear "not implemented yet" [`ErrorReport`] until setup provides them, so the
//! app's windows already show a proper error.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::doctor::{DoctorInputs, DoctorReport};
use crate::error::{ErrorReport, UserFacing};
use crate::host::Os;
use crate::image::ImageManifest;
use crate::keys::InstallKeys;
use crate::privileged::{Elevation, ElevationEnv, Owner};
use crate::settings::Settings;
use crate::setup::{BuilderIdentity, BuilderInfo, SetupPlanView, SetupStep, TestBuild, TestBuildResult, WiringTarget};
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

fn report<E: UserFacing + ?Sized>(e: &E) -> ErrorReport {
    ErrorReport::from_error(e)
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The user Nix builds as (`trusted-users` must name them, or root).
fn user_name() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        if euid() == 0 {
            "root".into()
        } else {
            "nobody".into()
        }
    })
}

/// How this process would elevate, and the files setup targets (the settings may move them).
fn wiring(ctx: &VmContext, settings: &Settings) -> Result<(WiringTarget, Elevation), ErrorReport> {
    let elevation = Elevation::choose(ctx.host, &ElevationEnv::from_process()).map_err(|e| report(&e))?;
    let mut target = WiringTarget::system();
    if let Some(d) = settings.nix_conf_dir.clone() {
        target.nix_conf_dir = d;
    }
    if let Some(d) = settings.ssh_config_dir.clone() {
        target.ssh_config_dir = d;
    }
    // Without elevation the files stay ours (tests in temp dirs); with it they belong to root.
    if elevation == Elevation::None && euid() != 0 {
        target.owner = Owner { uid: euid(), gid: rustix::process::getegid().as_raw() };
    }
    Ok((target, elevation))
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

/// All doctor checks for this host, settings and builder (what `builderbar doctor` shows).
pub async fn run_doctor(supervisor: &Supervisor, settings: &Settings) -> Result<DoctorReport, ErrorReport> {
    let ctx = supervisor.context();
    let (target, _) = wiring(ctx, settings)?;
    let image = image(ctx, settings).ok();
    let keys = ctx.keys();
    let status = supervisor.refresh().await;
    let ssh = if status.state == VmState::Running { supervisor.ssh_target().ok() } else { None };
    let marker = ctx.paths.vm_dir.join("kvm-broken");
    let inputs = DoctorInputs {
        host: ctx.host,
        settings,
        image: image.as_ref(),
        keys: &keys,
        target: &target,
        status: &status,
        ssh,
        user: user_name(),
        kvm_broken_marker: &marker,
    };
    Ok(crate::doctor::run(&inputs).await)
}

/// How Nix reaches the builder (machines line, ssh config) and whether nix.conf is wired.
pub fn builder_info(ctx: &VmContext, settings: &Settings) -> Result<BuilderInfo, ErrorReport> {
    let (target, _) = wiring(ctx, settings)?;
    let (_, _, id) = identity(ctx, settings)?;
    crate::setup::builder_info(&id, &target).map_err(|e| report(&e))
}

/// The first-run steps as they stand now.
pub fn setup_steps(_ctx: &VmContext, _settings: &Settings) -> Result<Vec<SetupStep>, ErrorReport> {
    Err(not_yet("Setup"))
}

/// The privileged Plan the user approves before the one authorization prompt.
pub fn setup_plan(ctx: &VmContext, settings: &Settings) -> Result<SetupPlanView, ErrorReport> {
    let (target, elevation) = wiring(ctx, settings)?;
    let (_, keys, id) = identity(ctx, settings)?;
    crate::setup::plan_setup(ctx.host, &keys, &id, &target, elevation.tool()).map(|p| p.view).map_err(|e| report(&e))
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
