//! Start at login follows `Settings.start_at_login` (off by default, opt-in).

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::{AutoLaunchManager, ManagerExt};

pub fn follow<R: Runtime>(app: &AppHandle<R>, on: bool) {
    if app.try_state::<AutoLaunchManager>().is_none() {
        return;
    }
    let launcher = app.autolaunch();
    let result = match launcher.is_enabled() {
        Ok(enabled) if enabled == on => Ok(()),
        _ if on => launcher.enable(),
        _ => launcher.disable(),
    };
    if let Err(e) = result {
        tracing::warn!("cannot change start at login: {e}");
    }
}
