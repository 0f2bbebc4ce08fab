//! Quit: ask whether to stop the builder or leave it running (the next launch reattaches).

use builderbar_core::api::ErrorReport;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind, MessageDialogResult};

use crate::state::AppState;

const STOP: &str = "Stop Builder and Quit";
const LEAVE: &str = "Leave It Running";

pub async fn quit<R: Runtime>(app: &AppHandle<R>, stop_builder: bool) {
    let state = app.state::<AppState>();
    state.set_quitting();
    if stop_builder {
        if let Err(e) = crate::commands::vm::stop(&state).await {
            tracing::warn!(message = %e.message, "stopping the builder on quit failed");
        }
    }
    app.exit(0);
}

/// From the tray's Quit: asks only when a builder runs.
pub fn ask_and_quit<R: Runtime>(app: &AppHandle<R>) {
    let running = app.state::<AppState>().supervisor.status().pid.is_some();
    let app = app.clone();
    if !running {
        tauri::async_runtime::spawn(async move { quit(&app, false).await });
        return;
    }
    let dialog = app.dialog().clone();
    dialog
        .message(
            "The builder is still running. Stop it, or leave it running for Nix builds? Builderbar reattaches to \
             it the next time it starts.",
        )
        .title("Quit Builderbar")
        .kind(MessageDialogKind::Info)
        .buttons(MessageDialogButtons::YesNoCancelCustom(STOP.into(), LEAVE.into(), "Cancel".into()))
        .show_with_result(move |r| {
            let stop = match r {
                MessageDialogResult::Yes => true,
                MessageDialogResult::No => false,
                MessageDialogResult::Custom(s) if s == STOP => true,
                MessageDialogResult::Custom(s) if s == LEAVE => false,
                _ => return,
            };
            tauri::async_runtime::spawn(async move { quit(&app, stop).await });
        });
}

/// An error from a tray action, where no window shows it.
pub fn show_error<R: Runtime>(app: &AppHandle<R>, report: &ErrorReport) {
    if app.try_state::<tauri_plugin_dialog::Dialog<R>>().is_none() {
        return;
    }
    app.dialog()
        .message(format!("{}\n\n{}", report.message, report.hint))
        .title("Builderbar")
        .kind(MessageDialogKind::Error)
        .show(|_| {});
}
