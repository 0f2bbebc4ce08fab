//! `builderbar logs`: the newest app log file, or the guest's console log; control characters
//! shown as text unless `--raw`.

use std::io::Write;

use builderbar_core::vm::console::printable;

use crate::context::Ctx;
use crate::error::CliResult;
use crate::logging::LOG_FILE_PREFIX;

pub fn run(ctx: &Ctx, console: bool, lines: usize, raw: bool) -> CliResult {
    let path = if console {
        Some(builderbar_core::vm::VmFiles::new(&ctx.paths).console_log())
    } else {
        newest_log(&ctx.paths.log_dir)
    };
    let Some(path) = path.filter(|p| p.exists()) else {
        eprintln!("No log yet in {}.", if console { "the VM directory" } else { "the log directory" });
        return Ok(());
    };
    eprintln!("==> {} <==", path.display());
    let bytes = std::fs::read(&path).unwrap_or_default();
    if raw {
        let all: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        let mut out = std::io::stdout().lock();
        for l in &all[all.len().saturating_sub(lines)..] {
            let _ = out.write_all(l);
        }
        let _ = out.flush();
        return Ok(());
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    for l in &all[all.len().saturating_sub(lines)..] {
        // The guest (or anything that wrote the log) must not drive the user's terminal.
        println!("{}", printable(l));
    }
    Ok(())
}

fn newest_log(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(LOG_FILE_PREFIX))
        .map(|e| e.path())
        .collect();
    logs.sort();
    logs.pop()
}
