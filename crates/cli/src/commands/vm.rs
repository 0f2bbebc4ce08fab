//! start, stop, status, watch, argv: the builder's lifecycle from a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use builderbar_core::api;
use builderbar_core::vm::supervisor::health::DiskLoss;
use builderbar_core::vm::{VmState, VmStatus};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::exit;

pub async fn start(ctx: &Ctx, wait: bool, image: Option<&Path>, timeout: u64) -> CliResult {
    let settings = ctx.settings()?;
    let image_dir = match image {
        Some(p) => p.to_path_buf(),
        None => api::builder::image_dir(ctx.vm(), &settings)?,
    };
    eprintln!("Starting the builder from {} …", image_dir.display());
    let status = api::builder::start(&ctx.supervisor, &settings, Some(&image_dir)).await?;
    if let Some(n) = &status.notice {
        eprintln!("note: {n}");
    }
    if status.state == VmState::Running {
        eprintln!("The builder is already running (pid {}).", status.pid.unwrap_or(0));
        return Ok(());
    }
    eprintln!(
        "qemu is running (pid {}, {}); the guest is booting.",
        status.pid.unwrap_or(0),
        status.accelerator.as_deref().unwrap_or("?")
    );
    if !wait {
        eprintln!("`builderbar status` shows when it is ready; `builderbar console` shows the boot.");
        return Ok(());
    }
    let progress = show_progress(ctx);
    let result = ctx.supervisor.wait_ready(Duration::from_secs(timeout)).await;
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    match result {
        Ok(s) => {
            eprintln!("The builder is ready: ssh on 127.0.0.1:{}.", s.port.unwrap_or(0));
            Ok(())
        }
        Err(e) => {
            let code = CliError::from(e).report();
            print_console_tail(&ctx.supervisor.status());
            Err(CliError::Exit(code))
        }
    }
}

