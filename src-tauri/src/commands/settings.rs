//! settings_get/validate/save: the core validates; invalid values come back per field.

use builderbar_core::app_api::SettingsSaved;
use builderbar_core::settings::{FieldError, HostLimits, Settings, SettingsError};
use tauri::{AppHandle, Runtime, State};

use super::{settings_report, CmdResult};
use crate::state::AppState;

fn limits(state: &AppState) -> HostLimits {
    // Our own running builder holds its port: that is not a conflict.
    HostLimits::detect(state.ctx().host, state.supervisor.status().port)
}

#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> CmdResult<Settings> {
    state.settings()
}

#[tauri::command]
pub fn settings_validate(state: State<'_, AppState>, settings: Settings) -> CmdResult<Vec<FieldError>> {
    match settings.validate(&limits(&state)) {
        Ok(()) => Ok(Vec::new()),
        Err(SettingsError::Invalid(fields)) => Ok(fields),
        Err(e) => Err(settings_report(&e)),
    }
}

#[tauri::command]
pub fn settings_save<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: Settings,
) -> CmdResult<SettingsSaved> {
    let path = state.paths().settings_file();
    let old = Settings::load(&path).unwrap_or_default();
    settings.save(&path, &limits(&state)).map_err(|e| settings_report(&e))?;
    crate::autostart::follow(&app, settings.start_at_login);
    let running = state.supervisor.status().pid.is_some();
    Ok(SettingsSaved { restart_needed: running && settings.needs_vm_restart(&old) })
}
