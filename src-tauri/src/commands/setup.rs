//! setup_steps, setup_plan, setup_apply (progress as `setup://step` events), setup_test_build;
//! the image step: image_fetch and image_harden (progress over a Channel; one job at a time,
//! owned by the app, so closing the window does not stop it), image_cancel, image_status.

use builderbar_core::api::image::{FetchPhase, ImageFlow, ImageProgress, ImageStatusView, Switch, SwitchOutcome};
use builderbar_core::api::{ErrorReport, SetupPlanView, SetupStep, TestBuildResult};
use builderbar_core::image::nix_provider::{Cancel, Stage};
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Runtime, State};

use super::result::CmdResult;
use crate::events::SETUP_STEP;
use crate::state::AppState;

/// The first-run steps as they stand now (the doctor's checks run first).
#[tauri::command]
pub async fn setup_steps(state: State<'_, AppState>) -> CmdResult<Vec<SetupStep>> {
    let (_, flow) = state.setup_flow()?;
    Ok(flow.check(&state.supervisor).await.1)
}

/// The privileged Plan the user approves before the one authorization prompt.
#[tauri::command]
pub fn setup_plan(state: State<'_, AppState>) -> CmdResult<SetupPlanView> {
    let (_, flow) = state.setup_flow()?;
    Ok(flow.review(&flow.plan()?))
}

/// Applies the Plan (one OS prompt), restarting the Nix daemon if needed. Returns the final steps.
#[tauri::command]
pub async fn setup_apply<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> CmdResult<Vec<SetupStep>> {
    let (_, flow) = state.setup_flow()?;
    let progress = move |step: SetupStep| {
        let _ = app.emit(SETUP_STEP, step);
    };
    Ok(flow.apply(flow.plan()?, &progress).await?.steps)
}

/// A real remote build through the builder; a stopped builder is started first, its boot
/// shown as `setup://step` events of the test-build step.
#[tauri::command]
pub async fn setup_test_build<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> CmdResult<TestBuildResult> {
    let (_, flow) = state.setup_flow()?;
    let progress = move |step: SetupStep| {
        let _ = app.emit(SETUP_STEP, step);
    };
    Ok(flow.test_build(&state.supervisor, &progress).await?)
}

/// Forwards a job's reports to `on_progress` until it ends; returns the final one.
async fn follow(
    mut rx: tokio::sync::watch::Receiver<ImageProgress>,
    on_progress: Channel<ImageProgress>,
) -> ImageProgress {
    loop {
        let p = rx.borrow_and_update().clone();
        let _ = on_progress.send(p.clone());
        if p.phase.is_final() || rx.changed().await.is_err() {
            return p;
        }
    }
}

/// Fetches stage 1 (nixpkgs' stock builder) through Nix and makes it the image; joins the
/// job that runs already. Resolves with the final report (done, failed or cancelled).
#[tauri::command]
pub async fn image_fetch(state: State<'_, AppState>, on_progress: Channel<ImageProgress>) -> CmdResult<ImageProgress> {
    let settings = state.settings()?;
    let supervisor = state.supervisor.clone();
    let rx = state.image_job.start(|tx, cancel| async move {
        let flow = ImageFlow::new(supervisor.context(), &settings);
        let builder = supervisor.refresh().await;
        flow.fetch_and_use(Stage::Stock, &builder, &|p| drop(tx.send(p.clone())), cancel).await
    });
    Ok(follow(rx, on_progress).await)
}

