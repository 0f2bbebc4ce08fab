//! The exact Nix commands a Mac runs for stage 1 and stage 2 (issue 12), with
//! `BUILDERBAR_HOST=macos-aarch64` and recording stand-ins for `nix` and `nix-store` first on
//! PATH: the build of the app's own flake copy, then the GC root under ~/Library/Caches.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{free_port, workspace_root};

const STOCK_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb";

fn manifest(name: &str, host_key: &str) -> String {
    format!(
        r#"{{"schema":1,"name":"{name}","system":"aarch64-linux","kernel":"k","initrd":"i","console":"ttyAMA0",
        "ssh":{{"user":"builder"}},"host_key":{host_key},"keys":{{"channel":"fw_cfg","prefix":"opt/builderbar"}}}}"#
    )
}

fn image_dir(store: &Path, base: &str, manifest: &str) -> PathBuf {
    let d = store.join(base);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("builderbar-image.json"), manifest).unwrap();
    d
}

/// One recording stand-in for nix, nix-build and nix-store: each call is a line of its argv
/// (words joined by a unit separator) in `calls`.
fn stand_ins(bin: &Path, calls: &Path, stock: &Path, hardened: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
out="$0"; for a in "$@"; do out="$out$(printf '\037')$a"; done
printf '%s\n' "$out" >> '{calls}'
case "$(basename "$0")" in
  nix-store) ln -s "$2" "$4"; echo "$4" ;;
  nix)
    echo '@nix {{"action":"start","id":1,"level":0,"text":"","type":102}}' >&2
    for a in "$@"; do last="$a"; done
    case "$last" in
      *builder-image-stock) dir='{stock}' ;;
      *) dir='{hardened}' ;;
    esac
    printf '[{{"drvPath":"/nix/store/x.drv","outputs":{{"out":"%s"}}}}]\n' "$dir" ;;
  *) exit 1 ;;
esac
"#,
        calls = calls.display(),
        stock = stock.display(),
        hardened = hardened.display()
    );
    for name in ["nix", "nix-build", "nix-store"] {
        let p = bin.join(name);
        std::fs::write(&p, &script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_mac_builds_stage_one_and_stage_two_from_its_own_flake_copy() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("Users/ada");
    let store = t.path().join("store");
    let stock = image_dir(
        &store,
        "1a2b3c4d5e6f7g8h-builderbar-image-stock-aarch64-linux",
        &manifest("stock", &format!(r#"{{"kind":"fixed","public":"{STOCK_KEY}"}}"#)),
    );
    let hardened = image_dir(
        &store,
        "9z8y7x6w5v-builderbar-image-builderbar-aarch64-linux",
        &manifest("ours", r#"{"kind":"runtime"}"#),
    );
    let bin = t.path().join("bin");
    let calls = t.path().join("calls");
    stand_ins(&bin, &calls, &stock, &hardened);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_builderbar"))
            .args(args)
            .env("BUILDERBAR_HOST", "macos-aarch64")
            .env("HOME", &home)
            .env("BUILDERBAR_HOME", t.path().join("bb"))
            .env("PATH", &path)
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "builderbar {args:?}: {err}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), err)
    };
    run(&["settings", "set", "port", &free_port().to_string()]);

    let caches = home.join("Library/Caches/Builderbar");
    let (out, err) = run(&["image", "fetch"]);
    let stock_link = caches.join("images/stock-1a2b3c4d");
    assert_eq!(out.trim(), stock_link.display().to_string(), "{err}");
    let flake_dirs: Vec<PathBuf> =
        std::fs::read_dir(caches.join("flake")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(flake_dirs.len(), 1, "{flake_dirs:?}");
    let flake = &flake_dirs[0];
    // The copy is the flake this Builderbar was built from, lock included.
    for f in ["flake.nix", "flake.lock", "nix/image-stock.nix", "nix/image-builderbar.nix", "nix/manifest.nix"] {
        assert_eq!(std::fs::read(flake.join(f)).unwrap(), std::fs::read(workspace_root().join(f)).unwrap(), "{f}");
    }
    run(&["image", "fetch", "--stage", "builderbar"]);

    let b = |n: &str| bin.join(n).display().to_string();
    let recorded: Vec<Vec<String>> = std::fs::read_to_string(&calls)
        .unwrap()
        .lines()
        .map(|l| l.split('\u{1f}').map(String::from).collect())
        .collect();
    let installable = |pkg: &str| format!("path:{}#packages.aarch64-darwin.{pkg}", flake.display());
    let nix_build = |pkg: &str| {
        vec![
            b("nix"),
            "--extra-experimental-features".into(),
            "nix-command flakes".into(),
            "build".into(),
            "--json".into(),
            "--no-link".into(),
            "--log-format".into(),
            "internal-json".into(),
            installable(pkg),
        ]
    };
    let add_root = |dir: &Path, link: &Path| {
        vec![
            b("nix-store"),
            "--realise".into(),
            dir.display().to_string(),
            "--add-root".into(),
            link.display().to_string(),
        ]
    };
    assert_eq!(
        recorded,
        vec![
            nix_build("builder-image-stock"),
            add_root(&stock, &stock_link),
            nix_build("builder-image"),
            add_root(&hardened, &caches.join("images/builderbar-9z8y7x6w")),
        ]
    );
    // Stage 1 became the image setting; stage 2 waits for the switch (`image harden`/`use`).
    let settings: serde_json::Value = serde_json::from_str(&run(&["settings", "show"]).0).unwrap();
    assert_eq!(settings["image"], stock_link.display().to_string());
    let status: serde_json::Value = serde_json::from_str(&run(&["image", "status", "--json"]).0).unwrap();
    assert_eq!(status["stage"], "stock");
    assert!(status["source"].as_str().unwrap().starts_with(&format!("path:{}", caches.join("flake").display())));
}
