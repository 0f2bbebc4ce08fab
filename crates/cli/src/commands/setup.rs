//! `builderbar setup`, `unsetup` and `keys rotate`: the app's setup flow (`api::SetupFlow`) from
//! a terminal. The steps the setup window shows are printed as they change.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use builderbar_core::api::{self, SetupFlow, SetupPlanView, SetupStep, SetupStepId, StepState};
use builderbar_core::keys::InstallKeys;
use builderbar_core::privileged::AppliedPlan;
use builderbar_core::settings::Settings;
use builderbar_core::setup::{user_name, SetupPlan};
use builderbar_core::vm::VmState;

use builderbar_core::api::image::ImageFlow;
use builderbar_core::image::nix_provider::Stage;

use super::image;
use crate::cli::TargetFlags;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::exit;

/// How long setup and key rotation wait for the builder to boot.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// Prints a step when its state changes, or its detail says something new; one line each, on stderr.
#[derive(Default)]
struct StepPrinter {
    shown: Mutex<Vec<(SetupStepId, StepState, String)>>,
}

impl StepPrinter {
    fn show(&self, s: &SetupStep) {
        if s.state == StepState::Pending {
            return;
        }
        let mut shown = self.shown.lock().expect("steps shown");
        let same_state = shown.iter().find(|(id, ..)| *id == s.id).filter(|(_, state, _)| *state == s.state);
        if same_state.is_some_and(|(_, _, detail)| s.detail.is_empty() || *detail == s.detail) {
            return;
        }
        shown.retain(|(id, ..)| *id != s.id);
        shown.push((s.id, s.state, s.detail.clone()));
        let mark = match s.state {
            StepState::Pending => "    ",
            StepState::Running => " .. ",
            StepState::Done => "ok  ",
            StepState::Failed => "FAIL",
            StepState::Skipped => "skip",
        };
        if s.detail.is_empty() {
            eprintln!("[{mark}] {}", s.title);
        } else {
            eprintln!("[{mark}] {}: {}", s.title, s.detail);
        }
    }
}

pub(super) fn confirm(question: &str) -> bool {
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

/// The Plan as the setup window's review shows it: the diff, or nix-darwin's snippet.
fn show(view: &SetupPlanView) {
    if let Some(snippet) = &view.darwin_snippet {
        println!("nix.conf is managed by nix-darwin, so Builderbar does not edit it.");
        println!("Add this to your nix-darwin configuration and run `darwin-rebuild switch`:\n");
        println!("{snippet}");
        if !view.already_applied {
            println!("\nSetup installs the client key those lines name (root only, 0600):");
            println!("{}", view.diff);
        }
        return;
    }
    if view.already_applied {
        println!("Nothing to change: Nix is already wired to the builder.");
        return;
    }
    println!("nix.conf is managed by: {}", view.managed_by);
    println!("{}", view.diff);
    if let Some(r) = &view.restart {
        println!("then: {r}");
    }
}

fn applied_note(applied: Option<AppliedPlan>) {
    if let Some(a) = applied {
        eprintln!("Applied (journal entry {}; `builderbar unsetup` removes it).", a.id);
    }
}

fn removed_note(applied: Option<AppliedPlan>) {
    if let Some(a) = applied {
        eprintln!("Removed (journal entry {}).", a.id);
    }
}

/// The user's answer to the question before applying, and what to say when it is no.
struct Ask {
    yes: bool,
    question: &'static str,
    declined: &'static str,
}

/// Asks (unless `--yes`), then applies the setup Plan the user saw, printing the steps.
async fn apply(flow: &SetupFlow, plan: SetupPlan, printer: &StepPrinter, ask: Ask) -> CliResult {
    if !ask.yes && !confirm(ask.question) {
        eprintln!("{}", ask.declined);
        return Err(CliError::Exit(exit::CHECK_FAILED));
    }
    let applied = flow.apply(plan, &|s| printer.show(&s)).await?;
    applied_note(applied.journal);
    Ok(())
}

/// Asks a question whose answer is yes unless the user says no; without a terminal, no.
fn confirm_default_yes(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} [Y/n] (no terminal to ask; pass --yes to do it)");
        return false;
    }
    eprint!("{question} [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    !matches!(line.trim(), "n" | "N" | "no")
}

