//! The first-run setup flow, written once: the setup window and `builderbar setup` run these
//! steps and show them the same way (checks, image, keys, authorize, restart, test build).

mod view;

use std::path::Path;
use std::time::Instant;

pub use view::{BuilderInfo, SetupPlanView, SetupStep, SetupStepId, StepState, TestBuildResult};

use crate::api::builder::image_dir;
use crate::api::error::{ApiError, ErrorReport};
use crate::doctor::{CheckStatus, DoctorReport};
use crate::host::Os;
use crate::image::installed::stage_of;
use crate::image::nix_provider::Stage;
use crate::image::{ImageError, ImageManifest};
use crate::keys::{fingerprint, InstallKeys};
use crate::privileged::{AppliedPlan, Applier, Elevation, Journal, Plan, SystemRunner};
use crate::settings::Settings;
use crate::setup::plan::builder_wiring;
use crate::setup::{
    is_wired, plan_setup, plan_unsetup, BuilderIdentity, SetupPlan, SetupTarget, TargetOverrides, TestBuild,
};
use crate::vm::{Supervisor, VmContext, VmError, VmState};

/// What the first image is, where it comes from and roughly how big (README says the same).
pub const FIRST_IMAGE: &str = "no image yet: setup fetches nixpkgs' stock Linux builder (stage 1) from \
     cache.nixos.org: first the pinned nixpkgs' source from GitHub (about 45 MB), then roughly 1 GB of paths; \
     then it builds stage 2, with a host key made for this install, on that builder";

/// How long the test build waits for a builder it started.
const BOOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Doctor checks that stop setup (the others are what setup fixes, or need a running builder).
pub const BLOCKING_CHECKS: [&str; 3] = ["nix-installed", "nix-conf-owner", "port"];

/// Setup for one install: where the wiring goes (the settings' target, or the CLI's flags) and
/// how the change is authorized. Cheap to clone; owned, so its blocking steps can leave the
/// async workers.
#[derive(Debug, Clone)]
pub struct SetupFlow {
    ctx: VmContext,
    settings: Settings,
    target: SetupTarget,
    elevation: Elevation,
}

/// What an apply did: the steps as they stand after it, and the journal entry it wrote (none
/// when nothing had to change, or nix-darwin owns the config).
#[derive(Debug, Clone)]
pub struct Applied {
    pub steps: Vec<SetupStep>,
    pub journal: Option<AppliedPlan>,
}

impl SetupFlow {
    /// The flow for these settings; `overrides` are the CLI's flags (the app passes none).
    pub fn new(ctx: &VmContext, settings: &Settings, overrides: &TargetOverrides) -> Result<SetupFlow, ApiError> {
        let (target, elevation) = crate::setup::target::resolve(ctx.host, settings, overrides)?;
        Ok(SetupFlow { ctx: ctx.clone(), settings: settings.clone(), target, elevation })
    }

    /// A flow with its target and elevation given (tests; callers that resolved them already).
    pub fn with_target(ctx: &VmContext, settings: &Settings, target: SetupTarget, elevation: Elevation) -> SetupFlow {
        SetupFlow { ctx: ctx.clone(), settings: settings.clone(), target, elevation }
    }

