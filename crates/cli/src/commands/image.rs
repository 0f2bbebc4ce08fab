//! `builderbar image`: the image in use and its stage, fetch (stage 1), harden (stage 2 in
//! one Plan), use, list, remove: what the setup window does with images, from a terminal.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use builderbar_core::api::image::{FetchPhase, ImageFlow, ImageProgress, Switch, SwitchOutcome};
use builderbar_core::api::{SetupFlow, SetupPlanView};
use builderbar_core::image::nix_provider::{Cancel, Stage};
use builderbar_core::settings::Settings;

use crate::cli::{ImageAction, TargetFlags};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::exit;

use super::setup::confirm;

/// How often the progress line repeats while nothing else changes.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Prints a fetch as it goes, on stderr: each phase and activity as it starts, and the counts
/// and bytes every few seconds.
#[derive(Default)]
pub struct FetchPrinter {
    last: Mutex<Option<(FetchPhase, String, String, Instant)>>,
}

impl FetchPrinter {
    pub fn show(&self, p: &ImageProgress) {
        let mut last = self.last.lock().expect("printer");
        let summary = p.summary();
        let (phase_new, activity_new, due) = match &*last {
            None => (true, !p.activity.is_empty(), true),
            Some((phase, activity, line, at)) => {
                (*phase != p.phase, *activity != p.activity, *line != summary && at.elapsed() >= LINE_EVERY)
            }
        };
        if activity_new && !p.activity.is_empty() && !p.phase.is_final() {
            eprintln!("     {}", p.activity);
        }
        if phase_new || due {
            let mark = match p.phase {
                FetchPhase::Done => "ok  ",
                FetchPhase::Failed => "FAIL",
                FetchPhase::Cancelled => "stop",
                _ => " .. ",
            };
            eprintln!("[{mark}] Builder image ({}): {summary}", p.stage);
            if p.phase == FetchPhase::Evaluating && phase_new {
                eprintln!("     building {}", p.source);
            }
            *last = Some((p.phase, p.activity.clone(), summary, Instant::now()));
        } else if let Some(l) = last.as_mut() {
            l.1 = p.activity.clone();
        }
    }
}

/// A cancel that Ctrl-C fires.
fn ctrl_c_cancels() -> Cancel {
    let (handle, cancel) = Cancel::new();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nCancelling: Nix is being stopped; nothing will be changed …");
            handle.cancel();
        }
    });
    cancel
}

/// Fetches `stage` and makes it the image setting, printing progress; Ctrl-C cancels.
pub async fn fetch(ctx: &Ctx, settings: &Settings, stage: Stage) -> CliResult {
    let flow = ImageFlow::new(ctx.vm(), settings);
    let printer = FetchPrinter::default();
    let builder = ctx.supervisor.refresh().await;
    let in_use = flow.status().image;
    let end = flow.fetch_and_use(stage, &builder, &|p| printer.show(p), ctrl_c_cancels()).await;
    match end.phase {
        FetchPhase::Done => {
            let image = end.image.unwrap_or_default();
            println!("{image}");
            if in_use.is_some() {
                eprintln!(
                    "Linked; the builder still uses {}. `builderbar image use {image}` switches.",
                    in_use.unwrap_or_default()
                );
            }
            Ok(())
        }
        FetchPhase::Cancelled => Err(CliError::Exit(exit::CANCELLED)),
        _ => {
            if let Some(e) = end.error {
                for line in &end.log {
                    eprintln!("     | {line}");
                }
                eprintln!("error: {}\nhint: {}", e.message, e.hint);
            }
            Err(CliError::Exit(exit::ERROR))
        }
    }
}

fn stage_arg(s: &str) -> Result<Stage, CliError> {
    match s {
        "stock" | "1" => Ok(Stage::Stock),
        "builderbar" | "hardened" | "2" => Ok(Stage::Hardened),
        other => {
            Err(CliError::usage(format!("unknown stage `{other}`"), "use stock (stage 1) or builderbar (stage 2)"))
        }
    }
}

