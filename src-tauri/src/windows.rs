//! The app's windows: created on demand by label, destroyed on close (never hidden), so the app
//! at rest is the Rust process alone.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// The popover under the tray icon.
    Dashboard,
    Console,
    Settings,
    Doctor,
    Setup,
}

impl WindowKind {
    pub const ALL: [WindowKind; 5] =
        [WindowKind::Dashboard, WindowKind::Console, WindowKind::Settings, WindowKind::Doctor, WindowKind::Setup];
    pub const HINT: &'static str = "Windows are: dashboard, console, settings, doctor, setup.";

    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Dashboard => "dashboard",
            WindowKind::Console => "console",
            WindowKind::Settings => "settings",
            WindowKind::Doctor => "doctor",
            WindowKind::Setup => "setup",
        }
    }

    fn title(self) -> &'static str {
        match self {
            WindowKind::Dashboard => "Builderbar",
            WindowKind::Console => "Builderbar — Console",
            WindowKind::Settings => "Builderbar — Settings",
            WindowKind::Doctor => "Builderbar — Doctor",
            WindowKind::Setup => "Builderbar — Setup",
        }
    }

    /// Logical inner size.
    fn size(self) -> (f64, f64) {
        match self {
            WindowKind::Dashboard => (420.0, 560.0),
            WindowKind::Console => (900.0, 560.0),
            WindowKind::Settings => (560.0, 640.0),
            WindowKind::Doctor => (640.0, 600.0),
            WindowKind::Setup => (720.0, 640.0),
        }
    }

    /// The UI route: `index.html#/<label>`.
    pub fn url(self) -> String {
        format!("index.html#/{}", self.label())
    }
}

impl std::fmt::Display for WindowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for WindowKind {
    type Err = String;
    fn from_str(s: &str) -> Result<WindowKind, String> {
        WindowKind::ALL.into_iter().find(|k| k.label() == s).ok_or_else(|| format!("unknown window \"{s}\""))
    }
}

/// Shows and focuses the window of `kind`, creating it if needed.
pub fn open<R: Runtime>(app: &AppHandle<R>, kind: WindowKind) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(kind.label()) {
        let _ = w.unminimize();
        w.show()?;
        return w.set_focus();
    }
    let (w, h) = kind.size();
    let mut b = WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(kind.url().into()))
        .title(kind.title())
        .inner_size(w, h)
        .min_inner_size(w.min(360.0), 320.0)
        .visible(true)
        .focused(true);
    if kind == WindowKind::Dashboard {
        // A popover: no taskbar entry; placed under the tray icon below.
        b = b.skip_taskbar(true).resizable(false);
    }
    let win = b.build()?;
    if kind == WindowKind::Dashboard {
        place_popover(&win);
    }
    Ok(())
}

/// The dashboard as a popover from a click on the tray icon: like a menu, it closes (and is
/// destroyed) when it loses focus. Opened any other way it stays until closed.
pub fn open_popover<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let existed = app.get_webview_window(WindowKind::Dashboard.label()).is_some();
    open(app, WindowKind::Dashboard)?;
    if let (false, Some(w)) = (existed, app.get_webview_window(WindowKind::Dashboard.label())) {
        let handle = w.clone();
        w.on_window_event(move |e| {
            if let tauri::WindowEvent::Focused(false) = e {
                let _ = handle.close();
            }
        });
    }
    Ok(())
}

/// Managed when the positioner plugin is registered (not in the mock-runtime tests).
pub struct Positioner;

/// Under the tray icon when its position is known (macOS, Windows); centered otherwise
/// (Linux tray hosts report no icon position).
fn place_popover<R: Runtime>(win: &tauri::WebviewWindow<R>) {
    use tauri_plugin_positioner::{Position, WindowExt};
    if win.app_handle().try_state::<Positioner>().is_none() {
        return;
    }
    let window = win.as_ref().window();
    if window.move_window_constrained(Position::TrayCenter).is_err() {
        let _ = win.center();
    }
}
