//! Supervisor tests that need no guest: the state any process reads from the VM directory, the
//! failure record, the KVM → TCG decision and its watchdog. A real guest boots in
//! crates/cli/tests/vm_lifecycle.rs.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::watch;

use super::fallback::{kvm_hangs_within, KvmBroken};
use super::records::{exit_reason, read_json, write_json};
use super::*;
use crate::error::UserFacing;
use crate::paths::PathEnv;
use crate::settings::Accelerator;
use crate::vm::state::{FailureRecord, VmState};

fn context(home: &Path) -> VmContext {
    let env = PathEnv {
        home: home.into(),
        builderbar_home: Some(home.join("bb")),
        runtime_dir_override: Some(home.join("run")),
        ..Default::default()
    };
    VmContext::new(Host::LINUX_X86_64, AppPaths::for_host(Host::LINUX_X86_64, &env))
}

fn run_record(pid: u32, port: u16) -> RunRecord {
    RunRecord {
        pid,
        port,
        accelerator: "tcg".into(),
        image_name: "test image".into(),
        image_dir: "/images/test".into(),
        started_at_ms: 1,
        ready_marker: None,
        notice: Some("a note".into()),
        runtime_dir: None,
        state_disk: None,
    }
}

/// A process whose argv names `pidfile`, as qemu's `-pidfile <path>` does: "our qemu".
struct FakeQemu(std::process::Child);

impl FakeQemu {
    fn start(pidfile: &Path) -> FakeQemu {
        let child = std::process::Command::new("sh").args(["-c", "sleep 60", "sh"]).arg(pidfile).spawn().unwrap();
        std::fs::write(pidfile, format!("{}\n", child.id())).unwrap();
        FakeQemu(child)
    }
}

impl Drop for FakeQemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_qemu_that_died_unwatched_is_recorded_as_failed_once_for_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let files = ctx.files.clone();
    std::fs::create_dir_all(&files.vm_dir).unwrap();
    write_json(&files.run_record(), &run_record(1, 1));
    // A pidfile left behind (qemu removes its own on a clean exit) naming no live qemu.
    std::fs::write(files.pidfile(), "999999999\n").unwrap();
    std::fs::write(files.console_log(), "booting\nkernel panic: the end\n").unwrap();

    let s = Supervisor::new(ctx.clone()).refresh().await;
    let VmState::Failed { reason, hint, console_tail } = &s.state else { panic!("{s:?}") };
    assert_eq!(reason, "qemu exited unexpectedly (it was killed or crashed)");
    assert!(hint.contains("console lines"), "{hint}");
    assert_eq!(console_tail, &["booting", "kernel panic: the end"]);
    let record = read_json::<FailureRecord>(&files.failure_record()).expect("failure.json");
    assert_eq!(&record.reason, reason);
    for gone in [files.run_record(), files.pidfile()] {
        assert!(!gone.exists(), "{} was left behind", gone.display());
    }
    // Another process (a new supervisor) reads the same failure, and the log no longer matters.
    std::fs::write(files.console_log(), "").unwrap();
    assert_eq!(Supervisor::new(ctx.clone()).refresh().await, s);

    // Without a pidfile the guest powered itself off.
    std::fs::remove_file(files.failure_record()).unwrap();
    write_json(&files.run_record(), &run_record(1, 1));
    let s = Supervisor::new(ctx).refresh().await;
    assert!(matches!(&s.state, VmState::Failed { reason, .. } if reason == "the guest shut down on its own"), "{s:?}");
}

#[tokio::test]
async fn a_live_qemu_is_starting_until_its_banner_answers_and_stopping_under_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let files = ctx.files.clone();
    std::fs::create_dir_all(&files.vm_dir).unwrap();
    let qemu = FakeQemu::start(&files.pidfile());
    let pid = qemu.0.id();
    // qemu's forward accepts before sshd listens: a listener that never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    write_json(&files.run_record(), &run_record(pid, port));
    let sup = Supervisor::new(ctx.clone());

    // The silent forward holds the banner probe for its whole wait; the new qemu is published
    // as Starting before that (the tray shows a start by another process at once).
    let mut states = sup.subscribe();
    let refresh = tokio::spawn({
        let sup = sup.clone();
        async move { sup.refresh().await }
    });
    states.wait_for(|s| s.state == VmState::Starting).await.unwrap();
    assert!(!refresh.is_finished(), "Starting was published only after the banner probe");
    let s = refresh.await.unwrap();
    assert_eq!((&s.state, s.pid, s.port), (&VmState::Starting, Some(pid), Some(port)), "{s:?}");
    assert_eq!((s.image.as_deref(), s.notice.as_deref()), (Some("test image"), Some("a note")));

    // The guest's sshd answers: Running.
    drop(silent);
    let sshd = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for mut c in sshd.incoming().flatten() {
            let _ = c.write_all(b"SSH-2.0-OpenSSH_test\r\n");
        }
    });
    assert_eq!(Supervisor::new(ctx.clone()).refresh().await.state, VmState::Running);

    std::fs::write(files.stopping_marker(), "").unwrap();
    assert_eq!(Supervisor::new(ctx).refresh().await.state, VmState::Stopping);
    drop(qemu);
}

