//! The on-demand gateway for real: `builderbar serve` wakes the stopped test guest for the first
//! connection (a pinned ssh through the gateway succeeds on the first try) and stops it when idle.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{serial, Install};

/// `serve` never outlives the test, whatever happens.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const IDLE_SECS: u64 = 10;

/// Turns on_demand on, on a port whose next port (qemu's forward) is free as well: on a busy
/// machine a random free port's neighbour may not be.
fn on_demand(i: &mut Install) {
    let port = (0..100)
        .map(|_| common::free_port())
        .find(|p| *p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok())
        .expect("a free pair of ports");
    i.port = port;
    i.ok(&["settings", "set", "port", &port.to_string()]);
    i.ok(&["settings", "set", "on_demand", "true"]);
}

#[test]
fn the_first_connection_wakes_the_stopped_builder_and_idle_stops_it() {
    let _g = serial();
    let mut i = Install::new();
    on_demand(&mut i);
    let log = i.home.path().join("serve.stderr");
    let serve = Serve(
        i.cmd(&["serve"])
            .env("BUILDERBAR_IDLE_SECS", IDLE_SECS.to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let serve_log = || std::fs::read_to_string(&log).unwrap_or_default();
    i.wait_for("serve to listen", Duration::from_secs(20), || serve_log().contains("Serving the builder"));
    let s = i.status();
    assert_eq!(s["state"], "stopped", "{s}");
    assert_eq!(s["gateway_port"].as_u64(), Some(u64::from(i.port)), "{s}");
    assert!(i.qemu_pids().is_empty());
    // Our own gateway on the public port does not make settings think another program took it.
    i.ok(&["settings", "set", "notifications", "true"]);
    // A second gateway for the same builder is refused.
    let second = i.run(&["serve"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already serves this builder"));

    // The first connection finds the builder stopped: a pinned ssh through the gateway port, as
    // Nix would make it, is held while the guest boots and succeeds on the first try.
    let keys = i.home.path().join("data/keys");
    let t = Instant::now();
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", i.vm_dir().join("known_hosts").display()))
        .args(["-o", "HostKeyAlias=builderbar-builder", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
        .arg("-o")
        .arg(format!("IdentityFile={}", keys.join("client_ed25519").display()))
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=240", "-o", "LogLevel=ERROR"])
        .args(["-p", &i.port.to_string(), "-l", "builder", "127.0.0.1", "--", "cat /state/boot-count"])
        .output()
        .unwrap();
    let woke_in = t.elapsed();
    eprintln!("first connection through the gateway answered after {woke_in:?}");
    assert!(
        out.status.success(),
        "ssh through the gateway failed ({:?}): {}\nserve:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        serve_log()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    // qemu forwards the next port; the gateway holds the one Nix names.
    assert_eq!(s["port"].as_u64(), Some(u64::from(i.port) + 1), "{s}");
    assert!(i.ok(&["argv"]).contains(&format!("hostfwd=tcp:127.0.0.1:{}-:22", i.port + 1)));
    i.ok(&["ssh", "--", "true"]);
    let log_now = serve_log();
    assert!(log_now.contains("starting it"), "{log_now}");
    assert!(log_now.contains("The builder is ready after"), "{log_now}");

    // No connection for the idle period: a graceful stop.
    let idle_from = Instant::now();
    i.wait_for("the idle stop", Duration::from_secs(IDLE_SECS + 60), || i.status()["state"] == "stopped");
    eprintln!("idle stop after {:?}", idle_from.elapsed());
    assert!(serve_log().contains(&format!("No connection for {IDLE_SECS} s: the builder was stopped")));
    i.wait_for("qemu to exit", Duration::from_secs(10), || i.qemu_pids().is_empty());
    assert!(i.console_log().contains("builderbar-guest: shutting down"), "not a graceful stop");

    // Ctrl-C ends `serve` cleanly and frees the port.
    let mut serve = serve;
    Command::new("kill").args(["-INT", &serve.0.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while serve.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not exit on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(serve.0.try_wait().unwrap().unwrap().success());
    assert!(std::net::TcpListener::bind(("127.0.0.1", i.port)).is_ok(), "serve left its port bound");
    assert_eq!(i.status()["gateway_port"], serde_json::Value::Null);
}

#[test]
fn serve_refuses_when_on_demand_is_off_or_the_port_is_taken() {
    let _g = serial();
    let mut i = Install::new();
    let out = i.run(&["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("on-demand is off") && err.contains("settings set on_demand true"), "{err}");

    on_demand(&mut i);
    let _blocker = std::net::TcpListener::bind(("127.0.0.1", i.port)).unwrap();
    let out = i.run(&["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("port {} on 127.0.0.1 is already in use", i.port)), "{err}");
    assert!(err.contains("hint:"), "{err}");
}
