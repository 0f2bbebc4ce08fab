//! Builderbar's menu-bar app: a thin Tauri shell over builderbar-core. This file wires plugins,
//! state, the tray and the event loops; the commands live in `commands/`.

mod autostart;
pub mod commands;
pub mod console_input;
pub mod console_streams;
mod dirwatch;
pub mod events;
pub mod metrics_hub;
mod quit;
pub mod state;
mod tray;
pub mod tray_model;
pub mod windows;

use tauri::{Manager, RunEvent, WindowEvent};
use tracing::{info, warn};

use crate::state::AppState;
use crate::windows::WindowKind;

/// `--open <window>` (or `BUILDERBAR_OPEN=<window>`) opens a window at launch (the e2e test
/// and `BUILDERBAR_OPEN=dashboard npm run app` use it).
pub fn open_arg(args: &[String]) -> Result<Option<WindowKind>, String> {
    match args.iter().position(|a| a == "--open") {
        None => match std::env::var("BUILDERBAR_OPEN") {
            Ok(k) if !k.is_empty() => k.parse().map(Some),
            _ => Ok(None),
        },
        Some(i) => match args.get(i + 1) {
            Some(k) => k.parse().map(Some),
            None => Err("--open needs a window name".into()),
        },
    }
}

fn init_logging(log_dir: &std::path::Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("BUILDERBAR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (file, guard) = match std::fs::create_dir_all(log_dir) {
        Ok(()) => {
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("builderbar-app")
                .filename_suffix("log")
                .max_log_files(7)
                .build(log_dir)
                .ok();
            match appender {
                Some(a) => {
                    let (nb, guard) = tracing_appender::non_blocking(a);
                    (Some(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(nb)), Some(guard))
                }
                None => (None, None),
            }
        }
        Err(_) => (None, None),
    };
    let _ = tracing_subscriber::registry().with(filter).with(stderr).with(file).try_init();
    guard
}

/// WebKitGTK defaults for a small menu-bar app on Linux, unless the user set them: no GL in
/// the app process (GTK would load Mesa, ~50 MB resident, before any window exists) and no
/// accelerated compositing (~60 MB less per web process; the UI has no animation that needs
/// it). Measured with benches/app-idle.sh. macOS's WKWebView has no such knobs.
fn linux_webkit_defaults(host: builderbar_core::host::Host) {
    if host.os != builderbar_core::host::Os::Linux {
        return;
    }
    for (key, value) in [("GDK_GL", "disable"), ("WEBKIT_DISABLE_COMPOSITING_MODE", "1")] {
        if std::env::var_os(key).is_none() {
            // Before any thread exists: run() calls this first.
            std::env::set_var(key, value);
        }
    }
}

pub fn run() {
    linux_webkit_defaults(builderbar_core::host::Host::detect());
    let args: Vec<String> = std::env::args().collect();
    let no_setup = args.iter().any(|a| a == "--no-setup");
    let open_at_start = match open_arg(&args) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("builderbar-app: {e}; {}", WindowKind::HINT);
            std::process::exit(2);
        }
    };
    let state = AppState::detect();
    let _log = init_logging(&state.paths().log_dir);
    info!(data = %state.paths().data_dir.display(), "Builderbar starting");

    let app = tauri::Builder::default()
        // First: a second launch hands over to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| show_dashboard(app, "second launch")))
        .plugin(tauri_plugin_positioner::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .manage(autostart::LoginItems)
        .manage(windows::Positioner)
        .invoke_handler(commands::handler())
        .on_window_event(|window, event| {
            if let WindowEvent::Destroyed = event {
                let state = window.state::<AppState>();
                state.consoles.detach(window.label());
                state.metrics.unwatch(window.label());
            }
        })
        .setup(move |app| {
            // No Dock icon: a menu-bar app. The one API that exists on macOS alone.
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            let handle = app.handle().clone();
            tray::create(&handle)?;
            events::spawn_status_loop(handle.clone());
            let state = handle.state::<AppState>();
            let supervisor = state.supervisor.clone();
            // Reattach to a builder that runs already (started by us before, or by the CLI).
            tauri::async_runtime::spawn(async move {
                let s = supervisor.attach().await;
                info!(state = s.state.name(), "attached");
            });
            if let Some(w) = dirwatch::spawn(state.supervisor.clone(), &state.paths().vm_dir) {
                app.manage(DirWatcher(std::sync::Mutex::new(w)));
            }
            let settings = state.settings().unwrap_or_default();
            autostart::follow(&handle, settings.start_at_login);
            // `--no-setup`: never open the setup window at launch (benchmarks of the app at rest).
            let first_run = !no_setup
                && builderbar_core::api::SetupFlow::new(state.ctx(), &settings, &Default::default())
                    .is_ok_and(|flow| flow.needed());
            for kind in open_at_start.into_iter().chain(first_run.then_some(WindowKind::Setup)) {
                windows::open(&handle, kind)?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("cannot start the app");

    app.run(|app, event| match event {
        // The last window closed: stay in the menu bar. Quit and app.exit() pass a code.
        RunEvent::ExitRequested { api, code: None, .. } if !app.state::<AppState>().is_quitting() => {
            api.prevent_exit();
        }
        // The event exists on macOS alone: opening the running app again (Finder, Spotlight,
        // `open -a Builderbar`) activates it instead of starting a second one.
        #[cfg(target_os = "macos")]
        RunEvent::Reopen { .. } => show_dashboard(app, "reopened"),
        _ => {}
    });
}

/// Opening the app while it runs (a second launch, handed over by single-instance; on macOS
/// a Reopen) shows the dashboard: a menu-bar app has no Dock icon or window to bring back.
fn show_dashboard<R: tauri::Runtime>(app: &tauri::AppHandle<R>, why: &str) {
    info!("{why}: showing the dashboard");
    if let Err(e) = windows::open(app, WindowKind::Dashboard) {
        warn!("cannot open the dashboard: {e}");
    }
}

/// Keeps the VM directory watcher alive for the app's lifetime.
struct DirWatcher(#[allow(dead_code)] std::sync::Mutex<notify::RecommendedWatcher>);
