//! The supervisor: starts qemu detached, watches it, detects readiness, stops it gracefully,
//! and lets any process reattach to a VM another process started.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::sync::{watch, Mutex, Notify};
use tracing::{info, warn};

use crate::error::UserFacing;
use crate::host::{Host, Os};
use crate::image::{DiskSpec, HostKeySpec, ImageManifest, KeyChannel};
use crate::keys::{openssh, InstallKeys};
use crate::paths::AppPaths;
use crate::settings::{port_is_free, Accelerator, Settings};
use crate::ssh::{probe_banner, write_known_hosts, SshTarget};
use crate::vm::accel::{resolve, Accel, AccelFacts};
use crate::vm::console::{rotate_log, ConsoleHub, LogFollower, MarkerScanner, DEFAULT_HISTORY};
use crate::vm::disk::ensure_state_disk;
use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::lock::ControlLock;
use crate::vm::process::{find_by_argv, kill, live_pid};
use crate::vm::qemu_error::explain;
use crate::vm::state::{now_ms, FailureRecord, RunRecord, VmState, VmStatus};
use crate::vm::{argv::qemu_argv, qmp};

/// Where a supervisor works: the host and the per-user paths.
#[derive(Debug, Clone)]
pub struct VmContext {
    pub host: Host,
    pub paths: AppPaths,
    pub files: VmFiles,
}

impl VmContext {
    pub fn new(host: Host, paths: AppPaths) -> VmContext {
        let files = VmFiles::new(&paths);
        VmContext { host, paths, files }
    }

    pub fn keys(&self) -> InstallKeys {
        InstallKeys::at(&self.paths.keys_dir())
    }

    fn kvm_broken_marker(&self) -> PathBuf {
        self.files.vm_dir.join("kvm-broken")
    }
}

/// What to start: the settings in force and the image directory.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub settings: Settings,
    pub image_dir: PathBuf,
}

/// How long the auto accelerator gives KVM to print its first console byte before it
/// concludes KVM hangs here (nested KVM) and falls back to TCG.
const KVM_WATCHDOG: Duration = Duration::from_secs(20);
const KEEP_CONSOLE_LOGS: usize = 5;

/// One per process and VM directory; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: VmContext,
    status: watch::Sender<VmStatus>,
    console: ConsoleHub,
    /// In-process serialization of start/stop (the control lock serializes across processes).
    op: Mutex<()>,
    monitor: Mutex<Option<MonitorHandle>>,
}

struct MonitorHandle {
    pid: u32,
    stop: watch::Sender<bool>,
}

impl Supervisor {
    pub fn new(ctx: VmContext) -> Supervisor {
        let (status, _) = watch::channel(VmStatus::stopped());
        Supervisor {
            inner: Arc::new(Inner {
                ctx,
                status,
                console: ConsoleHub::new(DEFAULT_HISTORY),
                op: Mutex::new(()),
                monitor: Mutex::new(None),
            }),
        }
    }

    pub fn context(&self) -> &VmContext {
        &self.inner.ctx
    }

    fn files(&self) -> &VmFiles {
        &self.inner.ctx.files
    }

    /// Every state change, as it happens.
    pub fn subscribe(&self) -> watch::Receiver<VmStatus> {
        self.inner.status.subscribe()
    }

    pub fn status(&self) -> VmStatus {
        self.inner.status.borrow().clone()
    }

    pub fn console(&self) -> &ConsoleHub {
        &self.inner.console
    }

    fn set(&self, status: VmStatus) {
        self.inner.status.send_if_modified(|cur| {
            if *cur != status {
                info!(state = status.state.name(), pid = ?status.pid, "builder state");
                *cur = status;
                true
            } else {
                false
            }
        });
    }

    /// Re-reads the truth from the VM directory (any process may have changed it),
    /// publishes it, and attaches a monitor to a running VM we are not yet watching.
    pub async fn refresh(&self) -> VmStatus {
        let s = derive_status(self.files(), &self.inner.console).await;
        if let Some(pid) = s.pid {
            self.ensure_monitor(pid, None).await;
        }
        self.set(s.clone());
        s
    }

