//! Logging: stderr at a level from -v/-q or BUILDERBAR_LOG, and a daily-rotated file in the log dir.

use std::io::IsTerminal;
use tracing_appender::non_blocking::WorkerGuard;

use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use builderbar_core::host::Host;
use builderbar_core::paths::AppPaths;

pub const LOG_FILE_PREFIX: &str = "builderbar.log";

/// The log target of errors `CliError::report` prints itself (kept off stderr here).
pub const REPORTED: &str = "builderbar::reported";

/// Keeps the file writer alive for the life of the process.
pub fn init(verbose: u8, quiet: bool) -> Option<WorkerGuard> {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let stderr_filter = EnvFilter::try_from_env("BUILDERBAR_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    // An error the CLI reports is printed once, by `CliError::report`; here it goes to the file.
    let not_reported = filter_fn(|m| m.target() != REPORTED);
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colours only for a terminal: a pipe or a log file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(stderr_filter.and(not_reported));
    let paths = AppPaths::detect(Host::detect());
    let file = std::fs::create_dir_all(&paths.log_dir).ok().and_then(|_| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(LOG_FILE_PREFIX)
            .max_log_files(7)
            .build(&paths.log_dir)
            .ok()
    });
    match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file_layer = fmt::layer().with_writer(writer).with_ansi(false).with_filter(EnvFilter::new("info"));
            tracing_subscriber::registry().with(stderr).with(file_layer).init();
            Some(guard)
        }
        None => {
            tracing_subscriber::registry().with(stderr).init();
            None
        }
    }
}
