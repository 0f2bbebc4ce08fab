//! console_attach/detach/input/save: the serial console of the running builder.

use builderbar_core::api::ErrorReport;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, Manager, Runtime, State, Window};

use super::result::{bad_argument, CmdResult};
use crate::state::AppState;

/// Longest input accepted in one call (typing and pastes are far smaller).
pub const MAX_INPUT: usize = 64 * 1024;

/// Streams this window's console: history first, then live bytes as raw `ArrayBuffer`s.
#[tauri::command]
pub fn console_attach<R: Runtime>(
    window: Window<R>,
    state: State<'_, AppState>,
    on_data: Channel<InvokeResponseBody>,
) -> CmdResult<()> {
    state.consoles.attach(window.label(), state.supervisor.console(), move |bytes| {
        on_data.send(InvokeResponseBody::Raw(bytes)).is_ok()
    });
    Ok(())
}

#[tauri::command]
pub fn console_detach<R: Runtime>(window: Window<R>, state: State<'_, AppState>) -> CmdResult<()> {
    state.consoles.detach(window.label());
    Ok(())
}

/// Typed text to the guest's serial console, delivered in order (see `console_input.rs`).
/// Synchronous on purpose: calls are queued in the order they arrive.
#[tauri::command]
pub fn console_input(state: State<'_, AppState>, data: String) -> CmdResult<()> {
    if data.is_empty() {
        return Ok(());
    }
    if data.len() > MAX_INPUT {
        return Err(bad_argument(
            format!("console input of {} bytes is too long (at most {MAX_INPUT})", data.len()),
            "Paste less at once.",
        ));
    }
    // Where the running VM's start put it (another process may have started it).
    let socket = state.supervisor.serial_socket();
    if state.supervisor.status().pid.is_none() || !socket.exists() {
        return Err(ErrorReport {
            message: "cannot type into the builder's console: the builder is not running".into(),
            hint: "Start the builder first; the console accepts input only while it runs.".into(),
            fields: Vec::new(),
        });
    }
    state.console_input.send(socket, data.into_bytes());
    Ok(())
}

/// Asks where to save (a native dialog) and writes this boot's console log there.
#[tauri::command]
pub async fn console_save<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> CmdResult<String> {
    use tauri_plugin_dialog::DialogExt;
    if app.try_state::<tauri_plugin_dialog::Dialog<R>>().is_none() {
        return Err(bad_argument("the save dialog is not available", "Copy the text from the console instead."));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_file_name("builderbar-console.log").add_filter("Log", &["log", "txt"]).save_file(
        move |p| {
            let _ = tx.send(p);
        },
    );
    let path = rx
        .await
        .ok()
        .flatten()
        .and_then(|p| p.into_path().ok())
        .ok_or_else(|| bad_argument("Nothing saved: the save dialog was cancelled.", ""))?;
    let log = state.ctx().files.console_log();
    let bytes = std::fs::read(&log).unwrap_or_else(|_| state.supervisor.console().history());
    std::fs::write(&path, bytes).map_err(|e| ErrorReport {
        message: format!("cannot write {}: {e}", path.display()),
        hint: "Choose a folder you can write to.".into(),
        fields: Vec::new(),
    })?;
    Ok(path.display().to_string())
}
