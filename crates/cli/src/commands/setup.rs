//! setup, unsetup, doctor and key rotation: the Nix wiring from a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use builderbar_core::app_api;
use builderbar_core::doctor;
use builderbar_core::image::ImageManifest;
use builderbar_core::keys::InstallKeys;
use builderbar_core::privileged::{Applier, Elevation, Journal, SystemRunner};
use builderbar_core::settings::Settings;
use builderbar_core::setup::flow::BLOCKING_CHECKS;
use builderbar_core::setup::{
    plan_setup, plan_unsetup, user_name, wiring_target, BuilderIdentity, SetupPlan, TestBuild, WiringOverrides,
    WiringTarget,
};
use builderbar_core::vm::{StartRequest, VmState};

use crate::cli::WiringFlags;
use crate::context::Ctx;
use crate::exit;

struct Wiring {
    target: WiringTarget,
    elevation: Elevation,
}

fn wiring(ctx: &Ctx, flags: &WiringFlags, settings: &Settings, trust_user: Option<String>) -> Result<Wiring, i32> {
    let elevation = match &flags.elevation {
        Some(e) => Some(Elevation::parse(e).ok_or_else(|| {
            eprintln!("error: unknown elevation `{e}`\nhint: use osascript, pkexec, sudo or none");
            exit::USAGE
        })?),
        None => None,
    };
    let overrides = WiringOverrides {
        nix_conf_dir: flags.nix_conf_dir.clone(),
        ssh_config_dir: flags.ssh_config_dir.clone(),
        elevation,
        trusted_user: trust_user,
    };
    let (target, elevation) =
        wiring_target(ctx.host, settings, &overrides).map_err(|e| exit::report(&e, exit::ERROR))?;
    Ok(Wiring { target, elevation })
}

/// The settings and the wiring target every command here starts from.
fn settings_and_wiring(ctx: &Ctx, flags: &WiringFlags, trust: Option<String>) -> Result<(Settings, Wiring), i32> {
    let settings = ctx.settings().map_err(|e| exit::report(&e, exit::ERROR))?;
    let w = wiring(ctx, flags, &settings, trust)?;
    Ok((settings, w))
}

/// The setup Plan for this image and these keys.
fn plan_wiring(
    ctx: &Ctx,
    settings: &Settings,
    image: &ImageManifest,
    keys: &InstallKeys,
    w: &Wiring,
) -> Result<SetupPlan, i32> {
    let id =
        BuilderIdentity::new(image, keys, settings.port, settings.cores).map_err(|e| exit::report(&e, exit::ERROR))?;
    plan_setup(ctx.host, keys, &id, &w.target, w.elevation.tool()).map_err(|e| exit::report(&e, exit::ERROR))
}

fn load(ctx: &Ctx) -> Result<(Settings, PathBuf, ImageManifest, InstallKeys), i32> {
    let settings = ctx.settings().map_err(|e| exit::report(&e, exit::ERROR))?;
    let dir = ctx.image_dir(None, &settings).map_err(|e| exit::report(&e, exit::ERROR))?;
    let image = ImageManifest::load(&dir).map_err(|e| exit::report(&e, exit::ERROR))?;
    let keys = InstallKeys::ensure(&ctx.paths.keys_dir()).map_err(|e| exit::report(&e, exit::ERROR))?;
    Ok((settings, dir, image, keys))
}

fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} [y/N] (no terminal to ask; pass --yes to apply)");
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

fn show(plan: &SetupPlan) {
    if let Some(snippet) = &plan.view.darwin_snippet {
        println!("nix.conf is managed by nix-darwin, so Builderbar does not edit it.");
        println!("Add this to your nix-darwin configuration and run `darwin-rebuild switch`:\n");
        println!("{snippet}");
        return;
    }
    if plan.view.already_applied {
        println!("Nothing to change: Nix is already wired to the builder.");
        return;
    }
    println!("nix.conf is managed by: {}", plan.view.managed_by);
    println!("{}", plan.view.diff);
    if let Some(r) = &plan.view.restart {
        println!("then: {r}");
    }
}

/// Applies a Plan through one elevation; returns an exit code.
fn apply(ctx: &Ctx, plan: &SetupPlan, elevation: Elevation) -> i32 {
    let journal = Journal::new(&ctx.paths.data_dir);
    let runner = SystemRunner::default();
    match Applier::new(elevation, &runner).with_journal(&journal).apply(&plan.plan) {
        Ok(Some(applied)) => {
            eprintln!("Applied (journal entry {}; `builderbar unsetup` removes it).", applied.id);
            exit::OK
        }
        Ok(None) => exit::OK,
        Err(e) => exit::report(&e, exit::ERROR),
    }
}

async fn ensure_running(ctx: &Ctx, settings: &Settings, image_dir: PathBuf) -> Result<(), i32> {
    let st = ctx.supervisor.refresh().await;
    if st.state == VmState::Running {
        return Ok(());
    }
    eprintln!("Starting the builder for the test build …");
    ctx.supervisor
        .start(StartRequest { settings: settings.clone(), image_dir })
        .await
        .map_err(|e| exit::report(&e, exit::vm_code(&e)))?;
    ctx.supervisor.wait_ready(Duration::from_secs(300)).await.map_err(|e| exit::report(&e, exit::vm_code(&e)))?;
    Ok(())
}

