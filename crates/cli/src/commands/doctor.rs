//! `builderbar doctor`: the checks the doctor window shows, as text or JSON.

use builderbar_core::api;

use crate::cli::TargetFlags;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::exit;

pub async fn run(ctx: &Ctx, flags: &TargetFlags, json: bool) -> CliResult {
    let settings = ctx.settings()?;
    let flow = ctx.setup_flow(flags, &settings, None)?;
    let report = api::doctor::run(&ctx.supervisor, &settings, flow.target()).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print!("{}", report.to_text());
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::Exit(exit::CHECK_FAILED))
    }
}
