//! Issue 12, nix-darwin on temp dirs: nix.conf is nix-darwin's (a link into /etc/static), its
//! machines file holds the module's line for the stock image, /etc/builderbar/settings.json
//! holds the module's settings. Setup installs the client key the module points at (0600, and
//! its public half) and nothing else; Nix is then wired; the managed settings are read-only;
//! the switch to stage 2 is handed to the configuration (image + publicHostKey).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use builderbar_core::host::Host;
use builderbar_core::image::ImageManifest;
use builderbar_core::keys::InstallKeys;
use builderbar_core::setup::plan::builder_wiring;
use builderbar_core::setup::{BuilderIdentity, SetupTarget};
use common::free_port;

const STOCK_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb";

fn image(dir: &Path, name: &str, host_key: &str) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let m = format!(
        r#"{{"schema":1,"name":"{name}","system":"{}","kernel":"k","initrd":"i","console":"ttyS0",
        "ssh":{{"user":"builder"}},"host_key":{host_key},"keys":{{"channel":"fw_cfg","prefix":"opt/builderbar"}}}}"#,
        Host::LINUX_X86_64.native_linux_system()
    );
    std::fs::write(d.join("builderbar-image.json"), m).unwrap();
    d
}

#[test]
fn under_nix_darwin_setup_installs_the_key_and_the_switch_goes_through_the_configuration() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let nix = root.join("etc/nix");
    let ssh = root.join("etc/ssh/ssh_config.d");
    std::fs::create_dir_all(&nix).unwrap();
    std::fs::create_dir_all(&ssh).unwrap();
    std::os::unix::fs::symlink("/etc/static/nix/nix.conf", nix.join("nix.conf")).unwrap();
    let port = free_port();
    let managed = root.join("etc/builderbar/settings.json");
    std::fs::create_dir_all(managed.parent().unwrap()).unwrap();
    std::fs::write(
        &managed,
        format!(
            r#"{{"managed_by":"nix-darwin","settings":{{"cores":1,"memory_mib":1024,"disk_gib":40,"port":{port},
            "on_demand":false,"idle_minutes":180}},"image":"stock","login_agent":true,"nix_wiring":null}}"#
        ),
    )
    .unwrap();
    let stock = image(root, "stock", &format!(r#"{{"kind":"fixed","public":"{STOCK_KEY}"}}"#));
    let ours = image(root, "ours", r#"{"kind":"runtime"}"#);
    let home = root.join("home");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_builderbar"))
            .args(args)
            .env("BUILDERBAR_HOME", &home)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("BUILDERBAR_MANAGED_SETTINGS", &managed)
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str]| {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(0), "builderbar {args:?}:\n{out}\n{err}");
        (out, err)
    };
    let dirs =
        ["--nix-conf-dir", nix.to_str().unwrap(), "--ssh-config-dir", ssh.to_str().unwrap(), "--elevation", "none"];
    let ok_in = |a: &[&str]| {
        let all: Vec<&str> = a.iter().copied().chain(dirs.iter().copied()).collect();
        ok(&all)
    };

    ok(&["settings", "set", "image", stock.to_str().unwrap()]);
    // The managed values are read-only: laid over the user's, refused when changed.
    let shown: serde_json::Value = serde_json::from_str(&ok(&["settings", "show"]).0).unwrap();
    assert_eq!((shown["port"].as_u64(), shown["cores"].as_u64()), (Some(u64::from(port)), Some(1)));
    let (code, _, err) = run(&["settings", "set", "memory_mib", "2048"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("memory_mib: is managed by nix-darwin"), "{err}");

    // First setup: the snippet, and the key the snippet names, installed; Nix not yet wired.
    let (out, _) = ok_in(&["setup", "--yes", "--no-test-build"]);
    assert!(out.contains("nix.buildMachines"), "{out}");
    assert!(out.contains("darwin-rebuild switch"), "{out}");
    let key = nix.join("builderbar_ed25519");
    let keys = InstallKeys::ensure(&home.join("data/keys")).unwrap();
    assert_eq!(std::fs::read(&key).unwrap(), std::fs::read(keys.client_private()).unwrap());
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(nix.join("builderbar_ed25519.pub").is_file());
    assert!(!nix.join("machines").exists(), "setup wrote nix-darwin's machines file");
    assert!(!ssh.join("builderbar.conf").exists(), "setup wrote nix-darwin's ssh_config");

    // darwin-rebuild switch: the module's machines line (what the snippet declares).
    let target = SetupTarget {
        nix_conf_dir: nix.clone(),
        ssh_config_dir: ssh.clone(),
        system_root: root.into(),
        ..SetupTarget::system()
    };
    let id = BuilderIdentity::new(&ImageManifest::load(&stock).unwrap(), &keys, port, 1).unwrap();
    let line = builder_wiring(&id, &target).unwrap().machine.render();
    std::fs::write(nix.join("machines"), format!("{line}\n")).unwrap();

    // Setup again: nothing to apply, Nix is wired (no "darwin-rebuild" wait), stage 2 offered.
    let (out, _) = ok_in(&["setup", "--yes", "--no-test-build", "--no-harden"]);
    assert!(!out.contains("Setup installs the client key"), "{out}");
    assert!(!out.contains("Nix uses the builder once"), "{out}");
    assert!(out.contains("its SSH host key is public"), "{out}");

    // The stage-2 switch cannot rewrite nix-darwin's machines file: it names the settings.
    let (out, _) = ok_in(&["image", "use", ours.to_str().unwrap(), "--yes"]);
    assert!(out.contains(&format!("services.builderbar.image = \"{}\";", ours.display())), "{out}");
    assert!(out.contains("services.builderbar.nixWiring.publicHostKey = \""), "{out}");
    assert!(out.contains("darwin-rebuild switch"), "{out}");
    let settings: serde_json::Value = serde_json::from_str(&ok(&["settings", "show"]).0).unwrap();
    assert_eq!(settings["image"], stock.display().to_string(), "the image waits for the rebuild");

    // unsetup removes the key and its public half, nothing of nix-darwin's.
    ok_in(&["unsetup", "--yes"]);
    assert!(!key.exists() && !nix.join("builderbar_ed25519.pub").exists());
    assert!(nix.join("machines").exists());
}
