//! The IPC commands of docs/IPC.md, one file per domain. Each calls the core and maps its
//! errors to `ErrorReport`; none holds domain logic.

pub mod app;
pub mod console;
pub mod doctor;
pub mod metrics;
pub mod settings;
pub mod setup;
pub mod vm;

use builderbar_core::error::ErrorReport;
use builderbar_core::settings::SettingsError;
use builderbar_core::UserFacing;

/// Every command's error: what happened and what to do.
pub type CmdResult<T> = Result<T, ErrorReport>;

pub fn report<E: UserFacing + ?Sized>(e: &E) -> ErrorReport {
    ErrorReport::from_error(e)
}

/// Settings errors carry their per-field problems to the form.
pub fn settings_report(e: &SettingsError) -> ErrorReport {
    let mut r = ErrorReport::from_error(e);
    if let SettingsError::Invalid(fields) = e {
        r.fields = fields.clone();
    }
    r
}

/// An argument the UI should never send (a bug in the UI, or a window overstepping).
pub fn bad_argument(message: impl Into<String>, hint: impl Into<String>) -> ErrorReport {
    ErrorReport { message: message.into(), hint: hint.into(), fields: Vec::new() }
}

/// The invoke handler with every command, for the app and for the mock-runtime tests.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        vm::vm_status,
        vm::vm_start,
        vm::vm_stop,
        vm::vm_restart,
        console::console_attach,
        console::console_detach,
        console::console_input,
        console::console_save,
        metrics::metrics_watch,
        metrics::metrics_unwatch,
        settings::settings_get,
        settings::settings_validate,
        settings::settings_save,
        doctor::doctor_run,
        doctor::builder_info,
        setup::setup_steps,
        setup::setup_plan,
        setup::setup_apply,
        setup::setup_test_build,
        app::open_window,
        app::reveal_logs,
        app::app_quit,
        app::app_tray_state,
        app::app_host,
    ]
}

include!("names.rs");
