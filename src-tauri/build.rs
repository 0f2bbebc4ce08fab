// The app's own commands become permissions (`allow-<command>`), so each window's capability
// file grants exactly the commands it uses. Keep this list in step with commands::COMMANDS.
const COMMANDS: &[&str] = &[
    "vm_status",
    "vm_start",
    "vm_stop",
    "vm_restart",
    "console_attach",
    "console_detach",
    "console_input",
    "console_save",
    "metrics_watch",
    "metrics_unwatch",
    "settings_get",
    "settings_validate",
    "settings_save",
    "doctor_run",
    "builder_info",
    "setup_steps",
    "setup_plan",
    "setup_apply",
    "setup_test_build",
    "open_window",
    "reveal_logs",
    "app_quit",
    "app_tray_state",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
