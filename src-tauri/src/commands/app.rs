//! open_window, reveal_logs, app_quit, app_tray_state, app_host.

use builderbar_core::host::Host;
use tauri::{AppHandle, Manager, Runtime, State};

use super::result::{bad_argument, CmdResult};
use crate::state::AppState;
use crate::tray_model::TrayView;
use crate::windows::WindowKind;

#[tauri::command]
pub fn open_window<R: Runtime>(app: AppHandle<R>, kind: String) -> CmdResult<()> {
    let kind: WindowKind = kind.parse().map_err(|e: String| bad_argument(e, WindowKind::HINT))?;
    crate::windows::open(&app, kind).map_err(|e| bad_argument(format!("cannot open the {kind} window: {e}"), ""))
}

/// Opens the log directory in the file manager.
#[tauri::command]
pub fn reveal_logs<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> CmdResult<()> {
    use tauri_plugin_opener::OpenerExt;
    let dir = state.paths().log_dir.clone();
    std::fs::create_dir_all(&dir)
        .map_err(|e| bad_argument(format!("cannot create {}: {e}", dir.display()), "Check the disk."))?;
    if app.try_state::<tauri_plugin_opener::Opener<R>>().is_none() {
        return Err(bad_argument("no file manager is available", format!("The logs are in {}.", dir.display())));
    }
    app.opener().open_path(dir.display().to_string(), None::<&str>).map_err(|e| {
        bad_argument(format!("cannot open the file manager: {e}"), format!("The logs are in {}.", dir.display()))
    })
}

/// Quits the app, stopping the builder first when asked (else it keeps running and the next
/// launch reattaches).
#[tauri::command]
pub async fn app_quit<R: Runtime>(app: AppHandle<R>, stop_builder: bool) -> CmdResult<()> {
    crate::quit::quit(&app, stop_builder).await;
    Ok(())
}

/// What the tray menu shows now (state, status line, toggle), for the e2e test and diagnostics.
#[tauri::command]
pub fn app_tray_state(state: State<'_, AppState>) -> CmdResult<TrayView> {
    Ok(state.tray.lock().expect("tray view").view.clone())
}

/// The machine the app runs on, so the UI words things for it ("this Mac") and offers only its
/// accelerators.
#[tauri::command]
pub fn app_host(state: State<'_, AppState>) -> CmdResult<Host> {
    Ok(state.ctx().host)
}