    /// Reattaches to a VM that is already running (after a crash or restart of this process).
    pub async fn attach(&self) -> VmStatus {
        self.refresh().await
    }

    /// The SSH target of the running builder, host key pinned.
    pub fn ssh_target(&self) -> Result<SshTarget, VmError> {
        let run = read_json::<RunRecord>(&self.files().run_record()).ok_or(VmError::NotRunning)?;
        let image = ImageManifest::load(&run.image_dir)?;
        Ok(SshTarget {
            port: run.port,
            user: image.ssh.user,
            identity: self.inner.ctx.keys().client_private(),
            known_hosts: self.files().known_hosts(),
        })
    }

    /// Starts the VM, or joins the one that is already running. Returns once qemu runs
    /// (state Starting); use [`Supervisor::wait_ready`] for Running.
    pub async fn start(&self, req: StartRequest) -> Result<VmStatus, VmError> {
        let _op = self.inner.op.lock().await;
        let lock_wait = Duration::from_secs(u64::from(req.settings.stop_timeout_secs) + 60);
        let _lock = ControlLock::acquire(&self.files().control_lock(), lock_wait).await?;
        let pidfile = self.files().pidfile();
        // A starter that died right after spawning qemu may have left it without a pidfile.
        let running = live_pid(&pidfile).or_else(|| {
            let pid = find_by_argv(&pidfile)?;
            let _ = crate::fsutil::write_atomic(&pidfile, format!("{pid}\n").as_bytes(), 0o644);
            Some(pid)
        });
        if let Some(pid) = running {
            info!(pid, "builder already running; joining it");
            drop(_lock);
            self.ensure_monitor(pid, None).await;
            return Ok(self.refresh_locked().await);
        }
        let result = match self.start_locked(&req, None).await {
            // Auto means "KVM when it works": a KVM that qemu rejects falls back to TCG, once,
            // and is remembered so the next start goes straight to TCG.
            Err(VmError::QemuFailed { summary, .. })
                if req.settings.accelerator == Accelerator::Auto && summary.contains("KVM") =>
            {
                warn!("{summary}; falling back to TCG");
                let _ = std::fs::write(self.inner.ctx.kvm_broken_marker(), format!("{summary}\n"));
                let mut tcg = req.clone();
                tcg.settings.accelerator = Accelerator::Tcg;
                let notice = format!(
                    "KVM could not run the guest here ({summary}), so the builder runs under TCG (slower). \
                     Set the accelerator to kvm to try it again."
                );
                self.start_locked(&tcg, Some(notice)).await
            }
            other => other,
        };
        match result {
            Err(e) => {
                let record = FailureRecord { reason: e.to_string(), hint: e.hint(), console_tail: vec![] };
                write_json(&self.files().failure_record(), &record);
                self.set(failed_status(&record));
                Err(e)
            }
            Ok(s) => Ok(s),
        }
    }

    async fn refresh_locked(&self) -> VmStatus {
        let s = derive_status(self.files(), &self.inner.console).await;
        self.set(s.clone());
        s
    }

