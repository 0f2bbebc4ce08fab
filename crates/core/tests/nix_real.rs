//! The real Nix (Debian's nix-bin 2.8 here) reads the files our wiring writes as we intend.
//! Skipped, with a message, when the nix binaries are absent.

use std::path::Path;
use std::process::Command;

use builderbar_core::nix::changes::read_optional;
use builderbar_core::nix::wiring::{unwire_machines, unwire_nix_conf};
use builderbar_core::nix::{
    detect_config_owner, BuilderWiring, ConfPaths, ConfigOwner, DetectOptions, MachinesLine, NixChanges, SshHostBlock,
};

const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd1xnRcx7hmBgnpxyLBlWvFnGKNDTJRkHUO0Wd79Pas builderbar-host";

fn have(bin: &str) -> bool {
    Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn wiring(machines_file: &Path) -> BuilderWiring {
    let key = "/etc/nix/builderbar_ed25519";
    let machine = MachinesLine::ssh_ng(
        "builder",
        "builderbar-linux",
        vec!["x86_64-linux".into()],
        key,
        2,
        1,
        vec!["big-parallel".into()],
        HOST_KEY,
    )
    .unwrap();
    let ssh = SshHostBlock::new("builderbar-linux", 31022, "builder", key).unwrap();
    BuilderWiring::new(machine, ssh, machines_file.to_str().unwrap(), Some("ada")).unwrap()
}

/// A user's nix.conf with the things we must keep: comments, CRLF, an optional include, a false
/// `builders-use-substitutes`, an `extra-` setting, unicode, no final newline.
const USER_CONF: &[u8] = "# my nix.conf ☃\r\nbuild-users-group =\r\nsandbox = false\r\n\
    builders-use-substitutes = false\r\ntrusted-users = root\r\nextra-substituters = https://example.org\r\n\
    !include does-not-exist.conf\r\nbuilders = ssh://mine x86_64-linux\r\nmax-jobs = 0"
    .as_bytes();

fn show_config(conf_dir: &Path) -> String {
    show_config_allowing(conf_dir, &[])
}

/// `nix show-config`; any "unknown setting" warning fails unless it names one of `allowed`.
fn show_config_allowing(conf_dir: &Path, allowed: &[&str]) -> String {
    let out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command", "show-config"])
        .env("NIX_CONF_DIR", conf_dir)
        .env("NIX_USER_CONF_FILES", "/dev/null")
        .env("NIX_REMOTE", "")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nix show-config failed: {stderr}");
    for line in stderr.lines().filter(|l| l.contains("unknown setting")) {
        assert!(allowed.iter().any(|a| line.contains(&format!("'{a}'"))), "nix warned: {stderr}");
    }
    String::from_utf8(out.stdout).unwrap()
}

fn setting<'a>(config: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name} = ");
    config.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("{name} not shown"))
}

