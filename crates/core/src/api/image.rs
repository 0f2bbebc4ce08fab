//! Builder images as both faces get them: fetch stage 1 (nixpkgs' stock builder) or build
//! stage 2 through the `nix` provider with progress and cancel, link the result as a GC root
//! under the caches directory, make it the image setting; list, use and remove images.

mod switch;
mod view;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use switch::{Approve, Switch, SwitchOutcome};
pub use view::{size, FetchPhase, ImageProgress, ImageStatusView, InstalledImageView};

use crate::api::error::{ApiError, ErrorReport};
use crate::image::installed::{same_image, stage_of, InstalledImages};
use crate::image::nix_provider::{locate_nix_bin_dir, Cancel, ImageSource, NixError, NixEvent, NixProvider, Stage};
use crate::image::{ImageError, ImageManifest, ImageOrigin};
use crate::settings::Settings;
use crate::vm::{VmContext, VmStatus};

/// How often a running fetch reports bytes (phase and activity changes go out at once).
const REPORT_EVERY: Duration = Duration::from_millis(250);
/// Nix's log lines a progress report keeps.
const LOG_LINES: usize = 8;

/// Why the stage of the image in use matters, in one sentence.
pub fn stage_note(stage: Option<Stage>) -> String {
    match stage {
        Some(Stage::Stock) => "Stage 1, nixpkgs' stock builder: its SSH host key is public (the same in every copy), \
             so another program on this machine could pose as the builder on 127.0.0.1. Switch to stage 2, \
             the same builder with a host key made for this install: `builderbar image harden`."
            .into(),
        Some(Stage::Hardened) => "Stage 2: the builder's host key was made for this install and Nix pins it.".into(),
        None => "No image yet: setup fetches nixpkgs' stock builder (stage 1), then builds stage 2 on it.".into(),
    }
}

/// Images for one install: where they come from, where they are linked, which Nix builds them.
#[derive(Debug, Clone)]
pub struct ImageFlow {
    ctx: VmContext,
    settings: Settings,
    provider: NixProvider,
}

impl ImageFlow {
    /// Nix from PATH, else where the installers put it (a macOS app gets a bare PATH).
    pub fn new(ctx: &VmContext, settings: &Settings) -> ImageFlow {
        let path = std::env::var_os("PATH");
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut provider = NixProvider::new();
        if let Some(dir) = locate_nix_bin_dir(path.as_deref(), home.as_deref()) {
            provider = provider.bin_dir(dir);
        }
        ImageFlow::with_provider(ctx, settings, provider)
    }

    pub fn with_provider(ctx: &VmContext, settings: &Settings, provider: NixProvider) -> ImageFlow {
        ImageFlow { ctx: ctx.clone(), settings: settings.clone(), provider }
    }

    pub fn installed(&self) -> InstalledImages {
        InstalledImages::new(&self.ctx.paths.cache_dir)
    }

    /// Where images come from: the `image_source` setting, else the flake Builderbar ships.
    pub fn origin(&self) -> Result<ImageOrigin, ApiError> {
        Ok(ImageOrigin::resolve(self.settings.image_source.as_deref(), &self.ctx.paths.cache_dir)?)
    }

    /// What Nix builds for `stage`.
    pub fn source(&self, stage: Stage) -> Result<ImageSource, ApiError> {
        Ok(self.origin()?.source(self.ctx.host, stage)?)
    }

    /// Builds (or fetches) the image of `stage` and links it under the caches directory as a
    /// GC root; returns the link. A cancel before the link exists leaves nothing behind.
    pub async fn fetch(
        &self,
        stage: Stage,
        progress: &(dyn Fn(&ImageProgress) + Send + Sync),
        cancel: Cancel,
    ) -> Result<PathBuf, ApiError> {
        let tracker = Mutex::new(Tracker::new(ImageProgress::new(stage.name(), String::new())));
        let report = |f: &mut dyn FnMut(&mut Tracker) -> bool| {
            let mut t = tracker.lock().expect("progress");
            if f(&mut t) {
                t.progress.elapsed_secs = t.started.elapsed().as_secs();
                progress(&t.progress.told());
            }
        };
        report(&mut |_| true);
        let source = self.source(stage)?;
        report(&mut |t| {
            t.progress.source = describe(&source);
            t.progress.phase = FetchPhase::Evaluating;
            true
        });
        let built = self
            .provider
            .build_cancellable(&source, |e| report(&mut |t| t.apply(e.clone(), Instant::now())), cancel.clone())
            .await?;
        if cancel.is_cancelled() {
            return Err(NixError::Cancelled.into());
        }
        report(&mut |t| {
            t.progress.phase = FetchPhase::Linking;
            true
        });
        let images = self.installed();
        images.ensure_dir()?;
        let link = images.link_for(stage_of(&built.manifest), &built.dir);
        self.provider.add_root(&built.dir, &link).await?;
        Ok(link)
    }

