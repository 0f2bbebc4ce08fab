// The app's command names: build.rs turns them into permissions (`allow-<command>`, so each
// window's capability grants exactly what it uses) and the app checks its handlers against them.
// Included by build.rs and by commands/mod.rs, so the list exists once.
pub const COMMANDS: &[&str] = &[
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
    "app_host",
];
