//! Issue 3 end to end: setup wires a running test guest into the host's real Nix (in temp
//! conf dirs), a real `nix-build --max-jobs 0` runs in the guest, unsetup restores the bytes.

mod common;

use common::{serial, Install};

const USER_CONF: &str =
    "# my own settings, kept byte for byte\r\nmax-jobs = 4\r\n\r\n!include extra.conf\r\nkeep-outputs = true";

#[test]
fn setup_builds_in_the_guest_and_unsetup_restores_the_files() {
    let _g = serial();
    let i = Install::new();
    let etc = tempfile::tempdir().unwrap();
    let nix = etc.path().join("nix");
    let ssh = etc.path().join("ssh/ssh_config.d");
    std::fs::create_dir_all(&nix).unwrap();
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(nix.join("nix.conf"), USER_CONF).unwrap();
    let dirs =
        ["--nix-conf-dir", nix.to_str().unwrap(), "--ssh-config-dir", ssh.to_str().unwrap(), "--elevation", "none"];

    let dry = i.ok(&[&["setup", "--dry-run"][..], &dirs].concat());
    assert!(dry.contains("+builders = @"), "{dry}");
    assert_eq!(std::fs::read_to_string(nix.join("nix.conf")).unwrap(), USER_CONF, "--dry-run changed a file");

    // setup starts the builder if needed and proves the wiring with a test build.
    let out = i.ok(&[&["setup", "--yes"][..], &dirs].concat());
    assert!(out.contains("Test build ran on the builder:") && out.contains("builderbar-guest"), "{out}");
    let doctor = i.run(&[&["doctor", "--json"][..], &dirs].concat());
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    for c in report["checks"].as_array().unwrap() {
        assert_ne!(c["status"], "fail", "doctor after setup: {c}");
    }

    // Our own nix-build, as a user would run it: the output lands in the host store and shows the guest.
    let expr = r#"derivation { name = "bb-e2e"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = builtins.toString builtins.currentTime;
      args = [ "-c" "read r < /proc/sys/kernel/osrelease; read h < /proc/sys/kernel/hostname; echo $r $h > $out" ]; }"#;
    let built = std::process::Command::new("nix-build")
        .args(["--no-out-link", "--max-jobs", "0", "-E", expr])
        .env("NIX_CONF_DIR", &nix)
        .env("NIX_USER_CONF_FILES", "/dev/null")
        .env("NIX_REMOTE", "")
        .env("NIX_SSHOPTS", format!("-F {}", ssh.join("builderbar.conf").display()))
        .output()
        .unwrap();
    assert!(built.status.success(), "nix-build failed: {}", String::from_utf8_lossy(&built.stderr));
    let path = String::from_utf8(built.stdout).unwrap().trim().to_string();
    assert!(path.starts_with("/nix/store/"), "{path}");
    let content = std::fs::read_to_string(&path).unwrap();
    let host_release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(content.contains("builderbar-guest"), "built on the host? {content}");
    assert!(!content.starts_with(host_release.trim()) || host_release.contains("6.1.0"), "{content}");

    // Key rotation: new keys, the running builder restarted with its new host key, and the
    // wiring re-applied in one Plan, so Nix pins the new key and builds still work.
    let old_key = std::fs::read_to_string(nix.join("machines")).unwrap();
    let pid_before = i.qemu_pids();
    i.ok(&[&["keys", "rotate", "--yes"][..], &dirs].concat());
    let new_key = std::fs::read_to_string(nix.join("machines")).unwrap();
    assert_ne!(old_key, new_key, "the machines line still pins the old host key");
    assert_eq!(i.status()["state"], "running");
    assert_ne!(i.qemu_pids(), pid_before, "the builder was not restarted with its new key");
    let doctor = i.run(&[&["doctor", "--json"][..], &dirs].concat());
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    for c in report["checks"].as_array().unwrap() {
        assert_ne!(c["status"], "fail", "doctor after rotation: {c}");
    }

    // Setup twice changes nothing; unsetup gives back the original bytes and removes our files.
    let again = i.ok(&[&["setup", "--yes", "--no-test-build"][..], &dirs].concat());
    assert!(again.contains("Nothing to change"), "{again}");
    i.ok(&[&["unsetup", "--yes"][..], &dirs].concat());
    assert_eq!(std::fs::read(nix.join("nix.conf")).unwrap(), USER_CONF.as_bytes());
    assert!(!nix.join("machines").exists());
    assert!(!nix.join("builderbar_ed25519").exists());
    assert!(!ssh.join("builderbar.conf").exists());
    i.ok(&["stop"]);
}

/// Real nix.conf files point `builders = @FILE` at files (and directories) that do not exist:
/// Nix ignores them. Setup creates them, shows that in the diff, and unsetup removes exactly
/// what setup created, leaving the user's nix.conf byte for byte.
#[test]
fn setup_creates_a_missing_machines_file_and_directory_and_unsetup_removes_them() {
    let i = Install::new();
    let etc = tempfile::tempdir().unwrap();
    let nix = etc.path().join("nix");
    let ssh = etc.path().join("ssh/ssh_config.d");
    std::fs::create_dir_all(&nix).unwrap();
    std::fs::create_dir_all(&ssh).unwrap();
    let machines = nix.join("builders.d/remote/machines");
    let conf = format!("builders = @{}\n", machines.display());
    std::fs::write(nix.join("nix.conf"), &conf).unwrap();
    let dirs =
        ["--nix-conf-dir", nix.to_str().unwrap(), "--ssh-config-dir", ssh.to_str().unwrap(), "--elevation", "none"];

    let dry = i.ok(&[&["setup", "--dry-run"][..], &dirs].concat());
    assert!(dry.contains(&format!("diff {}\nnew directory", nix.join("builders.d").display())), "{dry}");
    assert!(dry.contains(&format!("diff {}\nnew file", machines.display())), "{dry}");

    i.ok(&[&["setup", "--yes", "--no-test-build"][..], &dirs].concat());
    assert!(std::fs::read_to_string(&machines).unwrap().contains("ssh-ng://"));
    let wired = std::fs::read_to_string(nix.join("nix.conf")).unwrap();
    assert!(
        wired.starts_with(&conf) && wired.matches("builders =").count() == 1,
        "our line went into the @FILE: {wired}"
    );

    i.ok(&[&["unsetup", "--yes"][..], &dirs].concat());
    assert_eq!(std::fs::read_to_string(nix.join("nix.conf")).unwrap(), conf);
    assert!(!nix.join("builders.d").exists(), "unsetup left the directories setup created");
    // What is left is the user's nix.conf and its backups (kept by every change to a user's file).
    for e in std::fs::read_dir(&nix).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(name == "nix.conf" || name.starts_with("nix.conf.builderbar-backup-"), "left behind: {name}");
    }
}
