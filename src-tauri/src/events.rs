//! State changes to the windows (`vm://status`), the tray and notifications, as they happen.

use std::sync::Arc;

use builderbar_core::vm::{VmState, VmStatus};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::AppState;

pub const VM_STATUS: &str = "vm://status";
pub const SETUP_STEP: &str = "setup://step";

/// Follows the supervisor's state (changed by this app, or by the CLI through the VM
/// directory) and fans it out. Never polls: it waits on the watch channel.
pub fn spawn_status_loop<R: Runtime>(app: AppHandle<R>) {
    let mut rx = app.state::<AppState>().supervisor.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut prev: Option<VmStatus> = None;
        loop {
            let status = rx.borrow_and_update().clone();
            let _ = app.emit(VM_STATUS, &status);
            crate::tray::show_status(&app, &status);
            tray_metrics(&app, &status);
            notify(&app, prev.as_ref(), &status);
            prev = Some(status);
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
}

/// The tray's status line shows CPU and memory while running: it watches metrics then only.
fn tray_metrics<R: Runtime>(app: &AppHandle<R>, status: &VmStatus) {
    let state = app.state::<AppState>();
    if status.state == VmState::Running {
        let app = app.clone();
        state.metrics.watch(
            "tray",
            Arc::new(move |s| {
                crate::tray::show_sample(&app, s);
                true
            }),
        );
    } else {
        state.metrics.unwatch("tray");
    }
}

/// Opt-in notifications: the builder failed; the builder is ready after an on-demand start.
fn notify<R: Runtime>(app: &AppHandle<R>, prev: Option<&VmStatus>, now: &VmStatus) {
    let Some(prev) = prev else { return };
    let Ok(settings) = app.state::<AppState>().settings() else { return };
    if !settings.notifications {
        return;
    }
    let (title, body) = match (&prev.state, &now.state) {
        (VmState::Failed { .. }, VmState::Failed { .. }) => return,
        (_, VmState::Failed { reason, hint, .. }) => ("Builder failed".to_string(), format!("{reason}\n{hint}")),
        (VmState::Starting, VmState::Running) if settings.on_demand => {
            ("Builder ready".to_string(), "The Linux builder is running and accepts builds.".to_string())
        }
        _ => return,
    };
    use tauri_plugin_notification::NotificationExt;
    if app.try_state::<tauri_plugin_notification::Notification<R>>().is_some() {
        let _ = app.notification().builder().title(title).body(body).show();
    }
}
