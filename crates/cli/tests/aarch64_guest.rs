//! The Mac's situation on this x86_64 machine: the aarch64 test guest boots under TCG with the
//! Mac's qemu command line (accelerator and CPU model aside), the host's Nix sends it the
//! aarch64-linux derivations by system type, builds the x86_64-linux ones itself, and the guest
//! powers off on the virt board's GPIO power key. One boot, to stay within CI's budget.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{aarch64_guest_image, serial, workspace_root, Install};

/// `builderbar argv --json` as a token list: the program, then every argument.
fn argv_tokens(i: &Install, env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = i.cmd(&["argv", "--json"]);
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "argv: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tokens = vec![v["program"].as_str().unwrap().to_string()];
    tokens.extend(v["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()));
    tokens
}

/// The command line of a running process, token by token.
fn cmdline(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    raw.split(|b| *b == 0).filter(|t| !t.is_empty()).map(|t| String::from_utf8_lossy(t).into_owned()).collect()
}

/// Log lines without their colours.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The image build.sh made is the one the argv unit tests hold as a fixture (its name aside,
/// which carries Debian's kernel version).
fn assert_manifest_matches_the_fixture(image: &std::path::Path) {
    let read = |p: std::path::PathBuf| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("name");
        v
    };
    let built = read(image.join("builderbar-image.json"));
    let fixture = read(workspace_root().join("crates/core/src/vm/argv/fixtures/test-guest-aarch64.json"));
    assert_eq!(built, fixture, "tests/guest/build.sh --arch aarch64 changed its manifest: update the fixture");
}

#[test]
fn the_aarch64_guest_runs_the_macs_argv_takes_aarch64_builds_and_powers_off_on_the_gpio_key() {
    let _g = serial();
    let image = aarch64_guest_image();
    assert_manifest_matches_the_fixture(&image);
    let i = Install::with_image(image);
    // Default settings as a Mac user has them: the accelerator is chosen, not forced.
    i.ok(&["settings", "set", "accelerator", "auto"]);
    i.ok(&["settings", "set", "cores", "2"]);

    let t = Instant::now();
    i.ok(&["start", "--wait"]);
    eprintln!("aarch64 guest: start -> ready in {:?}", t.elapsed());
    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    assert_eq!(s["accelerator"], "tcg", "an aarch64 guest on x86_64 runs under TCG: {s}");

    // What runs is what `argv` prints, and the Mac's argv differs from it in the accelerator
    // and the CPU model only (same socket directory: on macOS it lives under $TMPDIR).
    let pids = i.qemu_pids();
    assert_eq!(pids.len(), 1);
    let running = cmdline(pids[0]);
    assert_eq!(running, argv_tokens(&i, &[]), "the running qemu is not what `builderbar argv` prints");
    let sockets = i.socket_dir();
    let base = sockets.parent().unwrap().to_str().unwrap();
    let mac = argv_tokens(&i, &[("BUILDERBAR_HOST", "macos-aarch64"), ("TMPDIR", base)]);
    assert_eq!(mac.len(), running.len(), "mac:\n{mac:?}\nhere:\n{running:?}");
    assert_eq!(mac[0], "qemu-system-aarch64");
    let differs: Vec<(&str, &str, &str)> = (1..mac.len())
        .filter(|&n| mac[n] != running[n])
        .map(|n| (mac[n - 1].as_str(), mac[n].as_str(), running[n].as_str()))
        .collect();
    assert_eq!(differs, [("-accel", "hvf", "tcg"), ("-cpu", "host", "max")], "mac vs here");
    // Every kind of device the stock image has on a Mac is in it, and none passes keys by fw_cfg.
    let has = |opt: &str, pred: &dyn Fn(&str) -> bool| running.windows(2).any(|w| w[0] == opt && pred(&w[1]));
    assert!(has("-drive", &|v| v.contains("/usr.img,format=raw,readonly=on")));
    assert!(has("-drive", &|v| v.contains("state.qcow2,format=qcow2")));
    assert!(has("-virtfs", &|v| v.contains("mount_tag=keys,readonly=on")));
    assert!(has("-virtfs", &|v| v.contains("mount_tag=xchg")));
    assert!(!running.iter().any(|a| a == "-fw_cfg"));
    // The guest used its xchg share: it left its boot timeline on the host.
    let trace = std::fs::read_to_string(i.vm_dir().join("shares/xchg/boot-trace")).unwrap_or_default();
    assert!(trace.lines().any(|l| l.ends_with(" ready")), "no boot timeline in the xchg share: {trace:?}");
    eprintln!("aarch64 guest boot timeline (s since kernel start): {}", trace.replace('\n', "; "));

    // setup wires the guest into the host's Nix by its system type, from the manifest.
    let etc = tempfile::tempdir().unwrap();
    let nix = etc.path().join("nix");
    let ssh = etc.path().join("ssh/ssh_config.d");
    std::fs::create_dir_all(&nix).unwrap();
    std::fs::create_dir_all(&ssh).unwrap();
    // The user's own nix.conf: no max-jobs, so Nix builds locally what it can (default 1).
    std::fs::write(nix.join("nix.conf"), "sandbox = false\nsubstituters =\n").unwrap();
    let dirs =
        ["--nix-conf-dir", nix.to_str().unwrap(), "--ssh-config-dir", ssh.to_str().unwrap(), "--elevation", "none"];
    let out = i.ok(&[&["setup", "--yes"][..], &dirs].concat());
    assert!(out.contains("builderbar-guest"), "setup's test build did not run on the guest: {out}");
    let machines = std::fs::read_to_string(nix.join("machines")).unwrap();
    let line = machines.lines().find(|l| l.starts_with("ssh-ng://")).unwrap();
    assert_eq!(line.split_whitespace().nth(1), Some("aarch64-linux"), "{machines}");

    // One nix-build, default max-jobs: the aarch64-linux derivation goes to the guest by its
    // system, the x86_64-linux one is built here.
    let expr = r#"let d = system: derivation {
        name = "bb-" + system; inherit system; builder = "/bin/sh"; nonce = builtins.toString builtins.currentTime;
        args = [ "-c" "read h < /proc/sys/kernel/hostname; echo $(/bin/uname -m) $h > $out" ]; };
      in [ (d "aarch64-linux") (d "x86_64-linux") ]"#;
    let t = Instant::now();
    let built = std::process::Command::new("nix-build")
        .args(["--no-out-link", "-E", expr])
        .env("NIX_CONF_DIR", &nix)
        .env("NIX_USER_CONF_FILES", "/dev/null")
        .env("NIX_REMOTE", "")
        .env("NIX_SSHOPTS", format!("-F {}", ssh.join("builderbar.conf").display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "nix-build failed: {log}");
    eprintln!("nix-build of one aarch64-linux + one x86_64-linux derivation: {:?}", t.elapsed());
    let paths: Vec<String> = String::from_utf8(built.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let remote = std::fs::read_to_string(&paths[0]).unwrap();
    let local = std::fs::read_to_string(&paths[1]).unwrap();
    assert_eq!(remote.trim(), "aarch64 builderbar-guest", "{log}");
    assert_eq!(local.trim(), format!("x86_64 {}", host.trim()), "{log}");

    // Typing into the console reaches the guest's shell.
    let mut console =
        i.cmd(&["console"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    console.stdin.as_mut().unwrap().write_all(b"echo typed-$((6*7))-$(uname -m)\n").unwrap();
    i.wait_for("the guest to answer typed input", Duration::from_secs(60), || {
        i.console_log().contains("typed-42-aarch64")
    });
    console.kill().unwrap();
    console.wait().unwrap();

    // Graceful stop: system_powerdown is the virt board's GPIO power key, and the guest acts on
    // it. The supervisor logs each fallback (QMP quit, SIGKILL) as a warning; there is none.
    let t = Instant::now();
    let out = i.cmd(&["stop"]).env("BUILDERBAR_LOG", "info").output().unwrap();
    let log = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stop: {log}");
    eprintln!("aarch64 guest: graceful stop in {:?}", t.elapsed());
    assert!(log.contains("asking the guest to power off") && log.contains("booted=true"), "{log}");
    assert!(!log.contains("telling qemu to quit") && !log.contains("killing it"), "stop fell back: {log}");
    assert!(!log.contains("WARN"), "{log}");
    assert!(i.console_log().contains("builderbar-guest: shutting down"), "{}", i.console_log());
    assert_eq!(i.status()["state"], "stopped");
    assert!(i.qemu_pids().is_empty());
}
