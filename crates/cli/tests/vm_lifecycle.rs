//! The VM core for real: the test guest under TCG, driven through the `builderbar` binary.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{serial, Install};

#[test]
fn start_ssh_stop_and_the_state_disk_survives_a_restart() {
    let _g = serial();
    let i = Install::new();
    i.ok(&["start", "--wait"]);
    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    assert_eq!(s["accelerator"], "tcg");

    let uname = i.ok(&["ssh", "--", "uname", "-a"]);
    assert!(uname.contains("builderbar-guest"), "ssh ran on the host? {uname}");
    let host_node = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(!uname.contains(host_node.trim()) || host_node.trim() == "builderbar-guest");
    assert_eq!(i.ok(&["ssh", "--", "cat", "/state/boot-count"]).trim(), "1");
    // The remote command's exit code comes back; words stay words.
    let out = i.run(&["ssh", "--", "sh", "-c", "echo 'a b'; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a b\n");

    let t = Instant::now();
    i.ok(&["stop"]);
    eprintln!("graceful stop took {:?}", t.elapsed());
    assert_eq!(i.status()["state"], "stopped");
    assert!(i.qemu_pids().is_empty());
    let log = std::fs::read_to_string(i.vm_dir().join("console.log")).unwrap();
    assert!(log.contains("builderbar-guest: shutting down"), "guest did not log a clean shutdown:\n{log}");

    i.ok(&["start", "--wait"]);
    assert_eq!(i.ok(&["ssh", "--", "cat", "/state/boot-count"]).trim(), "2", "state disk lost");
    // The previous boot's console log was rotated, not lost.
    assert!(std::fs::read_to_string(i.vm_dir().join("console.log.1")).unwrap().contains("shutting down"));
    i.ok(&["stop"]);
}

#[test]
fn a_new_controller_reattaches_without_disturbing_the_vm() {
    let _g = serial();
    let i = Install::new();
    // The controller dies while the guest is still booting.
    let mut first = i.cmd(&["start", "--wait"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    i.wait_for("qemu to run", Duration::from_secs(30), || !i.qemu_pids().is_empty());
    first.kill().unwrap();
    first.wait().unwrap();
    let pid = i.qemu_pids();
    assert_eq!(pid.len(), 1);

    // A second start joins the running VM instead of starting another.
    i.ok(&["start", "--wait"]);
    assert_eq!(i.qemu_pids(), pid, "start must join, not restart");
    let up1: f64 = i.ok(&["ssh", "--", "cut", "-d", " ", "-f1", "/proc/uptime"]).trim().parse().unwrap_or(0.0);

    // A long-lived controller (the app, `watch`) is killed -9 while Running.
    let mut watcher = i.cmd(&["watch", "--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    watcher.kill().unwrap();
    watcher.wait().unwrap();

    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    assert_eq!(s["pid"].as_u64(), Some(u64::from(pid[0])));
    let up2: f64 = i.ok(&["ssh", "--", "cut", "-d", " ", "-f1", "/proc/uptime"]).trim().parse().unwrap();
    assert!(up2 >= up1 && up1 > 0.0, "guest uptime went from {up1} to {up2}: it was restarted");
    assert_eq!(i.ok(&["ssh", "--", "cat", "/state/boot-count"]).trim(), "1");
    let history = i.ok(&["console", "--history"]);
    assert!(history.contains("BUILDERBAR-READY"), "console history lost:\n{history}");

    // Typing into the console reaches the guest's shell; its answer shows in the console.
    let mut console =
        i.cmd(&["console"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    {
        use std::io::Write;
        let stdin = console.stdin.as_mut().unwrap();
        stdin.write_all(b"echo typed-$((6*7))-here\n").unwrap();
        stdin.flush().unwrap();
    }
    i.wait_for("the guest to answer typed input", Duration::from_secs(30), || {
        i.console_log().contains("typed-42-here")
    });
    console.kill().unwrap();
    console.wait().unwrap();
    i.ok(&["stop"]);
}

#[test]
fn the_auto_accelerator_runs_the_guest_and_explains_a_fallback() {
    let _g = serial();
    let i = Install::new();
    i.ok(&["settings", "set", "accelerator", "auto"]);
    i.ok(&["start", "--wait"]);
    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    let kvm_usable = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
    if s["accelerator"] == "tcg" && kvm_usable {
        // KVM exists but could not run the guest (nested virtualisation): the user is told.
        assert!(s["notice"].as_str().unwrap_or("").contains("KVM"), "{s}");
    }
    i.ok(&["stop"]);
}

#[test]
fn qemu_killed_becomes_failed_with_the_console_tail_and_start_works_again() {
    let _g = serial();
    let i = Install::new();
    i.ok(&["start", "--wait"]);
    let pid = i.qemu_pids()[0];
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    i.wait_for("qemu to die", Duration::from_secs(10), || i.qemu_pids().is_empty());
    let s = i.status();
    assert_eq!(s["state"], "failed", "{s}");
    assert!(s["reason"].as_str().unwrap().contains("killed or crashed"), "{s}");
    let tail = s["console_tail"].as_array().unwrap();
    assert!(
        tail.iter()
            .any(|l| l.as_str().unwrap().contains("BUILDERBAR-READY")
                || l.as_str().unwrap().contains("builderbar-guest")),
        "{s}"
    );
    // `status` exits non-zero while Failed, and says so in words.
    let out = i.run(&["status"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Builder: failed"));
    i.ok(&["start", "--wait"]);
    assert_eq!(i.status()["state"], "running");
    i.ok(&["stop"]);
}

#[test]
fn a_taken_port_is_refused_with_a_message_naming_it() {
    let _g = serial();
    let i = Install::new();
    let _blocker = std::net::TcpListener::bind(("127.0.0.1", i.port)).unwrap();
    let out = i.run(&["start", "--wait", "--timeout", "60"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&format!("port {} on 127.0.0.1 is already in use", i.port)), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(i.qemu_pids().is_empty());
}

#[test]
fn a_wrong_pinned_host_key_fails_loudly() {
    let _g = serial();
    let i = Install::new();
    i.ok(&["start", "--wait"]);
    let kh = i.vm_dir().join("known_hosts");
    let good = std::fs::read_to_string(&kh).unwrap();
    assert!(good.starts_with("builderbar-builder ssh-ed25519 "));
    // Some other key, pinned under the builder's alias.
    std::fs::write(
        &kh,
        "builderbar-builder ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb\n",
    )
    .unwrap();
    let out = i.run(&["ssh", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(
        err.contains("Host key verification failed") || err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{err}"
    );
    assert!(err.contains("pinned"), "{err}");
    std::fs::write(&kh, good).unwrap();
    i.ok(&["ssh", "--", "true"]);
    i.ok(&["stop"]);
}

#[test]
fn fifty_rapid_starts_and_stops_from_two_processes_never_run_two_vms() {
    let _g = serial();
    let i = Install::new();
    // The guest is usually still booting when the stop arrives, so the graceful wait is short.
    i.ok(&["settings", "set", "stop_timeout_secs", "2"]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let max_seen = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = i.qemu_pids().len();
                max_seen.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let i = &i;
                s.spawn(move || {
                    for n in 0..25 {
                        let args: &[&str] = if (n + w) % 2 == 0 { &["start"] } else { &["stop"] };
                        let out = i.run(args);
                        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(max_seen.load(std::sync::atomic::Ordering::Relaxed) <= 1, "two qemu processes ran at once");
    i.ok(&["stop"]);
    assert!(i.qemu_pids().is_empty(), "orphan qemu left behind");
    assert!(!i.pidfile().exists());
    let sockets = i.socket_dir();
    let left: Vec<_> = std::fs::read_dir(&sockets).into_iter().flatten().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left behind in {}: {left:?}", sockets.display());
}
