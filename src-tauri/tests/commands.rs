//! The commands under tauri's mock runtime: argument validation and error mapping, through
//! the same IPC path the webview uses.

use std::path::Path;

use builderbar_app::commands;
use builderbar_app::state::AppState;
use builderbar_core::host::Host;
use builderbar_core::paths::{AppPaths, PathEnv};
use builderbar_core::settings::Settings;
use builderbar_core::vm::VmContext;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

struct Fixture {
    _dir: tempfile::TempDir,
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::LINUX_X86_64;
    let env = PathEnv {
        home: dir.path().into(),
        builderbar_home: Some(dir.path().join("bb")),
        xdg_cache_home: Some(dir.path().join("cache")),
        xdg_runtime_dir: Some(dir.path().join("run")),
        ..Default::default()
    };
    let ctx = VmContext::new(host, AppPaths::for_host(host, &env));
    let app = mock_builder()
        .manage(AppState::new(ctx))
        .invoke_handler(commands::handler())
        .build(mock_context(noop_assets()))
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "dashboard", Default::default()).build().unwrap();
    Fixture { _dir: dir, app, window }
}

fn invoke(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let req = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: w.url().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(w, req).map(|body| match body {
        InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap(),
        InvokeResponseBody::Raw(b) => Value::from(b),
    })
}

fn paths(f: &Fixture) -> AppPaths {
    f.app.state::<AppState>().paths().clone()
}

#[test]
fn open_window_rejects_an_unknown_kind_with_the_list_of_windows() {
    let f = fixture();
    let err = invoke(&f.window, "open_window", json!({"kind": "terminal"})).unwrap_err();
    assert_eq!(err["message"], "unknown window \"terminal\"");
    assert!(err["hint"].as_str().unwrap().contains("dashboard, console, settings, doctor, setup"));
    assert_eq!(err["fields"], json!([]));
}

#[test]
fn open_window_without_its_argument_is_refused() {
    let f = fixture();
    let err = invoke(&f.window, "open_window", json!({})).unwrap_err();
    assert!(err.as_str().unwrap_or_default().contains("missing required key kind"), "{err}");
}

#[test]
fn open_window_creates_the_window_once_by_label() {
    let f = fixture();
    invoke(&f.window, "open_window", json!({"kind": "settings"})).unwrap();
    invoke(&f.window, "open_window", json!({"kind": "settings"})).unwrap();
    let labels: Vec<String> = f.app.webview_windows().keys().cloned().collect();
    assert_eq!(labels.iter().filter(|l| *l == "settings").count(), 1, "{labels:?}");
}

#[test]
fn starting_without_an_image_says_what_to_do() {
    let f = fixture();
    let err = invoke(&f.window, "vm_start", json!({})).unwrap_err();
    assert_eq!(err["message"], "no builder image is configured");
    let hint = err["hint"].as_str().unwrap();
    assert!(hint.contains("tests/guest/build.sh") && hint.contains("Settings"), "{hint}");
}

#[test]
fn starting_from_a_directory_without_a_manifest_names_the_problem() {
    let f = fixture();
    let p = paths(&f);
    let image = p.data_dir.join("not-an-image");
    std::fs::create_dir_all(&image).unwrap();
    let s =
        Settings { image: Some(image), accelerator: builderbar_core::settings::Accelerator::Tcg, ..Default::default() };
    std::fs::create_dir_all(&p.data_dir).unwrap();
    std::fs::write(p.settings_file(), serde_json::to_string(&s).unwrap()).unwrap();
    let err = invoke(&f.window, "vm_start", json!({})).unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("builderbar-image.json"), "{err}");
    assert!(!err["hint"].as_str().unwrap().is_empty());
    // The failure is the state everyone sees now.
    let status = invoke(&f.window, "vm_status", json!({})).unwrap();
    assert_eq!(status["state"], "failed", "{status}");
}

#[test]
fn status_of_a_fresh_install_is_stopped() {
    let f = fixture();
    let status = invoke(&f.window, "vm_status", json!({})).unwrap();
    assert_eq!(status["state"], "stopped");
    assert_eq!(status["pid"], Value::Null);
}

#[test]
fn a_broken_settings_file_is_an_error_with_a_hint() {
    let f = fixture();
    let p = paths(&f);
    std::fs::create_dir_all(&p.data_dir).unwrap();
    std::fs::write(p.settings_file(), "{\"cores\": \"many\"}").unwrap();
    let err = invoke(&f.window, "settings_get", json!({})).unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("cannot read settings file"), "{err}");
    assert!(err["hint"].as_str().unwrap().contains("Fix or delete"), "{err}");
}

#[test]
fn settings_validate_returns_field_errors_without_saving() {
    let f = fixture();
    let mut s = serde_json::to_value(Settings::default()).unwrap();
    s["cores"] = json!(0);
    s["port"] = json!(80);
    let fields = invoke(&f.window, "settings_validate", json!({"settings": s})).unwrap();
    let names: Vec<&str> = fields.as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["cores", "port"]);
    assert!(!paths(&f).settings_file().exists());
}

#[test]
fn settings_with_a_mistyped_value_are_refused_at_the_boundary() {
    let f = fixture();
    let mut s = serde_json::to_value(Settings::default()).unwrap();
    s["accelerator"] = json!("warp");
    let err = invoke(&f.window, "settings_validate", json!({"settings": s})).unwrap_err();
    assert!(err.as_str().unwrap().contains("unknown variant `warp`"), "{err}");
}

