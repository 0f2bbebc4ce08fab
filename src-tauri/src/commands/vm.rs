//! vm_status, vm_start, vm_stop, vm_restart.

use std::time::Duration;

use builderbar_core::app_api;
use builderbar_core::vm::{StartRequest, VmStatus};
use tauri::State;

use super::{report, CmdResult};
use crate::state::AppState;

/// Starts the builder with the saved settings; returns at Starting (Running arrives as an event).
pub async fn start(state: &AppState) -> CmdResult<VmStatus> {
    let settings = state.settings()?;
    let image_dir = app_api::image_dir(state.ctx(), &settings).map_err(|e| report(&e))?;
    state.supervisor.start(StartRequest { settings, image_dir }).await.map_err(|e| report(&e))
}

/// Graceful stop, within the configured timeout.
pub async fn stop(state: &AppState) -> CmdResult<VmStatus> {
    let timeout = state.settings().map(|s| s.stop_timeout_secs).unwrap_or(30);
    state.supervisor.stop(Duration::from_secs(u64::from(timeout))).await.map_err(|e| report(&e))
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
