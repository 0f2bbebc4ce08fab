//! `builderbar`: the command line over builderbar-core (the same core the tray app uses).

mod cli;
mod commands;
mod context;
mod error;
mod exit;
mod logging;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let _log = logging::init(args.verbose, args.quiet);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let code = rt.block_on(commands::run(args));
    // Background tasks (console followers) must not keep the process alive.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