/// Builds stage 2 on the running stage-1 builder and switches to it in one Plan (the user
/// chose it in the setup window; the OS prompt authorizes the Plan).
#[tauri::command]
pub async fn image_harden(state: State<'_, AppState>, on_progress: Channel<ImageProgress>) -> CmdResult<ImageProgress> {
    let (settings, setup) = state.setup_flow()?;
    let supervisor = state.supervisor.clone();
    let rx = state.image_job.start(|tx, cancel| async move {
        let images = ImageFlow::new(supervisor.context(), &settings);
        let switch = Switch { images: &images, setup: &setup, supervisor: &supervisor };
        let last = std::sync::Mutex::new(ImageProgress::new(Stage::Hardened.name(), String::new()));
        let report = |p: &ImageProgress| {
            *last.lock().expect("progress") = p.clone();
            let _ = tx.send(p.clone());
        };
        let outcome = switch.harden(&report, &|_| true, cancel).await;
        let mut end = last.into_inner().expect("progress");
        end.eta_secs = None;
        match outcome {
            Ok(SwitchOutcome::Switched { image, test }) => {
                end.phase = FetchPhase::Done;
                end.image = Some(image.display().to_string());
                if let Some(t) = test.filter(|t| !t.ok) {
                    end.phase = FetchPhase::Failed;
                    end.error = t.error;
                }
            }
            Ok(SwitchOutcome::AlreadyThere { image } | SwitchOutcome::Declined { image }) => {
                end.phase = FetchPhase::Done;
                end.image = Some(image.display().to_string());
            }
            Ok(SwitchOutcome::NixDarwin { image, settings }) => {
                end.phase = FetchPhase::Done;
                end.image = Some(image.display().to_string());
                end.activity = "nix-darwin writes the machines file: set these in your configuration and run \
                                `darwin-rebuild switch`"
                    .into();
                end.log = settings.lines().map(String::from).collect();
            }
            Err(e) => {
                let cancelled = matches!(
                    e,
                    builderbar_core::api::ApiError::Nix(builderbar_core::image::nix_provider::NixError::Cancelled)
                );
                end.phase = if cancelled { FetchPhase::Cancelled } else { FetchPhase::Failed };
                end.error = (!cancelled).then(|| ErrorReport::from(e));
            }
        }
        end.told()
    });
    Ok(follow(rx, on_progress).await)
}

/// Cancels the image job that runs, if any: Nix is interrupted, nothing is changed.
#[tauri::command]
pub fn image_cancel(state: State<'_, AppState>) -> CmdResult<()> {
    state.image_job.cancel();
    Ok(())
}

/// The image in use, its stage and why it matters, the images there are.
#[tauri::command]
pub fn image_status(state: State<'_, AppState>) -> CmdResult<ImageStatusView> {
    let settings = state.settings()?;
    Ok(ImageFlow::new(state.ctx(), &settings).status())
}

/// The one image job of the app: a fetch or a switch, its reports and its cancel.
#[derive(Default)]
pub struct ImageJob {
    running: std::sync::Mutex<
        Option<(tokio::sync::watch::Receiver<ImageProgress>, builderbar_core::image::nix_provider::CancelHandle)>,
    >,
}

impl ImageJob {
    /// Starts `job` unless one runs (then its reports are joined instead).
    fn start<F, Fut>(&self, job: F) -> tokio::sync::watch::Receiver<ImageProgress>
    where
        F: FnOnce(tokio::sync::watch::Sender<ImageProgress>, Cancel) -> Fut,
        Fut: std::future::Future<Output = ImageProgress> + Send + 'static,
    {
        let mut slot = self.running.lock().expect("image job");
        if let Some((rx, _)) = slot.as_ref().filter(|(rx, _)| !rx.borrow().phase.is_final()) {
            return rx.clone();
        }
        let (tx, rx) = tokio::sync::watch::channel(ImageProgress::new("", String::new()));
        let (handle, cancel) = Cancel::new();
        let fut = job(tx.clone(), cancel);
        tauri::async_runtime::spawn(async move {
            let end = fut.await;
            let _ = tx.send(end);
        });
        *slot = Some((rx.clone(), handle));
        rx
    }

    fn cancel(&self) {
        if let Some((_, handle)) = self.running.lock().expect("image job").as_ref() {
            handle.cancel();
        }
    }
}