pub async fn setup(ctx: &Ctx, flags: &WiringFlags, yes: bool, dry_run: bool, trust_me: bool, test: bool) -> i32 {
    let (settings, image_dir, image, keys) = match load(ctx) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let trust = trust_me.then(user_name).filter(|u| u != "root");
    let w = match wiring(ctx, flags, &settings, trust) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let report = match run_doctor(ctx, &w.target, &settings).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let blocking: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == doctor::CheckStatus::Fail && BLOCKING_CHECKS.contains(&c.id.as_str()))
        .collect();
    if !blocking.is_empty() {
        eprint!("{}", report.to_text());
        eprintln!("error: setup cannot continue until the failing checks above are fixed");
        return exit::CHECK_FAILED;
    }
    let plan = match plan_wiring(ctx, &settings, &image, &keys, &w) {
        Ok(p) => p,
        Err(code) => return code,
    };
    show(&plan);
    if dry_run || plan.view.darwin_snippet.is_some() {
        return exit::OK;
    }
    if !plan.view.already_applied {
        if !yes && !confirm("Apply these changes?") {
            eprintln!("Nothing was changed.");
            return exit::CHECK_FAILED;
        }
        let code = apply(ctx, &plan, w.elevation);
        if code != exit::OK {
            return code;
        }
    }
    if !test {
        return exit::OK;
    }
    if let Err(code) = ensure_running(ctx, &settings, image_dir).await {
        return code;
    }
    eprintln!("Proving it with a test build (nix-build --max-jobs 0) …");
    let result = TestBuild::new(&image.system, w.target.clone()).run();
    if result.ok {
        println!("Test build ran on the builder: {} ({} ms)", result.output, result.duration_ms);
        exit::OK
    } else {
        let e = result.error.unwrap_or_else(|| builderbar_core::error::ErrorReport {
            message: "unknown".into(),
            hint: String::new(),
            fields: vec![],
        });
        eprintln!("error: {}\nhint: {}", e.message, e.hint);
        exit::CHECK_FAILED
    }
}

pub async fn unsetup(ctx: &Ctx, flags: &WiringFlags, yes: bool, dry_run: bool) -> i32 {
    let (_, w) = match settings_and_wiring(ctx, flags, None) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let created_dirs = match Journal::new(&ctx.paths.data_dir).created_dirs() {
        Ok(d) => d,
        Err(e) => return exit::report(&e, exit::ERROR),
    };
    let plan = match plan_unsetup(ctx.host, &w.target, w.elevation.tool(), &created_dirs) {
        Ok(p) => p,
        Err(e) => return exit::report(&e, exit::ERROR),
    };
    if plan.plan.is_empty() {
        println!("Nothing to remove: Builderbar's wiring is not in place.");
        return exit::OK;
    }
    println!("{}", plan.view.diff);
    if dry_run {
        return exit::OK;
    }
    if !yes && !confirm("Remove Builderbar's wiring?") {
        eprintln!("Nothing was changed.");
        return exit::CHECK_FAILED;
    }
    apply(ctx, &plan, w.elevation)
}

async fn run_doctor(ctx: &Ctx, target: &WiringTarget, settings: &Settings) -> Result<doctor::DoctorReport, i32> {
    app_api::run_doctor(&ctx.supervisor, settings, Some(target)).await.map_err(|e| {
        eprintln!("error: {}\nhint: {}", e.message, e.hint);
        exit::ERROR
    })
}

pub async fn doctor(ctx: &Ctx, flags: &WiringFlags, json: bool) -> i32 {
    let (settings, w) = match settings_and_wiring(ctx, flags, None) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let report = match run_doctor(ctx, &w.target, &settings).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print!("{}", report.to_text());
    }
    if report.ok() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

pub async fn rotate(ctx: &Ctx, flags: &WiringFlags, yes: bool) -> i32 {
    let (settings, w) = match settings_and_wiring(ctx, flags, None) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let was = ctx.supervisor.refresh().await;
    let running = matches!(was.state, VmState::Running | VmState::Starting);
    if running {
        eprintln!("Stopping the builder to hand it the new host key …");
        if let Err(e) = ctx.supervisor.stop(Duration::from_secs(u64::from(settings.stop_timeout_secs))).await {
            return exit::report(&e, exit::vm_code(&e));
        }
    }
    let keys = match InstallKeys::rotate(&ctx.paths.keys_dir()) {
        Ok(k) => k,
        Err(e) => return exit::report(&e, exit::ERROR),
    };
    eprintln!("New keys generated.");
    let wired = w.target.installed_key().exists();
    if wired {
        let (_, _, image, _) = match load(ctx) {
            Ok(v) => v,
            Err(code) => return code,
        };
        let plan = match plan_wiring(ctx, &settings, &image, &keys, &w) {
            Ok(p) => p,
            Err(code) => return code,
        };
        show(&plan);
        if !yes && !confirm("Apply the new keys to Nix's configuration?") {
            eprintln!("The Nix wiring still pins the old key: run `builderbar setup` to update it.");
            return exit::CHECK_FAILED;
        }
        let code = apply(ctx, &plan, w.elevation);
        if code != exit::OK {
            return code;
        }
    }
    if running {
        let dir = match ctx.image_dir(None, &settings) {
            Ok(d) => d,
            Err(e) => return exit::report(&e, exit::ERROR),
        };
        if let Err(code) = ensure_running(ctx, &settings, dir).await {
            return code;
        }
        eprintln!("The builder is running with its new host key.");
    }
    exit::OK
}