/// Runs a switch's outcome to the terminal.
fn told(outcome: SwitchOutcome) -> CliResult {
    match outcome {
        SwitchOutcome::Switched { image, test } => {
            println!("The builder now runs {}.", image.display());
            match test {
                Some(t) if t.ok => println!("Test build ran on it: {} ({} ms)", t.output, t.duration_ms),
                Some(t) => {
                    if let Some(e) = t.error {
                        eprintln!("error: {}\nhint: {}", e.message, e.hint);
                    }
                    eprintln!("The previous image's state disk is kept: `builderbar image use previous` goes back.");
                    return Err(CliError::Exit(exit::CHECK_FAILED));
                }
                None => println!("Nix is not wired to the builder yet: run `builderbar setup`."),
            }
            Ok(())
        }
        SwitchOutcome::AlreadyThere { image } => {
            println!("Already in use: {}", image.display());
            Ok(())
        }
        SwitchOutcome::Declined { image } => {
            eprintln!("Nothing was changed. The image stays linked at {}.", image.display());
            Err(CliError::Exit(exit::CHECK_FAILED))
        }
        SwitchOutcome::NixDarwin { image, settings } => {
            println!("nix-darwin writes the machines file, so the switch goes through your configuration.");
            println!("Set these and run `darwin-rebuild switch`; Builderbar then starts {}:\n", image.display());
            println!("{settings}");
            Ok(())
        }
    }
}

/// Shows the Plan and asks (unless `yes`).
fn approver(yes: bool) -> impl Fn(&SetupPlanView) -> bool + Send + Sync {
    move |view: &SetupPlanView| {
        println!("{}", view.diff);
        if let Some(r) = &view.restart {
            println!("then: {r}");
        }
        yes || confirm("Switch the builder to this image (stop, apply, start)?")
    }
}

/// Stage 2 in one go: build it on stage 1, switch in one Plan.
pub async fn harden(ctx: &Ctx, setup: &SetupFlow, settings: &Settings, yes: bool) -> CliResult {
    let images = ImageFlow::new(ctx.vm(), settings);
    let switch = Switch { images: &images, setup, supervisor: &ctx.supervisor };
    let printer = FetchPrinter::default();
    let approve = approver(yes);
    let outcome = switch.harden(&|p| printer.show(p), &approve, ctrl_c_cancels()).await?;
    told(outcome)
}

fn flow_for(ctx: &Ctx, target: &TargetFlags, settings: &Settings) -> Result<SetupFlow, CliError> {
    ctx.setup_flow(target, settings, None)
}

pub async fn run(ctx: &Ctx, action: ImageAction) -> CliResult {
    let settings = ctx.settings()?;
    let flow = ImageFlow::new(ctx.vm(), &settings);
    match action {
        ImageAction::Status { json } => {
            let s = flow.status();
            if json {
                println!("{}", serde_json::to_string_pretty(&s).expect("json"));
                return Ok(());
            }
            match (&s.image, &s.title) {
                (Some(dir), Some(title)) => println!("image:  {title}\n        {dir}"),
                (Some(dir), None) => println!("image:  {dir} (no readable manifest)"),
                _ => println!("image:  none yet"),
            }
            println!("stage:  {}", s.stage.as_deref().unwrap_or("-"));
            println!("        {}", s.stage_note);
            println!("source: {}", s.source);
            if let Some(d) = &s.previous_disk {
                println!("kept:   {d} (the previous image's state disk; `builderbar image use previous` goes back)");
            }
            Ok(())
        }
        ImageAction::List { json } => {
            let s = flow.status();
            if json {
                println!("{}", serde_json::to_string_pretty(&s.installed).expect("json"));
                return Ok(());
            }
            if s.installed.is_empty() {
                println!("No images under the caches directory yet (`builderbar image fetch`).");
            }
            for i in s.installed {
                let mark = if i.in_use { "*" } else { " " };
                println!("{mark} {:<20} {:<10} {}", i.name, i.stage, i.title);
            }
            Ok(())
        }
        ImageAction::Fetch { stage } => fetch(ctx, &settings, stage_arg(&stage)?).await,
        ImageAction::Harden { target, yes } => harden(ctx, &flow_for(ctx, &target, &settings)?, &settings, yes).await,
        ImageAction::Use { name, target, yes } => {
            let setup = flow_for(ctx, &target, &settings)?;
            let dir = flow.image_dir_named(&name)?;
            let switch = Switch { images: &flow, setup: &setup, supervisor: &ctx.supervisor };
            let printer = FetchPrinter::default();
            let approve = approver(yes);
            told(switch.switch_to(&dir, &|p| printer.show(p), &approve).await?)
        }
        ImageAction::Remove { name } => {
            let removed = flow.remove(&name)?;
            println!("Removed {} (`nix-collect-garbage` frees its store paths).", removed.display());
            Ok(())
        }
    }
}