    /// Makes `image` the image setting (validated, like every settings change); `builder` is
    /// the builder's status, whose port is ours.
    pub fn adopt(&self, image: &Path, builder: &VmStatus) -> Result<Settings, ApiError> {
        let new = Settings { image: Some(image.to_path_buf()), ..self.settings.clone() };
        crate::api::settings::save(&self.ctx, builder, &new)?;
        Ok(new)
    }

    /// The whole job the setup window and `builderbar image fetch` run: fetch, link, and make
    /// it the image setting when none is in use (switching a builder Nix is wired to is the
    /// [`Switch`]'s job: the machines line pins the image's host key). Always ends in a final
    /// report (Done, Failed or Cancelled); a failure after the link was made removes it again,
    /// so nothing is left half done.
    pub async fn fetch_and_use(
        &self,
        stage: Stage,
        builder: &VmStatus,
        progress: &(dyn Fn(&ImageProgress) + Send + Sync),
        cancel: Cancel,
    ) -> ImageProgress {
        let last = Mutex::new(ImageProgress::new(stage.name(), String::new()));
        let relay = |p: &ImageProgress| {
            *last.lock().expect("progress") = p.clone();
            progress(p);
        };
        let in_use = crate::api::builder::image_dir(&self.ctx, &self.settings).is_ok();
        let result = match self.fetch(stage, &relay, cancel).await {
            Ok(link) if in_use => Ok(link),
            Ok(link) => match self.adopt(&link, builder) {
                Ok(_) => Ok(link),
                Err(e) => {
                    let _ = std::fs::remove_file(&link);
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        let mut end = last.into_inner().expect("progress");
        match result {
            Ok(link) => {
                end.phase = FetchPhase::Done;
                end.image = Some(link.display().to_string());
            }
            Err(ApiError::Nix(NixError::Cancelled)) => end.phase = FetchPhase::Cancelled,
            Err(e) => {
                end.phase = FetchPhase::Failed;
                end.error = Some(ErrorReport::from(e));
            }
        }
        end.eta_secs = None;
        let end = end.told();
        progress(&end);
        end
    }

    /// The image in use, its stage, and the images there are.
    pub fn status(&self) -> ImageStatusView {
        let image = crate::api::builder::image_dir(&self.ctx, &self.settings).ok();
        let manifest = image.as_deref().and_then(|d| ImageManifest::load(d).ok());
        let stage = manifest.as_ref().map(stage_of);
        let installed = self
            .installed()
            .list()
            .into_iter()
            .map(|i| InstalledImageView {
                in_use: image.as_deref().is_some_and(|u| same_image(u, &i.path)),
                name: i.name,
                path: i.path.display().to_string(),
                target: i.target.display().to_string(),
                title: match &i.manifest {
                    Ok(m) => m.name.clone(),
                    Err(e) => e.clone(),
                },
                stage: i.manifest.as_ref().map(|m| stage_of(m).name().to_string()).unwrap_or_default(),
            })
            .collect();
        ImageStatusView {
            image: image.map(|p| p.display().to_string()),
            title: manifest.map(|m| m.name),
            stage: stage.map(|s| s.name().to_string()),
            stage_note: stage_note(stage),
            source: match self.origin() {
                Ok(ImageOrigin::Flake(f)) => f,
                Ok(ImageOrigin::File(p)) => p.display().to_string(),
                Err(e) => e.to_string(),
            },
            installed,
            previous_disk: crate::vm::disk::previous_disk(&self.ctx.files.state_disk())
                .map(|p| p.display().to_string()),
        }
    }

    /// The image directory `name` stands for: an entry of `<caches>/images`, a directory, or
    /// `previous`, the image the kept state disk was made for (its link, when setup made one,
    /// so the setting names the GC root). Its manifest must load.
    pub fn image_dir_named(&self, name: &str) -> Result<PathBuf, ApiError> {
        let dir = if name == "previous" {
            let prev =
                crate::vm::disk::previous_identity(&self.ctx.files.state_disk()).ok_or(ImageError::NoPrevious)?;
            let link = self.installed().list().into_iter().find(|i| same_image(&i.path, &prev.image));
            link.map(|i| i.path).unwrap_or(prev.image)
        } else {
            match self.installed().find(name) {
                Ok(i) => i.path,
                Err(_) if Path::new(name).is_dir() => {
                    std::fs::canonicalize(name).unwrap_or_else(|_| PathBuf::from(name))
                }
                Err(e) => return Err(e.into()),
            }
        };
        ImageManifest::load(&dir)?;
        Ok(dir)
    }

    /// Removes the link `name` (not the image in use).
    pub fn remove(&self, name: &str) -> Result<PathBuf, ApiError> {
        let in_use = crate::api::builder::image_dir(&self.ctx, &self.settings).ok();
        Ok(self.installed().remove(name, in_use.as_deref())?.path)
    }
}

/// The reports a fetch of `source` makes for Nix's `--log-format internal-json` lines, one
/// line every `pace` (the UI's in-memory backend replays these; the app shows the same).
pub fn replay(stage: Stage, source: &str, lines: &str, pace: Duration) -> Vec<ImageProgress> {
    let mut parser = crate::image::nix_provider::ProgressParser::default();
    let mut progress = ImageProgress::new(stage.name(), source.into());
    progress.phase = FetchPhase::Evaluating;
    let mut t = Tracker::new(progress);
    let start = t.started;
    let mut out = vec![t.progress.told()];
    for (i, line) in lines.lines().enumerate() {
        let now = start + pace * (i as u32 + 1);
        for e in parser.feed(line) {
            if t.apply(e, now) {
                t.progress.elapsed_secs = now.duration_since(start).as_secs();
                out.push(t.progress.told());
            }
        }
    }
    out
}

/// What the user is told is being built.
fn describe(source: &ImageSource) -> String {
    match source {
        ImageSource::Flake(installable) => installable.clone(),
        ImageSource::File { path, .. } => path.display().to_string(),
    }
}

/// Turns Nix's events into the report, with a time left from the download rate.
struct Tracker {
    progress: ImageProgress,
    started: Instant,
    /// When the current phase's first byte arrived, and how many there were then.
    rate_from: Option<(Instant, u64)>,
    last_report: Option<Instant>,
}

impl Tracker {
    fn new(progress: ImageProgress) -> Tracker {
        Tracker { progress, started: Instant::now(), rate_from: None, last_report: None }
    }

    /// Applies one event; true when it is worth reporting now.
    fn apply(&mut self, event: NixEvent, now: Instant) -> bool {
        let p = &mut self.progress;
        let urgent = match event {
            NixEvent::Realising => {
                p.phase = FetchPhase::Realising;
                p.bytes_done = 0;
                p.bytes_expected = 0;
                self.rate_from = None;
                true
            }
            NixEvent::Activity(a) => {
                p.activity = a;
                true
            }
            NixEvent::Steps { built, to_build, fetched, to_fetch } => {
                (p.built, p.to_build, p.fetched, p.to_fetch) = (built, to_build, fetched, to_fetch);
                false
            }
            NixEvent::Bytes { done, expected } => {
                (p.bytes_done, p.bytes_expected) = (done, expected);
                let (t0, b0) = *self.rate_from.get_or_insert((now, done));
                let secs = now.duration_since(t0).as_secs_f64();
                p.eta_secs = (p.phase == FetchPhase::Realising && secs >= 2.0 && done > b0 && expected > done)
                    .then(|| ((expected - done) as f64 / ((done - b0) as f64 / secs)).ceil() as u64);
                false
            }
            NixEvent::Log(line) => {
                p.log.push(line);
                if p.log.len() > LOG_LINES {
                    p.log.remove(0);
                }
                false
            }
        };
        let due = self.last_report.is_none_or(|t| now.duration_since(t) >= REPORT_EVERY);
        if urgent || due {
            self.last_report = Some(now);
        }
        urgent || due
    }
}

#[cfg(test)]
mod tests;
