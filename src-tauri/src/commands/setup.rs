//! setup_steps, setup_plan, setup_apply (progress as `setup://step` events), setup_test_build.

use builderbar_core::api::{SetupPlanView, SetupStep, TestBuildResult};
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

/// A real remote build through the builder (which must be running and wired).
#[tauri::command]
pub async fn setup_test_build(state: State<'_, AppState>) -> CmdResult<TestBuildResult> {
    let (_, flow) = state.setup_flow()?;
    Ok(flow.test_build(&state.supervisor).await?)
}
