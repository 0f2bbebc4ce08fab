//! The IPC commands of docs/IPC.md, one file per domain. Each calls the core's API layer
//! (`builderbar_core::api`), whose errors become `ErrorReport`s by `?`; none holds domain logic.

pub mod app;
pub mod console;
pub mod doctor;
pub mod metrics;
pub mod result;
pub mod settings;
pub mod setup;
pub mod vm;

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
        setup::image_fetch,
        setup::image_harden,
        setup::image_cancel,
        setup::image_status,
        app::open_window,
        app::reveal_logs,
        app::app_quit,
        app::app_tray_state,
        app::app_host,
    ]
}

include!("names.rs");
