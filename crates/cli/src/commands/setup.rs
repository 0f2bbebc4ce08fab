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

/// The Plan as the setup window's review shows it: the diff, or nix-darwin's snippet.
fn show(view: &SetupPlanView) {
    if let Some(snippet) = &view.darwin_snippet {
        println!("nix.conf is managed by nix-darwin, so Builderbar does not edit it.");
        println!("Add this to your nix-darwin configuration and run `darwin-rebuild switch`:\n");
        println!("{snippet}");
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

async fn ensure_running(ctx: &Ctx, settings: &Settings, why: &str) -> CliResult {
    if ctx.supervisor.refresh().await.state != VmState::Running {
        eprintln!("Starting the builder {why} …");
    }
    api::builder::ensure_running(&ctx.supervisor, settings, READY_TIMEOUT).await?;
    Ok(())
}

pub async fn setup(ctx: &Ctx, flags: &TargetFlags, yes: bool, dry_run: bool, trust_me: bool, test: bool) -> CliResult {
    let settings = ctx.settings()?;
    let trust = trust_me.then(user_name).filter(|u| u != "root");
    let flow = ctx.setup_flow(flags, &settings, trust)?;
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
    let plan = flow.plan()?;
    let view = flow.review(&plan);
    show(&view);
    if dry_run || view.darwin_snippet.is_some() {
        return Ok(());
    }
    if !view.already_applied {
        let ask = Ask { yes, question: "Apply these changes?", declined: "Nothing was changed." };
        apply(&flow, plan, &printer, ask).await?;
    }
    if !test {
        return Ok(());
    }
    ensure_running(ctx, &settings, "for the test build").await?;
    printer.show(&SetupStep::new(
        ctx.host,
        SetupStepId::TestBuild,
        StepState::Running,
        "proving the wiring with nix-build --max-jobs 0 …",
        None,
    ));
    let result = flow.test_build(&ctx.supervisor).await?;
    printer.show(&result.step(ctx.host));
    if result.ok {
        println!("Test build ran on the builder: {} ({} ms)", result.output, result.duration_ms);
        return Ok(());
    }
    if let Some(e) = result.error {
        eprintln!("error: {}\nhint: {}", e.message, e.hint);
    }
    Err(CliError::Exit(exit::CHECK_FAILED))
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
