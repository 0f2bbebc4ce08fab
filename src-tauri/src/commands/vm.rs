//! vm_status, vm_start, vm_stop, vm_restart.

use builderbar_core::api;
use builderbar_core::vm::VmStatus;
use tauri::State;

use super::result::CmdResult;
use crate::state::AppState;

/// Starts the builder with the saved settings; returns at Starting (Running arrives as an event).
pub async fn start(state: &AppState) -> CmdResult<VmStatus> {
    let settings = state.settings()?;
    Ok(api::builder::start(&state.supervisor, &settings, None).await?)
}

/// Graceful stop, within the configured timeout.
pub async fn stop(state: &AppState) -> CmdResult<VmStatus> {
    let settings = state.settings().unwrap_or_default();
    Ok(api::builder::stop(&state.supervisor, &settings, None).await?)
}

#[tauri::command]
pub async fn vm_status(state: State<'_, AppState>) -> CmdResult<VmStatus> {
    Ok(state.supervisor.refresh().await)
}

#[tauri::command]
pub async fn vm_start(state: State<'_, AppState>) -> CmdResult<VmStatus> {
    start(&state).await
}

#[tauri::command]
pub async fn vm_stop(state: State<'_, AppState>) -> CmdResult<VmStatus> {
    stop(&state).await
}

#[tauri::command]
pub async fn vm_restart(state: State<'_, AppState>) -> CmdResult<VmStatus> {
    stop(&state).await?;
    start(&state).await
}