#[tokio::test]
async fn a_stop_with_no_qemu_forgets_the_run_and_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let files = ctx.files.clone();
    std::fs::create_dir_all(&files.vm_dir).unwrap();
    write_json(&files.run_record(), &run_record(1, 1));
    write_json(&files.failure_record(), &FailureRecord { reason: "r".into(), hint: "h".into(), console_tail: vec![] });
    std::fs::write(files.stopping_marker(), "").unwrap();

    let s = Supervisor::new(ctx).stop(Duration::from_secs(1)).await.unwrap();
    assert_eq!(s, VmStatus::stopped());
    for gone in [files.run_record(), files.failure_record(), files.stopping_marker()] {
        assert!(!gone.exists(), "{} was left behind", gone.display());
    }
}

#[tokio::test]
async fn a_start_that_cannot_begin_is_recorded_with_its_hint_for_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let sup = Supervisor::new(ctx.clone());
    let req = StartRequest { settings: Settings::default(), image_dir: dir.path().join("no-image") };

    let e = sup.start(req).await.unwrap_err();
    assert!(matches!(e, VmError::Image(_)), "{e:?}");
    let want = VmState::Failed { reason: e.to_string(), hint: e.hint(), console_tail: vec![] };
    assert_eq!(sup.status().state, want);
    assert_eq!(Supervisor::new(ctx).refresh().await.state, want);
}

#[test]
fn only_an_auto_start_that_qemu_refused_for_kvm_falls_back_to_tcg() {
    let refused =
        |summary: &str| VmError::QemuFailed { summary: summary.into(), stderr: String::new(), hint: String::new() };
    let request = |accelerator| StartRequest {
        settings: Settings { accelerator, ..Settings::default() },
        image_dir: "/images/test".into(),
    };
    let auto = request(Accelerator::Auto);
    let why = KvmBroken::rejected(&auto, &refused("failed to initialize KVM: Permission denied")).unwrap();
    assert_eq!(why, KvmBroken::Rejected { summary: "failed to initialize KVM: Permission denied".into() });
    assert!(why.notice().contains("(failed to initialize KVM: Permission denied)"), "{}", why.notice());
    assert!(why.notice().contains("runs under TCG") && why.notice().contains("Set the accelerator to kvm"));
    assert!(KvmBroken::Hung.notice().contains("hung at early boot"));
    // Asked for KVM by name: the user hears the error, no silent TCG.
    assert_eq!(KvmBroken::rejected(&request(Accelerator::Kvm), &refused("failed to initialize KVM")), None);
    assert_eq!(KvmBroken::rejected(&auto, &refused("could not open disk image")), None);
    assert_eq!(KvmBroken::rejected(&auto, &VmError::PortInUse { port: 1 }), None);
}

#[tokio::test]
async fn the_kvm_watchdog_ends_at_the_first_console_byte_or_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let files = context(dir.path()).files;
    std::fs::create_dir_all(&files.vm_dir).unwrap();
    let (exit_tx, exit) = watch::channel::<Option<ExitStatus>>(None);
    let short = Duration::from_millis(300);
    assert!(kvm_hangs_within(&files, &exit, short).await, "silent console: KVM hangs");
    std::fs::write(files.console_log(), "").unwrap();
    assert!(kvm_hangs_within(&files, &exit, short).await, "an empty log is still silence");
    exit_tx.send(Some(ExitStatus::from_raw(1 << 8))).unwrap();
    assert!(!kvm_hangs_within(&files, &exit, Duration::from_secs(60)).await, "qemu exited: not a hang");
    let (_tx, exit) = watch::channel::<Option<ExitStatus>>(None);
    std::fs::write(files.console_log(), "x").unwrap();
    assert!(!kvm_hangs_within(&files, &exit, Duration::from_secs(60)).await, "the guest printed: KVM works");
}

#[test]
fn an_exit_status_says_how_qemu_ended() {
    assert_eq!(exit_reason(ExitStatus::from_raw(9)), "qemu was killed (SIGKILL)");
    assert_eq!(exit_reason(ExitStatus::from_raw(15)), "qemu was terminated by signal 15");
    assert_eq!(exit_reason(ExitStatus::from_raw(0)), "the guest shut down on its own");
    assert_eq!(exit_reason(ExitStatus::from_raw(1 << 8)), "qemu exited with status 1");
}
