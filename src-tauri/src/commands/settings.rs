//! settings_get/validate/save: the core validates; invalid values come back per field.

use builderbar_core::api::{self, SettingsSaved};
use builderbar_core::settings::{FieldError, Settings};
use tauri::{AppHandle, Runtime, State};

use super::result::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> CmdResult<Settings> {
    state.settings()
}

#[tauri::command]
pub fn settings_validate(state: State<'_, AppState>, settings: Settings) -> CmdResult<Vec<FieldError>> {
    Ok(api::settings::validate(state.ctx(), &state.supervisor.status(), &settings)?)
}

#[tauri::command]
pub fn settings_save<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: Settings,
) -> CmdResult<SettingsSaved> {
    let saved = api::settings::save(state.ctx(), &state.supervisor.status(), &settings)?;
    crate::autostart::follow(&app, settings.start_at_login);
    Ok(saved)
}