#[test]
fn settings_save_rejects_invalid_values_with_fields_and_saves_nothing() {
    let f = fixture();
    let mut s = serde_json::to_value(Settings::default()).unwrap();
    s["memory_mib"] = json!(16);
    let err = invoke(&f.window, "settings_save", json!({"settings": s})).unwrap_err();
    assert!(err["message"].as_str().unwrap().starts_with("invalid settings"));
    assert_eq!(err["hint"], "Change the named values; nothing was saved.");
    assert_eq!(err["fields"][0]["field"], "memory_mib");
    assert!(!paths(&f).settings_file().exists());
}

#[test]
fn settings_save_writes_valid_settings_and_says_no_restart_while_stopped() {
    let f = fixture();
    let mut s = Settings { cores: 1, memory_mib: 512, ..Settings::default() };
    // A port that is free here.
    s.port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = invoke(&f.window, "settings_save", json!({"settings": s})).unwrap();
    assert_eq!(out, json!({"restart_needed": false}));
    assert_eq!(invoke(&f.window, "settings_get", json!({})).unwrap()["memory_mib"], 512);
}

#[test]
fn console_input_is_refused_while_the_builder_is_stopped_and_when_too_long() {
    let f = fixture();
    let err = invoke(&f.window, "console_input", json!({"data": "ls\n"})).unwrap_err();
    assert!(err["message"].as_str().unwrap().starts_with("cannot type into the builder's console"), "{err}");
    assert!(err["hint"].as_str().unwrap().contains("Start the builder"), "{err}");
    let long = "x".repeat(commands::console::MAX_INPUT + 1);
    let err = invoke(&f.window, "console_input", json!({"data": long})).unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("too long"), "{err}");
    assert_eq!(invoke(&f.window, "console_input", json!({"data": ""})).unwrap(), Value::Null);
}

#[test]
fn console_detach_without_attach_is_fine() {
    let f = fixture();
    assert_eq!(invoke(&f.window, "console_detach", json!({})).unwrap(), Value::Null);
}

#[test]
fn metrics_unwatch_without_watch_is_fine_and_nothing_samples() {
    let f = fixture();
    invoke(&f.window, "metrics_unwatch", json!({})).unwrap();
    assert!(!f.app.state::<AppState>().metrics.is_sampling());
}

#[test]
fn doctor_and_setup_report_errors_as_error_reports() {
    let f = fixture();
    for cmd in ["doctor_run", "builder_info", "setup_steps", "setup_plan", "setup_apply", "setup_test_build"] {
        match invoke(&f.window, cmd, json!({})) {
            Ok(_) => {}
            Err(err) => {
                assert!(err["message"].is_string() && err["hint"].is_string(), "{cmd}: {err}");
                assert!(err["fields"].is_array(), "{cmd}: {err}");
            }
        }
    }
}

#[test]
fn the_doctor_runs_its_checks_and_builder_info_needs_an_image() {
    let f = fixture();
    let report = invoke(&f.window, "doctor_run", json!({})).unwrap();
    let ids: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"nix-installed"), "{ids:?}");
    let err = invoke(&f.window, "builder_info", json!({})).unwrap_err();
    assert_eq!(err["message"], "no builder image is configured");
}

#[test]
fn the_tray_state_starts_stopped() {
    let f = fixture();
    let v = invoke(&f.window, "app_tray_state", json!({})).unwrap();
    assert_eq!(v["state"], "stopped");
    assert_eq!(v["toggle_label"], "Start Builder");
    assert_eq!(v["toggle_enabled"], true);
}

#[test]
fn reveal_logs_without_a_file_manager_says_where_the_logs_are() {
    let f = fixture();
    let err = invoke(&f.window, "reveal_logs", json!({})).unwrap_err();
    let logs = paths(&f).log_dir;
    assert!(err["hint"].as_str().unwrap().contains(&logs.display().to_string()), "{err}");
    assert!(logs.is_dir());
}

#[test]
fn the_open_argument_names_a_window() {
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(builderbar_app::open_arg(&args(&["app"])).unwrap(), None);
    assert_eq!(
        builderbar_app::open_arg(&args(&["app", "--open", "console"])).unwrap(),
        Some(builderbar_app::windows::WindowKind::Console)
    );
    assert!(builderbar_app::open_arg(&args(&["app", "--open", "x"])).is_err());
    assert!(builderbar_app::open_arg(&args(&["app", "--open"])).is_err());
}

#[test]
fn every_command_is_declared_for_the_capabilities() {
    // build.rs declares the permissions from the same list the app uses.
    let build_rs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs")).unwrap();
    assert!(build_rs.contains("include!(\"src/commands/names.rs\")"), "build.rs must declare commands::COMMANDS");
    // Each capability grants only declared commands, and nothing beyond core events.
    let caps = Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
    for entry in std::fs::read_dir(caps).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let cap: Value = serde_json::from_str(&text).unwrap();
        for p in cap["permissions"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            let ok = p.starts_with("core:event:allow-")
                || p.strip_prefix("allow-").is_some_and(|c| commands::COMMANDS.contains(&c.replace('-', "_").as_str()));
            assert!(ok, "{}: unexpected permission {p}", cap["identifier"]);
        }
    }
}
