//! doctor_run, builder_info.

use builderbar_core::app_api;
use builderbar_core::doctor::DoctorReport;
use builderbar_core::setup::BuilderInfo;
use tauri::State;

use super::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn doctor_run(state: State<'_, AppState>) -> CmdResult<DoctorReport> {
    let settings = state.settings()?;
    app_api::run_doctor(&state.supervisor, &settings, None).await
}

#[tauri::command]
pub fn builder_info(state: State<'_, AppState>) -> CmdResult<BuilderInfo> {
    let settings = state.settings()?;
    app_api::builder_info(state.ctx(), &settings)
}