/// While waiting, the last console line on one updating line (only on a terminal).
fn show_progress(ctx: &Ctx) -> tokio::task::JoinHandle<()> {
    let hub = ctx.supervisor.console().clone();
    tokio::spawn(async move {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let width = 100;
        loop {
            if let Some(line) = hub.tail_lines(1).pop() {
                let line: String = line.chars().take(width).collect();
                eprint!("\r\x1b[2K  booting │ {line}");
                let _ = std::io::stderr().flush();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

fn print_console_tail(status: &VmStatus) {
    if let VmState::Failed { console_tail, .. } = &status.state {
        if !console_tail.is_empty() {
            eprintln!("last console lines:");
            for l in console_tail {
                eprintln!("  │ {l}");
            }
        }
    }
}

pub async fn stop(ctx: &Ctx, timeout: Option<u64>) -> CliResult {
    // A settings file that cannot be read must not keep the builder from stopping.
    let settings = ctx.settings().unwrap_or_default();
    let timeout = timeout.map(Duration::from_secs);
    let secs = timeout.map(|t| t.as_secs()).unwrap_or(u64::from(settings.stop_timeout_secs));
    let before = ctx.supervisor.refresh().await;
    let running = !matches!(before.state, VmState::Stopped | VmState::Failed { .. });
    // Asked before the stop: the run's record of its disk goes with it.
    let lost = if running { ctx.supervisor.state_disk_lost() } else { None };
    if !running {
        eprintln!("The builder is not running.");
    } else {
        eprintln!("Stopping the builder (guest power-off, up to {secs} s) …");
    }
    api::builder::stop(&ctx.supervisor, &settings, timeout).await?;
    if running {
        let disk = ctx.vm().files.state_disk();
        match lost {
            Some(DiskLoss::Deleted) => eprintln!(
                "Stopped. The state disk {} was deleted while the builder ran: what the builder stored on it is \
                 gone, and the next start creates a new, empty one.",
                disk.display()
            ),
            Some(DiskLoss::Replaced) => eprintln!(
                "Stopped. The state disk {} was replaced while the builder ran: what the builder stored since it \
                 started is gone; the next start uses the disk now at that path.",
                disk.display()
            ),
            None if disk.exists() => eprintln!("Stopped. The state disk is kept."),
            None => eprintln!("Stopped."),
        }
    }
    Ok(())
}

pub async fn status(ctx: &Ctx, json: bool) -> CliResult {
    let s = ctx.supervisor.refresh().await;
    let now = builderbar_core::vm::state::now_ms();
    let gateway = builderbar_core::gateway::serving_port(&ctx.paths.vm_dir);
    if json {
        let mut v = serde_json::to_value(&s).expect("json");
        v["uptime_secs"] = serde_json::json!(s.uptime_secs(now));
        v["gateway_port"] = serde_json::json!(gateway);
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!("{}", describe(&s, now));
        if let Some(p) = gateway {
            println!("  gateway:      127.0.0.1:{p} (on demand)");
        }
    }
    match s.state {
        VmState::Failed { .. } => Err(CliError::Exit(exit::FAILED)),
        _ => Ok(()),
    }
}

pub fn describe(s: &VmStatus, now_ms: u64) -> String {
    let mut out = String::new();
    let head = match (&s.state, s.pid, s.uptime_secs(now_ms)) {
        (VmState::Failed { reason, .. }, _, _) => format!("Builder: failed — {reason}"),
        (st, Some(pid), Some(up)) => format!("Builder: {} (pid {pid}, up {})", st.name(), human_secs(up)),
        (st, _, _) => format!("Builder: {}", st.name()),
    };
    out.push_str(&head);
    if let Some(i) = &s.image {
        out.push_str(&format!("\n  image:        {i}"));
    }
    if let Some(a) = &s.accelerator {
        out.push_str(&format!("\n  accelerator:  {a}"));
    }
    if let Some(p) = s.port {
        out.push_str(&format!("\n  ssh:          127.0.0.1:{p}"));
    }
    if let Some(n) = &s.notice {
        out.push_str(&format!("\n  note:         {n}"));
    }
    if let VmState::Failed { hint, console_tail, .. } = &s.state {
        out.push_str(&format!("\n  hint:         {hint}"));
        if !console_tail.is_empty() {
            out.push_str("\n  last console lines:");
            for l in console_tail {
                out.push_str(&format!("\n    │ {l}"));
            }
        }
    }
    out
}

fn human_secs(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub async fn watch(ctx: &Ctx, json: bool, until: Option<&str>) -> CliResult {
    let mut rx = ctx.supervisor.subscribe();
    ctx.supervisor.attach().await;
    let mut last: Option<VmStatus> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let s = rx.borrow_and_update().clone();
        if last.as_ref() != Some(&s) {
            if json {
                println!("{}", serde_json::to_string(&s).expect("json"));
            } else {
                println!("{}", describe(&s, builderbar_core::vm::state::now_ms()).lines().next().unwrap_or(""));
            }
            let _ = std::io::stdout().flush();
            if until.is_some_and(|u| u == s.state.name()) {
                return Ok(());
            }
            last = Some(s);
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Err(CliError::Exit(exit::ERROR)) },
            // Another process may start or stop the VM: look again once a second.
            _ = tick.tick() => { ctx.supervisor.refresh().await; }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

pub fn argv(ctx: &Ctx, image: Option<&Path>, json: bool) -> CliResult {
    let settings = ctx.settings()?;
    let dir = match image {
        Some(p) => p.to_path_buf(),
        None => api::builder::image_dir(ctx.vm(), &settings)?,
    };
    let manifest = builderbar_core::image::ImageManifest::load(&dir)?;
    let files = builderbar_core::vm::VmFiles::new(&ctx.paths);
    let facts = builderbar_core::vm::accel::AccelFacts::probe(&files.kvm_broken_marker());
    let accel = builderbar_core::vm::accel::resolve(settings.accelerator, ctx.host, manifest.guest_arch(), facts)?;
    let argv = builderbar_core::vm::qemu_argv(ctx.host, &manifest, &settings, accel, &files);
    if json {
        println!("{}", serde_json::to_string_pretty(&argv).expect("an argv serializes"));
    } else {
        println!("{}", argv.pretty());
    }
    Ok(())
}
