//! The monitor of a running qemu: follows its console log, probes the SSH banner when the
//! readiness line appears (a 1 s tick is the fallback), and records its exit.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::warn;

use crate::ssh::probe_banner;
use crate::vm::console::{LogFollower, MarkerScanner};
use crate::vm::process::live_pid;
use crate::vm::state::{RunRecord, VmState, VmStatus};

use super::records::{self, cleanup_run_files, read_json, record_failure, run_status};
use super::{MonitorHandle, Supervisor};

impl Supervisor {
    /// Starts watching `pid` unless we already do. `exit` is its exit status, when this process
    /// spawned it.
    pub(super) async fn ensure_monitor(&self, pid: u32, exit: Option<watch::Receiver<Option<ExitStatus>>>) {
        let mut slot = self.inner.monitor.lock().await;
        if slot.as_ref().is_some_and(|m| m.pid == pid) {
            return;
        }
        if let Some(old) = slot.take() {
            let _ = old.stop.send(true);
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        *slot = Some(MonitorHandle { pid, stop: stop_tx });
        let me = self.clone();
        tokio::spawn(async move { me.monitor(pid, exit, stop_rx).await });
    }

    pub(super) async fn detach_monitor(&self) {
        if let Some(m) = self.inner.monitor.lock().await.take() {
            let _ = m.stop.send(true);
        }
    }

    /// Ends the monitor of `pid` (not a newer one).
    async fn detach_monitor_of(&self, pid: u32) {
        if let Some(m) = self.inner.monitor.lock().await.take_if(|m| m.pid == pid) {
            let _ = m.stop.send(true);
        }
    }

    async fn monitor(
        self,
        pid: u32,
        exit_rx: Option<watch::Receiver<Option<ExitStatus>>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let files = self.files().clone();
        let mut run = read_json::<RunRecord>(&files.run_record());
        let marker_seen = Arc::new(Notify::new());
        let follower = LogFollower {
            path: files.console_log(),
            hub: self.inner.console.clone(),
            marker: run.as_ref().and_then(|r| r.ready_marker.as_deref()).map(MarkerScanner::new),
        };
        let m = marker_seen.clone();
        let follow = tokio::spawn(follower.run(stop.clone(), move || m.notify_one()));
        let mut exit_rx = exit_rx;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut probe_now = false;
            tokio::select! {
                _ = marker_seen.notified() => probe_now = true,
                _ = tick.tick() => {}
                _ = stop.changed() => break,
                Some(()) = async { match exit_rx.as_mut() { Some(rx) => rx.changed().await.ok(), None => std::future::pending().await } } => {}
            }
            if *stop.borrow() {
                break;
            }
            let child_exit = exit_rx.as_ref().and_then(|rx| *rx.borrow());
            let alive = child_exit.is_none() && live_pid(&files.pidfile()) == Some(pid);
            if !alive {
                self.on_exit(pid, child_exit).await;
                break;
            }
            let cur = self.status();
            if files.stopping_marker().exists() {
                if cur.state != VmState::Stopping {
                    let mut s = cur.clone();
                    s.state = VmState::Stopping;
                    self.set(s);
                }
                continue;
            }
            if run.is_none() {
                run = read_json::<RunRecord>(&files.run_record());
            }
            if matches!(cur.state, VmState::Starting | VmState::Stopped | VmState::Failed { .. }) || probe_now {
                let ready = match run.as_ref().map(|r| r.port) {
                    // The readiness line comes a moment before sshd answers (TCG is slow): probe
                    // in quick succession for a while rather than wait for the next tick.
                    Some(p) if probe_now => probe_banner_soon(p).await,
                    Some(p) => probe_banner(p, Duration::from_millis(800)).await.is_some(),
                    None => false,
                };
                let state = if ready { VmState::Running } else { VmState::Starting };
                if let Some(r) = &run {
                    if cur.state != state || cur.pid != Some(pid) {
                        self.set(run_status(&files, state, r));
                    }
                }
            }
            // A state disk deleted under the VM, or a full disk, shows within a tick.
            if let Some(r) = &run {
                let now = self.status();
                if matches!(now.state, VmState::Starting | VmState::Running) && now.pid == Some(pid) {
                    let notice = super::health::run_notice(&files, r);
                    if now.notice != notice {
                        self.set(VmStatus { notice, ..now });
                    }
                }
            }
        }
        follow.abort();
    }

    /// qemu is gone. A stop in progress owns the cleanup; anything else is a failure.
    async fn on_exit(&self, pid: u32, child_exit: Option<ExitStatus>) {
        let files = self.files();
        if files.stopping_marker().exists() {
            return;
        }
        // Another process stopped it and has already cleaned up (marker and run record gone
        // together): a clean stop we noticed late, not a failure.
        if child_exit.is_none() && !files.run_record().exists() {
            self.detach_monitor_of(pid).await;
            self.set(VmStatus::stopped());
            return;
        }
        let reason = match child_exit {
            Some(st) => records::exit_reason(st),
            None => records::unwatched_exit_reason(files),
        };
        warn!(pid, %reason, "builder ended");
        let record = records::ended(reason, &self.inner.console, files);
        let status = record_failure(files, &record);
        cleanup_run_files(files);
        self.set(status);
        self.detach_monitor_of(pid).await;
    }
}

/// Right after the readiness line: overlapping banner probes, one every 50 ms for up to 2 s.
/// Under TCG the first connection through qemu's forward is sometimes answered only after a
/// retransmission (~0.5 s); a later probe then wins instead of waiting for it.
async fn probe_banner_soon(port: u16) -> bool {
    let mut probes = tokio::task::JoinSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut next = tokio::time::interval(Duration::from_millis(50));
    loop {
        let open = tokio::time::Instant::now() < deadline;
        if !open && probes.is_empty() {
            return false;
        }
        tokio::select! {
            _ = next.tick(), if open => {
                probes.spawn(probe_banner(port, Duration::from_secs(2)));
            }
            Some(r) = probes.join_next() => {
                if matches!(r, Ok(Some(_))) {
                    return true;
                }
            }
        }
    }
}
