//! One module per command group; `run` dispatches and turns the result into an exit code.

mod console;
mod doctor;
mod image;
mod keys;
mod logs;
mod serve;
mod settings;
mod setup;
mod ssh;
mod vm;

use crate::cli::{Cli, Command};
use crate::context::Ctx;
use crate::error::CliError;
use crate::exit;

pub async fn run(cli: Cli) -> i32 {
    let ctx = Ctx::new();
    let result = match cli.command {
        Command::Start { wait, image, timeout } => vm::start(&ctx, wait, image.as_deref(), timeout).await,
        Command::Stop { timeout } => vm::stop(&ctx, timeout).await,
        Command::Status { json } => vm::status(&ctx, json).await,
        Command::Watch { json, until } => vm::watch(&ctx, json, until.as_deref()).await,
        Command::Argv { image, json } => vm::argv(&ctx, image.as_deref(), json),
        Command::Serve => serve::run(&ctx).await,
        Command::Console { history, no_input } => console::run(&ctx, history, no_input).await,
        Command::Logs { console, lines, raw } => logs::run(&ctx, console, lines, raw),
        Command::Ssh { command } => ssh::run(&ctx, &command).await,
        Command::Settings { action } => settings::run(&ctx, action).await,
        Command::Keys { action } => keys::run(&ctx, action).await,
        Command::Setup { target, yes, dry_run, trust_me, no_test_build, no_harden } => {
            setup::setup(&ctx, &target, yes, dry_run, trust_me, !no_test_build, !no_harden).await
        }
        Command::Unsetup { target, yes, dry_run } => setup::unsetup(&ctx, &target, yes, dry_run).await,
        Command::Image { action } => image::run(&ctx, action).await,
        Command::Doctor { target, json } => doctor::run(&ctx, &target, json).await,
    };
    result.map(|()| exit::OK).unwrap_or_else(CliError::report)
}