    /// The same flow (target, elevation) for other settings: another image, say.
    pub fn with_settings(&self, settings: &Settings) -> SetupFlow {
        SetupFlow { settings: settings.clone(), ..self.clone() }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn target(&self) -> &SetupTarget {
        &self.target
    }

    pub fn elevation(&self) -> Elevation {
        self.elevation
    }

    fn image(&self) -> Result<ImageManifest, ApiError> {
        Ok(ImageManifest::load(&image_dir(&self.ctx, &self.settings)?)?)
    }

    /// Whether setup must fetch an image first (none is set, and none is in the caches).
    pub fn image_missing(&self) -> bool {
        matches!(self.image(), Err(ApiError::Vm(VmError::NoImage { .. })))
    }

    /// What setup will fetch when there is no image, or why it cannot.
    fn image_source(&self) -> Result<String, ApiError> {
        if self.settings.image_source.is_none() && self.ctx.host.os == Os::Linux {
            return Err(ImageError::NoSourceForHost { host: "Linux machine".into() }.into());
        }
        Ok(match self.settings.image_source.as_deref() {
            None => FIRST_IMAGE.into(),
            Some(s) => format!("no image yet: setup builds stage 1 from {s}"),
        })
    }

    fn identity(&self) -> Result<(ImageManifest, InstallKeys, BuilderIdentity), ApiError> {
        let image = self.image()?;
        let keys = InstallKeys::ensure(&self.ctx.paths.keys_dir())?;
        let id = BuilderIdentity::new(&image, &keys, self.settings.port, self.settings.cores)?;
        Ok((image, keys, id))
    }

    /// Whether Nix is not yet wired to the builder (the app then opens the setup window).
    pub fn needed(&self) -> bool {
        match self.identity() {
            Ok((_, _, id)) => !is_wired(&id, &self.target).unwrap_or(false),
            Err(_) => true,
        }
    }

    /// Where each step stands now. `doctor` is the latest report, if one was run.
    pub fn steps(&self, doctor: Option<&DoctorReport>) -> Vec<SetupStep> {
        let h = self.ctx.host;
        let mut out = Vec::new();
        out.push(match doctor {
            None => SetupStep::new(h, SetupStepId::Checks, StepState::Pending, "", None),
            Some(r) => match r
                .checks
                .iter()
                .find(|c| c.status == CheckStatus::Fail && BLOCKING_CHECKS.contains(&c.id.as_str()))
            {
                Some(c) => SetupStep::failed(
                    h,
                    SetupStepId::Checks,
                    ErrorReport {
                        message: format!("{}: {}", c.title, c.cause.clone().unwrap_or_default()),
                        hint: c.fix.clone().unwrap_or_default(),
                        fields: vec![],
                    },
                ),
                None => SetupStep::new(
                    h,
                    SetupStepId::Checks,
                    StepState::Done,
                    "Nix, its configuration and the port are ready",
                    None,
                ),
            },
        });
        out.push(match self.image() {
            Ok(m) => {
                let stage = match stage_of(&m) {
                    Stage::Stock => "stage 1, nixpkgs' stock builder",
                    Stage::Hardened => "host key made for this install",
                };
                SetupStep::new(h, SetupStepId::Image, StepState::Done, format!("{} ({stage})", m.name), None)
            }
            Err(ApiError::Vm(VmError::NoImage { .. })) => match self.image_source() {
                Ok(what) => SetupStep::new(h, SetupStepId::Image, StepState::Pending, what, None),
                Err(e) => SetupStep::failed(h, SetupStepId::Image, e.into()),
            },
            Err(e) => SetupStep::failed(h, SetupStepId::Image, e.into()),
        });
        let keys =
            InstallKeys::ensure(&self.ctx.paths.keys_dir()).and_then(|k| k.client_public().map(|p| fingerprint(&p)));
        out.push(match keys {
            Ok(fp) => SetupStep::new(h, SetupStepId::Keys, StepState::Done, format!("client key {fp}"), None),
            Err(e) => SetupStep::failed(h, SetupStepId::Keys, ApiError::from(e).into()),
        });
        let wired = self.identity().ok().and_then(|(_, _, id)| is_wired(&id, &self.target).ok());
        let (auth, restart) = match wired {
            Some(true) => (
                SetupStep::new(h, SetupStepId::Authorize, StepState::Done, "Nix is wired to the builder", None),
                SetupStep::new(h, SetupStepId::Restart, StepState::Done, "", None),
            ),
            _ => (
                SetupStep::new(h, SetupStepId::Authorize, StepState::Pending, "", None),
                SetupStep::new(h, SetupStepId::Restart, StepState::Pending, "", None),
            ),
        };
        out.push(auth);
        out.push(restart);
        out.push(SetupStep::new(h, SetupStepId::TestBuild, StepState::Pending, "", None));
        out
    }

    /// Runs the doctor against this flow's target, then says where each step stands.
    pub async fn check(&self, supervisor: &Supervisor) -> (DoctorReport, Vec<SetupStep>) {
        let report = crate::api::doctor::run(supervisor, &self.settings, &self.target).await;
        let steps = self.steps(Some(&report));
        (report, steps)
    }

    /// Computes the Plan (nothing is written): the client key for root, our lines in nix.conf,
    /// the machines file and ssh_config, and a daemon restart when nix.conf changes.
    pub fn plan(&self) -> Result<SetupPlan, ApiError> {
        let (_, keys, id) = self.identity()?;
        Ok(plan_setup(self.ctx.host, &keys, &id, &self.target)?)
    }

    /// Computes the removal of everything setup added: the user's bytes come back, and the
    /// directories earlier Plans created go too when the removal leaves them empty.
    pub fn plan_removal(&self) -> Result<SetupPlan, ApiError> {
        let created = Journal::new(&self.ctx.paths.data_dir).created_dirs()?;
        Ok(plan_unsetup(self.ctx.host, &self.target, &created)?)
    }

    /// The Plan as the user reviews it before the one authorization prompt.
    pub fn review(&self, plan: &SetupPlan) -> SetupPlanView {
        SetupPlanView {
            diff: plan.plan.diff(),
            files: plan.plan.files.iter().map(|f| f.path.display().to_string()).collect(),
            elevation: self.elevation.tool().into(),
            restart: plan.plan.restart.as_ref().map(|r| r.describe()),
            managed_by: plan.owner.label().into(),
            darwin_snippet: plan.changes.darwin_snippet.clone(),
            already_applied: plan.already_applied(),
        }
    }

    /// How Nix reaches the builder (machines line, ssh config) and whether nix.conf is wired.
    pub fn builder_info(&self) -> Result<BuilderInfo, ApiError> {
        let (_, _, id) = self.identity()?;
        let wiring = builder_wiring(&id, &self.target)?;
        Ok(BuilderInfo {
            uri: wiring.machine.uri.clone(),
            port: id.port,
            systems: vec![id.system.clone()],
            machines_line: wiring.machine.render(),
            ssh_config: wiring.ssh.render(),
            wired: is_wired(&id, &self.target)?,
        })
    }

    /// Applies `plan` through the one authorization prompt (off the async workers: the prompt
    /// blocks until the user answers); `progress` receives each step as it changes.
    pub async fn apply(
        &self,
        plan: SetupPlan,
        progress: &(dyn Fn(SetupStep) + Send + Sync),
    ) -> Result<Applied, ApiError> {
        let mut authorize = self.steps(None).into_iter().find(|s| s.id == SetupStepId::Authorize);
        if let Some(s) = authorize.as_mut() {
            s.state = StepState::Running;
            s.detail = format!("waiting for authorization ({})", self.elevation.tool());
            progress(s.clone());
        }
        // Under nix-darwin too: the client key its machines line names is ours to install.
        let nothing_to_apply = plan.plan.is_empty();
        let files = plan.plan.files.len();
        let restart = plan.plan.restart.as_ref().map(|r| r.describe());
        let journal = if nothing_to_apply {
            Ok(None)
        } else {
            apply_plan(&self.ctx.paths.data_dir, plan.plan, self.elevation).await
        };
        let journal = match journal {
            Ok(j) => j,
            Err(e) => {
                if let Some(mut s) = authorize {
                    let report = ErrorReport::from(&e);
                    s.state = StepState::Failed;
                    s.detail = report.message.clone();
                    s.error = Some(report);
                    progress(s);
                }
                return Err(e);
            }
        };
        let mut steps = self.steps(None);
        for s in &mut steps {
            match s.id {
                SetupStepId::Checks => s.state = StepState::Done,
                SetupStepId::Authorize => {
                    s.state = StepState::Done;
                    s.detail = format!("{files} file(s) changed");
                }
                SetupStepId::Restart => {
                    s.state = if restart.is_some() { StepState::Done } else { StepState::Skipped };
                    s.detail =
                        restart.clone().unwrap_or_else(|| "not needed: Nix reads the machines file per build".into());
                }
                _ => {}
            }
        }
        for s in &steps {
            progress(s.clone());
        }
        Ok(Applied { steps, journal })
    }

    /// A real remote build through the builder, off the async workers; a builder that is not
    /// running is started first, its boot shown on the test-build step (the console's last
    /// line). A build that fails is a result with its error, not an `Err`.
    pub async fn test_build(
        &self,
        supervisor: &Supervisor,
        progress: &(dyn Fn(SetupStep) + Send + Sync),
    ) -> Result<TestBuildResult, ApiError> {
        let image = self.image()?;
        let h = self.ctx.host;
        let running = |detail: String| SetupStep::new(h, SetupStepId::TestBuild, StepState::Running, detail, None);
        if supervisor.refresh().await.state != VmState::Running {
            progress(running("starting the builder …".into()));
            crate::api::builder::start(supervisor, &self.settings, None).await?;
            let ready = supervisor.wait_ready(BOOT_TIMEOUT);
            tokio::pin!(ready);
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            let mut shown = String::new();
            loop {
                tokio::select! {
                    r = &mut ready => { r?; break; }
                    _ = tick.tick() => {
                        let line = supervisor.console().tail_lines(1).pop().unwrap_or_default();
                        let line = line.trim();
                        if !line.is_empty() && line != shown {
                            shown = line.to_string();
                            progress(running(format!("starting the builder: {line}")));
                        }
                    }
                }
            }
        }
        progress(running("proving the wiring with nix-build --max-jobs 0 …".into()));
        let build = TestBuild::new(&image.system, self.target.clone());
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || build.run()).await.map_err(|source| ApiError::Task {
            what: "the test build did not finish",
            hint: "Try again; the log has details.",
            source,
        })?;
        let duration_ms = started.elapsed().as_millis() as u64;
        Ok(match result {
            Ok(output) => TestBuildResult { ok: true, output, duration_ms, error: None },
            Err(e) => {
                TestBuildResult { ok: false, output: String::new(), duration_ms, error: Some(ApiError::from(e).into()) }
            }
        })
    }
}

