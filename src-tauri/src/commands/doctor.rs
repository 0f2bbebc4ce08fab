//! doctor_run, builder_info.

use builderbar_core::api::{self, BuilderInfo};
use builderbar_core::doctor::DoctorReport;
use tauri::State;

use super::result::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn doctor_run(state: State<'_, AppState>) -> CmdResult<DoctorReport> {
    let (settings, flow) = state.setup_flow()?;
    Ok(api::doctor::run(&state.supervisor, &settings, flow.target()).await)
}

#[tauri::command]
pub fn builder_info(state: State<'_, AppState>) -> CmdResult<BuilderInfo> {
    Ok(state.setup_flow()?.1.builder_info()?)
}