async fn ensure_running(ctx: &Ctx, settings: &Settings, why: &str) -> CliResult {
    if ctx.supervisor.refresh().await.state != VmState::Running {
        eprintln!("Starting the builder {why} …");
    }
    api::builder::ensure_running(&ctx.supervisor, settings, READY_TIMEOUT).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn setup(
    ctx: &Ctx,
    flags: &TargetFlags,
    yes: bool,
    dry_run: bool,
    trust_me: bool,
    test: bool,
    harden: bool,
) -> CliResult {
    let mut settings = ctx.settings()?;
    let trust = trust_me.then(user_name).filter(|u| u != "root");
    let mut flow = ctx.setup_flow(flags, &settings, trust.clone())?;
    let printer = StepPrinter::default();
    let (report, steps) = flow.check(&ctx.supervisor).await;
    if steps.iter().any(|s| s.id == SetupStepId::Checks && s.state == StepState::Failed) {
        eprint!("{}", report.to_text());
        eprintln!("error: setup cannot continue until the failing checks above are fixed");
        return Err(CliError::Exit(exit::CHECK_FAILED));
    }
    for s in &steps {
        printer.show(s);
    }
    if flow.image_missing() {
        if let Some(s) = steps.iter().find(|s| s.id == SetupStepId::Image) {
            println!("Builder image: {}", s.detail);
        }
        if dry_run {
            println!("(dry run: nothing fetched; the Plan depends on the image's host key)");
            return Ok(());
        }
        image::fetch(ctx, &settings, Stage::Stock).await?;
        settings = ctx.settings()?;
        flow = ctx.setup_flow(flags, &settings, trust)?;
        for s in flow.steps(None).iter().filter(|s| s.id == SetupStepId::Image) {
            printer.show(s);
        }
    }
    let plan = flow.plan()?;
    let view = flow.review(&plan);
    show(&view);
    if dry_run {
        return Ok(());
    }
    if !view.already_applied {
        let ask = Ask { yes, question: "Apply these changes?", declined: "Nothing was changed." };
        apply(&flow, plan, &printer, ask).await?;
    }
    if view.darwin_snippet.is_some() && !flow.builder_info()?.wired {
        println!(
            "Nix uses the builder once `darwin-rebuild switch` has put the lines above in place; then run \
             `builderbar setup` again for the test build."
        );
        return Ok(());
    }
    if test {
        let result = flow.test_build(&ctx.supervisor, &|s| printer.show(&s)).await?;
        printer.show(&result.step(ctx.host));
        if !result.ok {
            if let Some(e) = result.error {
                eprintln!("error: {}\nhint: {}", e.message, e.hint);
            }
            return Err(CliError::Exit(exit::CHECK_FAILED));
        }
        println!("Test build ran on the builder: {} ({} ms)", result.output, result.duration_ms);
    }
    offer_stage_two(ctx, &flow, &settings, yes, harden).await
}

/// At the end of setup on stage 1: why stage 2 matters, and the switch unless declined.
async fn offer_stage_two(ctx: &Ctx, flow: &SetupFlow, settings: &Settings, yes: bool, harden: bool) -> CliResult {
    let status = ImageFlow::new(ctx.vm(), settings).status();
    if status.stage.as_deref() != Some(Stage::Stock.name()) {
        return Ok(());
    }
    println!("\n{}", status.stage_note);
    if !harden {
        println!("Staying on stage 1 (--no-harden); `builderbar image harden` switches later.");
        return Ok(());
    }
    if !yes && !confirm_default_yes("Build stage 2 on this builder and switch to it now?") {
        println!("Later: `builderbar image harden`.");
        return Ok(());
    }
    image::harden(ctx, flow, settings, yes).await
}

pub async fn unsetup(ctx: &Ctx, flags: &TargetFlags, yes: bool, dry_run: bool) -> CliResult {
    let settings = ctx.settings()?;
    let flow = ctx.setup_flow(flags, &settings, None)?;
    let plan = flow.plan_removal()?;
    if plan.plan.is_empty() {
        println!("Nothing to remove: Builderbar's wiring is not in place.");
        return Ok(());
    }
    println!("{}", plan.plan.diff());
    if dry_run {
        return Ok(());
    }
    if !yes && !confirm("Remove Builderbar's wiring?") {
        eprintln!("Nothing was changed.");
        return Err(CliError::Exit(exit::CHECK_FAILED));
    }
    removed_note(api::setup::apply_plan(&ctx.paths.data_dir, plan.plan, flow.elevation()).await?);
    Ok(())
}

pub async fn rotate(ctx: &Ctx, flags: &TargetFlags, yes: bool) -> CliResult {
    let settings = ctx.settings()?;
    let flow = ctx.setup_flow(flags, &settings, None)?;
    let was = ctx.supervisor.refresh().await;
    let running = matches!(was.state, VmState::Running | VmState::Starting);
    if running {
        eprintln!("Stopping the builder to hand it the new host key …");
        api::builder::stop(&ctx.supervisor, &settings, None).await?;
    }
    InstallKeys::rotate(&ctx.paths.keys_dir())?;
    eprintln!("New keys generated.");
    if flow.target().installed_key().exists() {
        let plan = flow.plan()?;
        show(&flow.review(&plan));
        let printer = StepPrinter::default();
        let ask = Ask {
            yes,
            question: "Apply the new keys to Nix's configuration?",
            declined: "The Nix wiring still pins the old key: run `builderbar setup` to update it.",
        };
        apply(&flow, plan, &printer, ask).await?;
    }
    if running {
        ensure_running(ctx, &settings, "with its new host key").await?;
        eprintln!("The builder is running with its new host key.");
    }
    Ok(())
}
