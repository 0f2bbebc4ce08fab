//! The menu-bar icon and its native menu: status line, Start/Stop, windows, Quit.

use builderbar_core::host::{Host, Os};
use builderbar_core::metrics::MetricsSample;
use builderbar_core::vm::{VmState, VmStatus};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use tracing::{info, warn};

use crate::state::AppState;
use crate::tray_model::{TrayIcon, TrayView};
use crate::windows::{self, WindowKind};

pub const TRAY_ID: &str = "builderbar";

/// The menu items that change with the state, and what they show now.
struct TrayMenu<R: Runtime> {
    status: MenuItem<R>,
    toggle: MenuItem<R>,
    shown: std::sync::Mutex<TrayView>,
}

/// Template PNGs (black on transparent): 2x for the macOS menu bar, 1x for Linux panels.
fn icon_bytes(icon: TrayIcon, retina: bool) -> &'static [u8] {
    macro_rules! png {
        ($name:literal) => {
            if retina {
                include_bytes!(concat!("../../icons/tray-", $name, "@2x.png")).as_slice()
            } else {
                include_bytes!(concat!("../../icons/tray-", $name, ".png")).as_slice()
            }
        };
    }
    match icon {
        TrayIcon::Stopped => png!("stopped"),
        TrayIcon::Starting => png!("starting"),
        TrayIcon::Running => png!("running"),
        TrayIcon::Building => png!("building"),
        TrayIcon::Failed => png!("failed"),
    }
}

fn icon_image(icon: TrayIcon) -> tauri::Result<Image<'static>> {
    Image::from_bytes(icon_bytes(icon, Host::detect().os == Os::Macos))
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let view = TrayView::default();
    let status = MenuItem::with_id(app, "status", &view.status_line, false, None::<&str>)?;
    let toggle = MenuItem::with_id(app, "toggle", &view.toggle_label, view.toggle_enabled, None::<&str>)?;
    let item = |id: &str, text: &str| MenuItem::with_id(app, id, text, true, None::<&str>);
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &toggle,
            &PredefinedMenuItem::separator(app)?,
            &item("dashboard", "Dashboard…")?,
            &item("console", "Console…")?,
            &item("settings", "Settings…")?,
            &item("doctor", "Doctor…")?,
            &PredefinedMenuItem::separator(app)?,
            &item("quit", "Quit Builderbar")?,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon_image(view.icon)?)
        .icon_as_template(true)
        .tooltip("Builderbar")
        .menu(&menu)
        // Left click opens the dashboard popover, right click the menu (macOS). Linux tray
        // hosts deliver no clicks to the app: any click shows the menu there.
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu_event)
        .on_tray_icon_event(|tray, event| {
            tauri_plugin_positioner::on_tray_event(tray.app_handle(), &event);
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                toggle_dashboard(tray.app_handle());
            }
        })
        .build(app)?;
    app.manage(TrayMenu { status, toggle, shown: std::sync::Mutex::new(view) });
    Ok(())
}

fn toggle_dashboard<R: Runtime>(app: &AppHandle<R>) {
    match app.get_webview_window(WindowKind::Dashboard.label()) {
        Some(w) if w.is_focused().unwrap_or(false) => {
            let _ = w.close();
        }
        _ => {
            if let Err(e) = windows::open_popover(app) {
                warn!("cannot open the dashboard: {e}");
            }
        }
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    info!(item = id, "tray menu");
    match id {
        "toggle" => toggle_builder(app.clone()),
        "quit" => crate::quit::ask_and_quit(app),
        other => {
            if let Ok(kind) = other.parse::<WindowKind>() {
                if let Err(e) = windows::open(app, kind) {
                    warn!("cannot open the {kind} window: {e}");
                }
            }
        }
    }
}

/// Start when stopped or failed, stop when running; a failure shows its message and hint.
fn toggle_builder<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let current = state.supervisor.status().state;
        let result = match current {
            VmState::Running => crate::commands::vm::stop(&state).await,
            VmState::Stopped | VmState::Failed { .. } => crate::commands::vm::start(&state).await,
            VmState::Starting | VmState::Stopping => return,
        };
        if let Err(report) = result {
            warn!(message = %report.message, hint = %report.hint, "tray toggle failed");
            crate::quit::show_error(&app, &report);
        }
    });
}

/// Renders a new state into the icon and menu.
pub fn show_status<R: Runtime>(app: &AppHandle<R>, status: &VmStatus) {
    let view = app.state::<AppState>().tray.lock().expect("tray model").set_status(status);
    if let Some(v) = view {
        info!(state = %v.state, line = %v.status_line, toggle = %v.toggle_label, enabled = v.toggle_enabled, "tray");
        apply(app, &v);
    }
}

/// Renders a new CPU/memory sample into the status line (at most once a second).
pub fn show_sample<R: Runtime>(app: &AppHandle<R>, sample: MetricsSample) {
    let view = app.state::<AppState>().tray.lock().expect("tray model").set_sample(sample);
    if let Some(v) = view {
        apply(app, &v);
    }
}

/// Changes only what differs from what is shown: a new CPU figure touches the status line
/// alone (the icon is re-encoded by the tray host on every set, so it is set on state changes).
fn apply<R: Runtime>(app: &AppHandle<R>, view: &TrayView) {
    tracing::debug!(state = %view.state, line = %view.status_line, "tray");
    let Some(menu) = app.try_state::<TrayMenu<R>>() else { return };
    let old = std::mem::replace(&mut *menu.shown.lock().expect("tray shown"), view.clone());
    if old.status_line != view.status_line {
        let _ = menu.status.set_text(&view.status_line);
    }
    if old.toggle_label != view.toggle_label {
        let _ = menu.toggle.set_text(&view.toggle_label);
    }
    if old.toggle_enabled != view.toggle_enabled {
        let _ = menu.toggle.set_enabled(view.toggle_enabled);
    }
    if old.icon != view.icon || old.state != view.state {
        if let Some(tray) = app.tray_by_id(TRAY_ID) {
            if let Ok(img) = icon_image(view.icon) {
                let _ = tray.set_icon(Some(img));
                let _ = tray.set_icon_as_template(true);
            }
            let _ = tray.set_tooltip(Some(format!("Builderbar — {}", view.state)));
        }
    }
}
