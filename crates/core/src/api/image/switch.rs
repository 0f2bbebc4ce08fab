//! Switching the builder to another image in one Plan: stop, the wiring for the new image's
//! host key (one authorization), the image setting, start, a test build. `harden` is the
//! switch from stage 1 to stage 2, after building stage 2 on the running stage-1 builder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::builder;
use crate::api::error::ApiError;
use crate::api::image::{FetchPhase, ImageFlow, ImageProgress};
use crate::api::setup::{SetupFlow, SetupPlanView, TestBuildResult};
use crate::image::installed::stage_of;
use crate::image::nix_provider::{Cancel, Stage};
use crate::image::ImageManifest;
use crate::settings::Settings;
use crate::vm::{Supervisor, VmState};

/// How long a switch waits for the new image to boot.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// How a switch ended.
#[derive(Debug, Clone)]
pub enum SwitchOutcome {
    /// The builder runs the new image and Nix pins its host key.
    Switched { image: PathBuf, test: Option<TestBuildResult> },
    /// The image was already in use.
    AlreadyThere { image: PathBuf },
    /// The user declined the Plan: nothing changed (the new image stays linked for later).
    Declined { image: PathBuf },
    /// nix-darwin writes the machines file: the new host key goes into its configuration, and
    /// the app switches once `darwin-rebuild switch` has put it there.
    NixDarwin { image: PathBuf, settings: String },
}

/// What the user is asked before the switch: the Plan under review.
pub type Approve<'a> = &'a (dyn Fn(&SetupPlanView) -> bool + Send + Sync);

/// One switch: the image flow (how images are built) and the setup flow (where the wiring goes).
pub struct Switch<'a> {
    pub images: &'a ImageFlow,
    pub setup: &'a SetupFlow,
    pub supervisor: &'a Supervisor,
}

impl Switch<'_> {
    /// Builds stage 2 (on the running stage-1 builder, which is started if it is wired but
    /// stopped) and switches to it. A stage-2 builder is left as it is.
    pub async fn harden(
        &self,
        progress: &(dyn Fn(&ImageProgress) + Send + Sync),
        approve: Approve<'_>,
        cancel: Cancel,
    ) -> Result<SwitchOutcome, ApiError> {
        let current = builder::image_dir(self.supervisor.context(), self.setup.settings())?;
        if stage_of(&ImageManifest::load(&current)?) == Stage::Hardened {
            return Ok(SwitchOutcome::AlreadyThere { image: current });
        }
        let mut report = ImageProgress::new(Stage::Hardened.name(), String::new());
        if self.setup.builder_info().is_ok_and(|i| i.wired) && self.supervisor.refresh().await.state != VmState::Running
        {
            report.activity = "starting the stage-1 builder to build stage 2 on it".into();
            progress(&report.told());
            builder::ensure_running(self.supervisor, self.setup.settings(), BOOT_TIMEOUT).await?;
        }
        let link = self.images.fetch(Stage::Hardened, progress, cancel).await?;
        self.switch_to(&link, progress, approve).await
    }

    /// Switches to the image directory `image` in one Plan; an unwired builder only gets the
    /// setting (setup wires it). On a failed start the previous state disk is still there:
    /// `builderbar image use previous` goes back.
    pub async fn switch_to(
        &self,
        image: &Path,
        progress: &(dyn Fn(&ImageProgress) + Send + Sync),
        approve: Approve<'_>,
    ) -> Result<SwitchOutcome, ApiError> {
        let manifest = ImageManifest::load(image)?;
        let mut report = ImageProgress::new(stage_of(&manifest).name(), image.display().to_string());
        report.phase = FetchPhase::Linking;
        let mut say = |what: &str| {
            report.activity = what.into();
            progress(&report.told());
        };
        let ctx = self.supervisor.context();
        if builder::image_dir(ctx, self.setup.settings()).is_ok_and(|c| crate::image::installed::same_image(&c, image))
        {
            return Ok(SwitchOutcome::AlreadyThere { image: image.into() });
        }
        let new_settings = Settings { image: Some(image.to_path_buf()), ..self.setup.settings().clone() };
        let new_setup = self.setup.with_settings(&new_settings);
        let wired = self.setup.builder_info().is_ok_and(|i| i.wired);
        let plan = new_setup.plan()?;
        let view = new_setup.review(&plan);
        if view.darwin_snippet.is_some() {
            // The module's `image`: "builderbar" names stage 2 as setup linked it (the app then
            // picks that link); any other image by its directory.
            let linked = image.starts_with(&self.images.installed().dir);
            let ours = linked && stage_of(&manifest) == Stage::Hardened;
            let name = if ours { "builderbar".to_string() } else { image.display().to_string() };
            let key = new_setup.builder_info()?.machines_line.split_whitespace().last().unwrap_or_default().to_string();
            return Ok(SwitchOutcome::NixDarwin {
                image: image.into(),
                settings: format!(
                    "services.builderbar.image = \"{name}\";\nservices.builderbar.nixWiring.publicHostKey = \"{key}\";"
                ),
            });
        }
        if wired && !view.already_applied && !approve(&view) {
            return Ok(SwitchOutcome::Declined { image: image.into() });
        }
        let was = self.supervisor.refresh().await;
        let was_running = matches!(was.state, VmState::Running | VmState::Starting);
        if was_running {
            say("stopping the builder");
            builder::stop(self.supervisor, self.setup.settings(), None).await?;
        }
        if wired && !view.already_applied {
            say("waiting for authorization: the new host key goes into Nix's machines file");
            if let Err(e) = new_setup.apply(plan, &|_| {}).await {
                if was_running {
                    let _ = builder::start(self.supervisor, self.setup.settings(), None).await;
                }
                return Err(e);
            }
        }
        self.images.adopt(image, &self.supervisor.refresh().await)?;
        if !wired {
            return Ok(SwitchOutcome::Switched { image: image.into(), test: None });
        }
        say("starting the new image (a new state disk; the old one is kept until this works)");
        builder::start(self.supervisor, &new_settings, None).await?;
        self.supervisor.wait_ready(BOOT_TIMEOUT).await?;
        say("test build on the new image");
        let test = new_setup.test_build(self.supervisor, &|_| {}).await?;
        if test.ok {
            // The new image works: the old store overlay is of no more use.
            if crate::vm::disk::discard_previous(&ctx.files.state_disk()).unwrap_or(false) {
                say("the new image works: the previous image's state disk was removed");
            }
        }
        Ok(SwitchOutcome::Switched { image: image.into(), test: Some(test) })
    }
}