#[test]
fn nix_show_config_reads_our_nix_conf() {
    if !have("nix") {
        eprintln!("SKIPPED: the `nix` binary is not installed (apt-get install nix-bin)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let machines_path = dir.path().join("machines");
    let w = wiring(&machines_path);
    let wired = w.wire(USER_CONF, b"").unwrap();
    assert_eq!(wired.machines_path, machines_path.to_str().unwrap());
    std::fs::write(dir.path().join("nix.conf"), &wired.nix_conf).unwrap();
    std::fs::write(&machines_path, &wired.machines).unwrap();

    let config = show_config(dir.path());
    assert_eq!(setting(&config, "builders"), format!("ssh://mine x86_64-linux ; @{}", machines_path.display()));
    assert_eq!(setting(&config, "builders-use-substitutes"), "true");
    assert_eq!(setting(&config, "trusted-users"), "root ada");
    assert_eq!(setting(&config, "max-jobs"), "0");
    assert!(setting(&config, "substituters").ends_with("https://example.org"));

    // And unwiring gives back what Nix read before.
    std::fs::write(dir.path().join("nix.conf"), unwire_nix_conf(&wired.nix_conf).unwrap()).unwrap();
    let config = show_config(dir.path());
    assert_eq!(setting(&config, "builders"), "ssh://mine x86_64-linux");
    assert_eq!(setting(&config, "builders-use-substitutes"), "false");
    assert_eq!(unwire_machines(&wired.machines).unwrap(), b"");
}

/// Nix parses our machines line (URI, systems, key, features, base64 host key): a build is sent
/// to our alias, which fails only because ssh cannot resolve it (ssh runs with `-F /dev/null`).
#[test]
fn nix_build_dispatches_to_our_machines_line() {
    if !have("nix-build") || !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: needs the `nix-build` binary and root (a single-user store in a temp dir)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let machines_path = d.join("machines");
    let w = wiring(&machines_path);
    let user_conf = b"build-users-group =\nsandbox = false\nsubstituters =\nconnect-timeout = 2\n";
    let wired = w.wire(user_conf, b"").unwrap();
    std::fs::write(d.join("nix.conf"), &wired.nix_conf).unwrap();
    std::fs::write(&machines_path, &wired.machines).unwrap();
    let expr = "derivation { name = \"bb-probe\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; \
                args = [\"-c\" \"echo hi > $out\"]; }";
    let out = Command::new("nix-build")
        .args(["--max-jobs", "0", "--no-out-link", "-E", expr])
        .env("NIX_CONF_DIR", d)
        .env("NIX_USER_CONF_FILES", "/dev/null")
        .env("NIX_REMOTE", "")
        .env("NIX_STORE_DIR", d.join("store"))
        .env("NIX_STATE_DIR", d.join("state"))
        .env("NIX_LOG_DIR", d.join("log"))
        .env("NIX_SSHOPTS", "-F /dev/null")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build cannot succeed without a builder: {stderr}");
    assert!(
        stderr.contains("cannot build on 'ssh-ng://builder@builderbar-linux'"),
        "nix did not pick our machines line: {stderr}"
    );
}

fn apply(c: &NixChanges) {
    for f in &c.files {
        match &f.after {
            Some(b) => std::fs::write(&f.path, b).unwrap(),
            None => std::fs::remove_file(&f.path).unwrap(),
        }
    }
}

/// The whole pipeline on a Determinate-style tree: detect -> NixChanges::wire -> write -> the real
/// nix follows `!include nix.custom.conf` and sees our settings; unwire -> the files are back.
#[test]
fn determinate_tree_end_to_end_with_real_nix() {
    if !have("nix") {
        eprintln!("SKIPPED: the `nix` binary is not installed (apt-get install nix-bin)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf_dir = dir.path().join("etc/nix");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nix/determinate");
    for f in ["nix.conf", "nix.custom.conf"] {
        std::fs::copy(fixtures.join(f), conf_dir.join(f)).unwrap();
    }
    let nix_conf_before = std::fs::read(conf_dir.join("nix.conf")).unwrap();
    let custom_before = std::fs::read(conf_dir.join("nix.custom.conf")).unwrap();
    let owner = detect_config_owner(&DetectOptions::in_dir(&conf_dir)).unwrap();
    assert!(matches!(owner, ConfigOwner::Determinate { .. }), "{owner:?}");
    let paths = ConfPaths { conf_dir: conf_dir.clone(), ssh_config: dir.path().join("builderbar.conf") };
    let w = wiring(&conf_dir.join("machines"));
    let changes = NixChanges::wire(&w, &owner, &paths, &mut read_optional).unwrap();
    assert!(changes.restart_daemon);
    apply(&changes);
    assert_eq!(std::fs::read(conf_dir.join("nix.conf")).unwrap(), nix_conf_before);

    // The fixture carries settings newer than nix 2.8; those may warn, ours must not.
    let newer = ["bash-prompt-prefix", "upgrade-nix-store-path-url"];
    let config = show_config_allowing(&conf_dir, &newer);
    assert_eq!(setting(&config, "builders"), format!("@{}", conf_dir.join("machines").display()));
    assert_eq!(setting(&config, "builders-use-substitutes"), "true");
    assert_eq!(setting(&config, "trusted-users"), "root ada");

    apply(&NixChanges::unwire(&owner, &paths, &w.machines_file, &mut read_optional).unwrap());
    assert_eq!(std::fs::read(conf_dir.join("nix.custom.conf")).unwrap(), custom_before);
    assert!(!conf_dir.join("machines").exists());
    assert!(!paths.ssh_config.exists());
}
