//! The real Nix (Debian's nix-bin 2.8 here) reads the files our wiring writes as we intend.
//! Skipped, with a message, when the nix binaries are absent.

use std::path::Path;
use std::process::Command;

use builderbar_core::nix::wiring::{unwire_machines, unwire_nix_conf};
use builderbar_core::nix::{BuilderWiring, MachinesLine, SshHostBlock};

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
    let out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command", "show-config"])
        .env("NIX_CONF_DIR", conf_dir)
        .env("NIX_USER_CONF_FILES", "/dev/null")
        .env("NIX_REMOTE", "")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nix show-config failed: {stderr}");
    assert!(!stderr.contains("unknown setting"), "nix warned: {stderr}");
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
