//! start, stop, status, watch, argv: the builder's lifecycle from a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use builderbar_core::vm::{StartRequest, VmState, VmStatus};
use builderbar_core::UserFacing;

use crate::context::Ctx;
use crate::exit;

pub async fn start(ctx: &Ctx, wait: bool, image: Option<&Path>, timeout: u64) -> i32 {
    let settings = match ctx.settings() {
        Ok(s) => s,
        Err(e) => return exit::report(&e, exit::ERROR),
    };
    let image_dir = match ctx.image_dir(image, &settings) {
        Ok(d) => d,
        Err(e) => return exit::report(&e, exit::ERROR),
    };
    eprintln!("Starting the builder from {} …", image_dir.display());
    let status = match ctx.supervisor.start(StartRequest { settings, image_dir }).await {
        Ok(s) => s,
        Err(e) => return exit::report(&e, exit::vm_code(&e)),
    };
    if let Some(n) = &status.notice {
        eprintln!("note: {n}");
    }
    if status.state == VmState::Running {
        eprintln!("The builder is already running (pid {}).", status.pid.unwrap_or(0));
        return exit::OK;
    }
    eprintln!(
        "qemu is running (pid {}, {}); the guest is booting.",
        status.pid.unwrap_or(0),
        status.accelerator.as_deref().unwrap_or("?")
    );
    if !wait {
        eprintln!("`builderbar status` shows when it is ready; `builderbar console` shows the boot.");
        return exit::OK;
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
            exit::OK
        }
        Err(e) => {
            let code = exit::report(&e, exit::vm_code(&e));
            print_console_tail(&ctx.supervisor.status());
            code
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

pub async fn stop(ctx: &Ctx, timeout: Option<u64>) -> i32 {
    let secs = timeout.unwrap_or_else(|| ctx.settings().map(|s| u64::from(s.stop_timeout_secs)).unwrap_or(30));
    let before = ctx.supervisor.refresh().await;
    let running = !matches!(before.state, VmState::Stopped | VmState::Failed { .. });
    if !running {
        eprintln!("The builder is not running.");
    } else {
        eprintln!("Stopping the builder (guest power-off, up to {secs} s) …");
    }
    match ctx.supervisor.stop(Duration::from_secs(secs)).await {
        Ok(_) => {
            if running {
                eprintln!("Stopped. The state disk is kept.");
            }
            exit::OK
        }
        Err(e) => exit::report(&e, exit::vm_code(&e)),
    }
}

pub async fn status(ctx: &Ctx, json: bool) -> i32 {
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
        VmState::Failed { .. } => exit::FAILED,
        _ => exit::OK,
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

pub async fn watch(ctx: &Ctx, json: bool, until: Option<&str>) -> i32 {
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
                return exit::OK;
            }
            last = Some(s);
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return exit::ERROR },
            // Another process may start or stop the VM: look again once a second.
            _ = tick.tick() => { ctx.supervisor.refresh().await; }
            _ = tokio::signal::ctrl_c() => return exit::OK,
        }
    }
}

pub fn argv(ctx: &Ctx, image: Option<&Path>, json: bool) -> i32 {
    let run = || -> Result<String, Box<dyn UserFacing>> {
        let settings = ctx.settings().map_err(|e| Box::new(e) as Box<dyn UserFacing>)?;
        let dir = ctx.image_dir(image, &settings).map_err(|e| Box::new(e) as Box<dyn UserFacing>)?;
        let manifest =
            builderbar_core::image::ImageManifest::load(&dir).map_err(|e| Box::new(e) as Box<dyn UserFacing>)?;
        let facts = builderbar_core::vm::accel::AccelFacts::probe(&ctx.paths.vm_dir.join("kvm-broken"));
        let accel = builderbar_core::vm::accel::resolve(settings.accelerator, ctx.host, manifest.guest_arch(), facts)
            .map_err(|e| Box::new(e) as Box<dyn UserFacing>)?;
        let files = builderbar_core::vm::VmFiles::new(&ctx.paths);
        let argv = builderbar_core::vm::qemu_argv(ctx.host, &manifest, &settings, accel, &files);
        Ok(if json { serde_json::to_string_pretty(&argv).expect("an argv serializes") } else { argv.pretty() })
    };
    match run() {
        Ok(text) => {
            println!("{text}");
            exit::OK
        }
        Err(e) => exit::report(e.as_ref(), exit::ERROR),
    }
}