    async fn start_locked(&self, req: &StartRequest, notice: Option<String>) -> Result<VmStatus, VmError> {
        let ctx = &self.inner.ctx;
        let files = self.files();
        cleanup_run_files(files);
        let _ = std::fs::remove_file(files.failure_record());
        self.set(VmStatus::of(VmState::Starting));

        let image = ImageManifest::load(&req.image_dir)?;
        let keys = InstallKeys::ensure(&ctx.paths.keys_dir())?;
        let facts = AccelFacts::probe(&ctx.kvm_broken_marker());
        let accel = resolve(req.settings.accelerator, ctx.host, image.guest_arch(), facts)?;
        // On demand, the gateway holds settings.port and qemu forwards the port after it.
        let port = req.settings.forward_port();
        if !port_is_free(port) {
            return Err(VmError::PortInUse { port });
        }
        let program = crate::vm::argv::qemu_program(&image);
        if which(&program).is_none() {
            return Err(VmError::QemuMissing { program: program.clone(), hint: qemu_install_hint(ctx.host, &program) });
        }
        for dir in [&files.vm_dir, &files.runtime_dir] {
            std::fs::create_dir_all(dir).map_err(VmError::io(format!("cannot create {}", dir.display())))?;
        }
        private_dir(&files.runtime_dir)?;
        for share in &image.shares {
            if let crate::image::ShareSource::StateDir { name } = &share.source {
                let d = files.share_dir(name);
                std::fs::create_dir_all(&d).map_err(VmError::io(format!("cannot create {}", d.display())))?;
            }
        }
        if let Some(DiskSpec::State { template, .. }) = image.disks.iter().find(|d| matches!(d, DiskSpec::State { .. }))
        {
            let qemu_img = image.qemu.as_ref().map(|d| d.join("qemu-img")).unwrap_or_else(|| "qemu-img".into());
            ensure_state_disk(ctx.host, &qemu_img, &files.state_disk(), req.settings.disk_gib, template.as_ref())
                .await?;
        }
        rotate_log(&files.console_log(), KEEP_CONSOLE_LOGS);
        let pinned = match &image.host_key {
            HostKeySpec::Runtime => openssh(&keys.host_public()?),
            HostKeySpec::Fixed { public } => public.trim().to_string(),
        };
        write_known_hosts(&files.known_hosts(), &pinned).map_err(VmError::io("cannot write known_hosts"))?;
        let names = image.keys.files();
        let host_key_name = (image.host_key == HostKeySpec::Runtime).then_some(names.host_key.as_str());
        let written = keys.write_guest_channel(&files.guest_keys_dir(), &names.authorized_keys, host_key_name)?;
        if let KeyChannel::Share { security_model, .. } = &image.keys {
            // sshd reads authorized_keys as the builder user, who must be able to enter the
            // share (fw_cfg needs no directory, so there it stays 0700). Secret files stay 0600.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(files.guest_keys_dir(), std::fs::Permissions::from_mode(0o755))
                .map_err(VmError::io("cannot open the guest key share to the guest"))?;
            if security_model.starts_with("mapped") {
                // The guest's sshd (StrictModes) wants root-owned key files; mapped 9p reads
                // ownership from these attributes instead of the host's uid.
                for p in std::iter::once(files.guest_keys_dir()).chain(written) {
                    for attr in ["user.virtfs.uid", "user.virtfs.gid"] {
                        xattr::set(&p, attr, &0u32.to_le_bytes())
                            .map_err(VmError::io(format!("cannot set {attr} on {}", p.display())))?;
                    }
                }
            }
        }

        let argv = qemu_argv(ctx.host, &image, &req.settings, accel, files);
        info!(argv = %argv.pretty(), "starting qemu");
        let stderr = std::fs::File::create(files.qemu_stderr()).map_err(VmError::io("cannot create qemu.stderr"))?;
        let mut cmd = tokio::process::Command::new(&argv.program);
        cmd.args(&argv.args)
            .current_dir(&files.vm_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            // Its own process group: a Ctrl-C in the terminal that started it does not reach qemu.
            .process_group(0)
            .kill_on_drop(false);
        // Recorded before qemu exists, so a process that dies right after spawning it still
        // leaves enough for the next one to reattach (the pid comes from qemu's pidfile).
        let mut run = RunRecord {
            pid: 0,
            port,
            accelerator: accel.as_str().into(),
            image_name: image.name.clone(),
            image_dir: req.image_dir.clone(),
            started_at_ms: now_ms(),
            ready_marker: image.ready_marker.clone(),
            notice: notice.clone(),
        };
        write_json(&files.run_record(), &run);
        let mut child = cmd.spawn().map_err(VmError::io(format!("cannot run {}", argv.program)))?;
        let pid = child.id().unwrap_or(0);
        // qemu writes (and locks) the same pidfile a moment later; writing it now closes the
        // window in which another process would not see this VM.
        let _ = crate::fsutil::write_atomic(&files.pidfile(), format!("{pid}\n").as_bytes(), 0o644);
        let (exit_tx, exit_rx) = watch::channel::<Option<ExitStatus>>(None);
        tokio::spawn(async move {
            let status = child.wait().await.ok();
            let _ = exit_tx.send(status);
        });

        // qemu is up when its QMP socket answers; it may instead exit with an error.
        let started = Instant::now();
        let mut exit_watch = exit_rx.clone();
        loop {
            if exit_watch.borrow().is_some() {
                let err = std::fs::read_to_string(files.qemu_stderr()).unwrap_or_default();
                let (summary, hint) = explain(&err, port);
                cleanup_run_files(files);
                return Err(VmError::QemuFailed { summary, stderr: err, hint });
            }
            if qmp::command(&files.qmp_socket(), "query-status", Duration::from_millis(500)).await.is_ok() {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                kill(pid, Signal::KILL);
                return Err(VmError::QemuFailed {
                    summary: "qemu did not open its control socket within 30 s".into(),
                    stderr: std::fs::read_to_string(files.qemu_stderr()).unwrap_or_default(),
                    hint: "Check `builderbar logs`; the machine may be overloaded.".into(),
                });
            }
            tokio::select! {
                _ = exit_watch.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }

        run.pid = pid;
        write_json(&files.run_record(), &run);
        self.inner.console.reset();
        self.set(status_from_run(VmState::Starting, &run));
        self.ensure_monitor(pid, Some(exit_rx.clone())).await;

        if accel == Accel::Kvm && req.settings.accelerator == Accelerator::Auto {
            if let Some(s) = self.kvm_watchdog(req, pid, exit_rx).await? {
                return Ok(s);
            }
        }
        Ok(self.status())
    }

    /// Nested KVM can hang before the guest prints anything. If nothing reaches the console
    /// in time, remember that KVM is broken here and start again under TCG, saying so.
    async fn kvm_watchdog(
        &self,
        req: &StartRequest,
        pid: u32,
        exit_rx: watch::Receiver<Option<ExitStatus>>,
    ) -> Result<Option<VmStatus>, VmError> {
        let files = self.files();
        let deadline = Instant::now() + KVM_WATCHDOG;
        while Instant::now() < deadline {
            if std::fs::metadata(files.console_log()).map(|m| m.len() > 0).unwrap_or(false) {
                return Ok(None);
            }
            if exit_rx.borrow().is_some() {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        warn!("KVM printed nothing within {} s; falling back to TCG", KVM_WATCHDOG.as_secs());
        std::fs::write(self.inner.ctx.kvm_broken_marker(), "KVM hung at early boot\n")
            .map_err(VmError::io("cannot write kvm-broken marker"))?;
        std::fs::write(files.stopping_marker(), b"").ok();
        kill(pid, Signal::KILL);
        wait_exit(pid, files, Duration::from_secs(5)).await;
        self.detach_monitor().await;
        let notice = "KVM hung at early boot on this machine (nested virtualization?), so the builder runs under \
                      TCG (slower). Set the accelerator to kvm to try it again."
            .to_string();
        let mut tcg = req.clone();
        tcg.settings.accelerator = Accelerator::Tcg;
        Box::pin(self.start_locked(&tcg, Some(notice))).await.map(Some)
    }

    /// Waits until Running; Failed or Stopped (or the timeout) is an error.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<VmStatus, VmError> {
        let mut rx = self.subscribe();
        let wait = async {
            loop {
                let s = rx.borrow_and_update().clone();
                match &s.state {
                    VmState::Running => return Ok(s),
                    VmState::Failed { reason, hint, .. } => {
                        return Err(VmError::Failed { reason: reason.clone(), hint: hint.clone() })
                    }
                    VmState::Stopped => {
                        return Err(VmError::Failed {
                            reason: "the builder stopped while it was starting".into(),
                            hint: "Start it again; `builderbar console` shows the boot.".into(),
                        })
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(VmError::NotRunning);
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| VmError::ReadyTimeout { secs: timeout.as_secs() })?
    }

    /// Graceful stop: the guest's power key (QMP system_powerdown), then QMP quit, then SIGKILL. The state disk survives.
    pub async fn stop(&self, graceful_timeout: Duration) -> Result<VmStatus, VmError> {
        let _op = self.inner.op.lock().await;
        let files = self.files();
        let _lock = ControlLock::acquire(&files.control_lock(), graceful_timeout + Duration::from_secs(60)).await?;
        let Some(pid) = live_pid(&files.pidfile()) else {
            cleanup_run_files(files);
            let _ = std::fs::remove_file(files.failure_record());
            self.detach_monitor().await;
            self.set(VmStatus::stopped());
            return Ok(self.status());
        };
        std::fs::write(files.stopping_marker(), b"").map_err(VmError::io("cannot write the stopping marker"))?;
        let mut s = self.status();
        s.state = VmState::Stopping;
        s.pid = Some(pid);
        self.set(s);
        // A guest that is still booting may not handle the power key yet (and runs no
        // builds): give it only a moment before qemu is told to quit. A booting guest's
        // forward closes at once; a booted one under TCG takes up to ~0.5 s to send its
        // banner (measured, aarch64), so the probe waits longer than that.
        let port = read_json::<RunRecord>(&files.run_record()).map(|r| r.port);
        let booted = match port {
            Some(p) => probe_banner(p, Duration::from_secs(2)).await.is_some(),
            None => false,
        };
        let graceful_timeout = if booted { graceful_timeout } else { graceful_timeout.min(Duration::from_secs(3)) };
        info!(pid, booted, "asking the guest to power off");
        if let Err(e) = qmp::command(&files.qmp_socket(), "system_powerdown", Duration::from_secs(3)).await {
            warn!("system_powerdown failed: {e}");
        }
        let mut exited = wait_exit(pid, files, graceful_timeout).await;
        if !exited {
            warn!(pid, "guest did not power off within {} s; telling qemu to quit", graceful_timeout.as_secs());
            let _ = qmp::command(&files.qmp_socket(), "quit", Duration::from_secs(2)).await;
            exited = wait_exit(pid, files, Duration::from_secs(5)).await;
        }
        if !exited {
            warn!(pid, "qemu did not quit; killing it");
            kill(pid, Signal::KILL);
            wait_exit(pid, files, Duration::from_secs(5)).await;
        }
        self.detach_monitor().await;
        cleanup_run_files(files);
        let _ = std::fs::remove_file(files.failure_record());
        self.set(VmStatus::stopped());
        Ok(self.status())
    }

    async fn detach_monitor(&self) {
        if let Some(m) = self.inner.monitor.lock().await.take() {
            let _ = m.stop.send(true);
        }
    }

    /// Starts watching `pid` unless we already do: console log follower, readiness, exit.
    async fn ensure_monitor(&self, pid: u32, exit_rx: Option<watch::Receiver<Option<ExitStatus>>>) {
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
        tokio::spawn(async move { me.monitor(pid, exit_rx, stop_rx).await });
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
                        self.set(status_from_run(state, r));
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
            if let Some(m) = self.inner.monitor.lock().await.take_if(|m| m.pid == pid) {
                let _ = m.stop.send(true);
            }
            self.set(VmStatus::stopped());
            return;
        }
        let reason = match child_exit {
            Some(st) => describe_exit(st),
            None if files.pidfile().exists() => "qemu exited unexpectedly (it was killed or crashed)".into(),
            None => "the guest shut down on its own".into(),
        };
        warn!(pid, %reason, "builder ended");
        let mut tail = self.inner.console.tail_lines(20);
        if tail.is_empty() {
            tail = log_tail(&files.console_log());
        }
        let record = FailureRecord {
            reason,
            hint: "Read the console lines below for the guest's last words; start the builder again when ready.".into(),
            console_tail: tail,
        };
        write_json(&files.failure_record(), &record);
        cleanup_run_files(files);
        self.set(failed_status(&record));
        if let Some(m) = self.inner.monitor.lock().await.take_if(|m| m.pid == pid) {
            let _ = m.stop.send(true);
        }
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

fn describe_exit(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (_, Some(9)) => "qemu was killed (SIGKILL)".into(),
        (_, Some(sig)) => format!("qemu was terminated by signal {sig}"),
        (Some(0), _) => "the guest shut down on its own".into(),
        (Some(c), _) => format!("qemu exited with status {c}"),
        _ => "qemu exited".into(),
    }
}

/// The state as the VM directory tells it, for any process.
async fn derive_status(files: &VmFiles, console: &ConsoleHub) -> VmStatus {
    let run = read_json::<RunRecord>(&files.run_record());
    if let Some(pid) = live_pid(&files.pidfile()) {
        let Some(run) = run else { return VmStatus { pid: Some(pid), ..VmStatus::of(VmState::Starting) } };
        // Running = the banner answers; a booted guest under TCG can take over 0.5 s to send it.
        let state = if files.stopping_marker().exists() {
            VmState::Stopping
        } else if probe_banner(run.port, Duration::from_secs(2)).await.is_some() {
            VmState::Running
        } else {
            VmState::Starting
        };
        return VmStatus { pid: Some(pid), ..status_from_run(state, &run) };
    }
    if let Some(f) = read_json::<FailureRecord>(&files.failure_record()) {
        return failed_status(&f);
    }
    match run {
        Some(_) if files.stopping_marker().exists() => VmStatus::of(VmState::Stopping),
        Some(_) => {
            // It ended with nobody watching: record why, once, for everyone.
            let reason = if files.pidfile().exists() {
                "qemu exited unexpectedly (it was killed or crashed)"
            } else {
                "the guest shut down on its own"
            };
            let mut tail = console.tail_lines(20);
            if tail.is_empty() {
                tail = log_tail(&files.console_log());
            }
            let record = FailureRecord {
                reason: reason.into(),
                hint: "Read the console lines below for the guest's last words; start the builder again when ready."
                    .into(),
                console_tail: tail,
            };
            write_json(&files.failure_record(), &record);
            cleanup_run_files(files);
            failed_status(&record)
        }
        None => VmStatus::stopped(),
    }
}

fn status_from_run(state: VmState, run: &RunRecord) -> VmStatus {
    VmStatus {
        state,
        pid: Some(run.pid),
        port: Some(run.port),
        accelerator: Some(run.accelerator.clone()),
        image: Some(run.image_name.clone()),
        started_at_ms: Some(run.started_at_ms),
        notice: run.notice.clone(),
    }
}

fn failed_status(f: &FailureRecord) -> VmStatus {
    VmStatus::of(VmState::Failed {
        reason: f.reason.clone(),
        hint: f.hint.clone(),
        console_tail: f.console_tail.clone(),
    })
}

/// Removes what a finished run leaves: sockets, stale pidfile, run record, stopping marker.
fn cleanup_run_files(files: &VmFiles) {
    for p in [files.qmp_socket(), files.serial_socket(), files.run_record(), files.stopping_marker()] {
        let _ = std::fs::remove_file(p);
    }
    if live_pid(&files.pidfile()).is_none() {
        let _ = std::fs::remove_file(files.pidfile());
    }
}

async fn wait_exit(pid: u32, files: &VmFiles, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if live_pid(&files.pidfile()) != Some(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn log_tail(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    crate::vm::console::tail_lines(&bytes[bytes.len().saturating_sub(64 * 1024)..], 20)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) {
    let bytes = serde_json::to_vec_pretty(value).expect("json");
    if let Err(e) = crate::fsutil::write_atomic(path, &bytes, 0o644) {
        warn!("cannot write {}: {e}", path.display());
    }
}

/// The socket directory must be ours alone: other users must not reach qemu's sockets.
fn private_dir(dir: &std::path::Path) -> Result<(), VmError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(dir).map_err(VmError::io(format!("cannot read {}", dir.display())))?;
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(VmError::Io {
            what: format!("{} belongs to another user", dir.display()),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(VmError::io(format!("cannot protect {}", dir.display())))
}

pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn qemu_install_hint(host: Host, program: &str) -> String {
    match host.os {
        Os::Macos => format!(
            "Builderbar's image normally brings its own qemu; otherwise install it with `nix profile install \
             nixpkgs#qemu` so {program} is on PATH."
        ),
        Os::Linux => {
            let pkg = if program.ends_with("aarch64") { "qemu-system-arm" } else { "qemu-system-x86" };
            format!("Install it: `sudo apt-get install {pkg}` (Debian/Ubuntu) or your distribution's qemu package.")
        }
    }
}

#[cfg(test)]
mod tests;
