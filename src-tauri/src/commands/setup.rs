//! setup_steps, setup_plan, setup_apply (progress as `setup://step` events), setup_test_build.

use builderbar_core::app_api;
use builderbar_core::setup::{SetupPlanView, SetupStep, TestBuildResult};
use tauri::{AppHandle, Emitter, Runtime, State};

use super::CmdResult;
use crate::events::SETUP_STEP;
use crate::state::AppState;

#[tauri::command]
pub async fn setup_steps(state: State<'_, AppState>) -> CmdResult<Vec<SetupStep>> {
    let settings = state.settings()?;
    app_api::setup_steps(&state.supervisor, &settings).await
}

#[tauri::command]
pub fn setup_plan(state: State<'_, AppState>) -> CmdResult<SetupPlanView> {
    let settings = state.settings()?;
    app_api::setup_plan(state.ctx(), &settings)
}

#[tauri::command]
pub async fn setup_apply<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> CmdResult<Vec<SetupStep>> {
    let settings = state.settings()?;
    let progress = move |step: SetupStep| {
        let _ = app.emit(SETUP_STEP, step);
    };
    app_api::setup_apply(state.ctx(), &settings, &progress).await
}

#[tauri::command]
pub async fn setup_test_build(state: State<'_, AppState>) -> CmdResult<TestBuildResult> {
    let settings = state.settings()?;
    app_api::setup_test_build(&state.supervisor, &settings).await
}