/// Applies a Plan through one elevation (off the async workers) and journals it, so it can be
/// undone. `None`: the Plan was empty.
pub async fn apply_plan(data_dir: &Path, plan: Plan, elevation: Elevation) -> Result<Option<AppliedPlan>, ApiError> {
    let journal = Journal::new(data_dir);
    tokio::task::spawn_blocking(move || {
        let runner = SystemRunner::default();
        Applier::new(elevation, &runner).with_journal(&journal).apply(&plan)
    })
    .await
    .map_err(|source| ApiError::Task { what: "setup stopped", hint: "Try again.", source })?
    .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::paths::{AppPaths, PathEnv};
    use crate::privileged::Owner;

    const MANIFEST: &str = r#"{"schema":1,"name":"t","system":"x86_64-linux","kernel":"k","initrd":"i","console":"ttyS0",
      "ssh":{"user":"builder"},"host_key":{"kind":"runtime"},"keys":{"channel":"fw_cfg","prefix":"opt/builderbar"}}"#;

    fn ctx(home: &Path) -> VmContext {
        let env = PathEnv { home: home.into(), builderbar_home: Some(home.join("bb")), ..Default::default() };
        VmContext::new(Host::LINUX_X86_64, AppPaths::for_host(Host::LINUX_X86_64, &env))
    }

    fn no_progress(_: SetupStep) {}

    #[tokio::test]
    async fn steps_then_apply_without_elevation_wires_nix_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        std::fs::create_dir_all(&img).unwrap();
        std::fs::write(img.join("builderbar-image.json"), MANIFEST).unwrap();
        let nix = dir.path().join("nix");
        let ssh = dir.path().join("ssh");
        std::fs::create_dir_all(&nix).unwrap();
        std::fs::create_dir_all(&ssh).unwrap();
        let me = Owner { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() };
        let target = SetupTarget {
            nix_conf_dir: nix.clone(),
            ssh_config_dir: ssh,
            system_root: dir.path().into(),
            trusted_user: None,
            owner: me,
        };
        let settings = Settings { image: Some(img), port: 31022, cores: 2, ..Settings::default() };
        let flow = SetupFlow::with_target(&ctx(dir.path()), &settings, target, Elevation::None);
        assert!(flow.needed());
        let before = flow.steps(None);
        assert_eq!(before.iter().map(|s| s.id).collect::<Vec<_>>(), SetupStepId::ALL);
        assert_eq!(before[3].state, StepState::Pending);
        let after = flow.apply(flow.plan().unwrap(), &no_progress).await.unwrap().steps;
        assert_eq!(after[3].state, StepState::Done, "{after:?}");
        assert!(!flow.needed());
        assert!(std::fs::read_to_string(nix.join("nix.conf")).unwrap().contains("builders = @"));
        // A second apply changes nothing and needs no prompt.
        let plan = flow.plan().unwrap();
        assert!(plan.already_applied());
        flow.apply(plan, &no_progress).await.unwrap();
        assert_eq!(flow.steps(None)[3].state, StepState::Done);
    }

    #[test]
    fn a_missing_image_fails_its_step_with_the_manifest_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = SetupTarget { nix_conf_dir: dir.path().join("nix"), ..SetupTarget::system() };
        let settings = Settings { image: Some(dir.path().join("nowhere")), cores: 1, ..Settings::default() };
        let flow = SetupFlow::with_target(&ctx(dir.path()), &settings, target, Elevation::None);
        let s = flow.steps(None);
        assert_eq!(s[1].state, StepState::Failed);
        assert!(s[1].error.as_ref().unwrap().message.contains("no image manifest"));
        assert!(flow.plan().is_err());
    }
}
