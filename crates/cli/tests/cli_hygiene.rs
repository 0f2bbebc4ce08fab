//! Issue 10's small cases, through the real binary and without a guest: settings a start
//! refuses, settings errors that name their field, `settings set` beside a busy port, relative
//! paths, `watch --until`, errors printed once and plainly, and a console log that cannot
//! drive the terminal.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Install;

fn write_settings(i: &Install, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = i.home.path().join("data/settings.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, v.to_string()).unwrap();
}

#[test]
fn hand_edited_settings_a_start_cannot_use_are_refused_naming_them() {
    let i = Install::new();
    for (key, value) in [("cores", 0), ("port", 0)] {
        let good = std::fs::read(i.home.path().join("data/settings.json")).unwrap();
        write_settings(&i, |v| v[key] = value.into());
        let out = i.run(&["start"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key} {value} started: {err}");
        assert!(err.contains(&format!("{key}:")) && err.contains("settings.json"), "{err}");
        assert!(err.contains("builderbar settings set"), "{err}");
        assert!(i.qemu_pids().is_empty(), "qemu ran with {key} {value}");
        std::fs::write(i.home.path().join("data/settings.json"), good).unwrap();
    }
}

#[test]
fn a_mistyped_setting_is_named() {
    let i = Install::new();
    write_settings(&i, |v| v["cores"] = "two".into());
    let out = i.run(&["settings"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cores"), "the field is not named: {err}");
}

#[test]
fn settings_set_of_another_key_ignores_a_busy_port_and_relative_paths_become_absolute() {
    let i = Install::new();
    let _busy = std::net::TcpListener::bind(("127.0.0.1", i.port)).unwrap();
    i.ok(&["settings", "set", "stop_timeout_secs", "20"]);
    // Changing the port itself to a busy one is still refused.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = other.local_addr().unwrap().port().to_string();
    assert!(!i.run(&["settings", "set", "port", &busy]).status.success());

    let cwd = tempfile::tempdir().unwrap();
    let image_rel = std::path::Path::new("img");
    std::os::unix::fs::symlink(&i.image, cwd.path().join(image_rel)).unwrap();
    let out = i.cmd(&["settings", "set", "image", "img"]).current_dir(cwd.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = i.cmd(&["settings", "set", "nix_conf_dir", "etc/nix"]).current_dir(cwd.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_str(&i.ok(&["settings"])).unwrap();
    assert_eq!(shown["image"], cwd.path().join("img").display().to_string());
    assert_eq!(shown["nix_conf_dir"], cwd.path().join("etc/nix").display().to_string());

    // A relative path written by hand is refused, naming the setting.
    write_settings(&i, |v| v["nix_conf_dir"] = "etc/nix".into());
    let out = i.run(&["start"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nix_conf_dir"), "{err}");
}

#[test]
fn watch_until_an_unknown_state_is_a_usage_error() {
    let i = Install::new();
    let mut child =
        i.cmd(&["watch", "--until", "runing"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`watch --until runing` waits forever");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(2));
}

#[test]
fn an_error_is_printed_once_and_without_escapes_when_stderr_is_not_a_terminal() {
    let i = Install::new();
    let out = i.run(&["ssh", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.matches("the builder is not running").count(), 1, "{err}");
    assert!(!err.contains('\x1b'), "ANSI escapes in a pipe: {err:?}");
}

#[test]
fn logs_console_shows_guest_escape_sequences_as_text() {
    let i = Install::new();
    std::fs::create_dir_all(i.vm_dir()).unwrap();
    let hostile = b"boot ok\r\n\x1b]0;owned title\x07\x1b[2J\x1b[31mred\x1b[0m \x9b6n\x08\x08end\r\n";
    std::fs::write(i.vm_dir().join("console.log"), hostile).unwrap();
    let shown = i.ok(&["logs", "--console"]);
    assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{shown:?}");
    assert!(shown.contains("boot ok") && shown.contains("red") && shown.contains("end"), "{shown:?}");
    assert!(shown.contains("^[[31m"), "escapes are shown, not dropped: {shown:?}");
    let raw = i.run(&["logs", "--console", "--raw"]);
    assert!(raw.status.success());
    assert!(raw.stdout.windows(4).any(|w| w == b"\x1b[2J"), "--raw keeps the bytes");
}
