//! `builderbar console`: the serial console in the terminal; Ctrl-] detaches.

use std::io::{IsTerminal, Read, Write};

use builderbar_core::vm::console::send_input;
use builderbar_core::vm::{VmError, VmFiles, VmState};

use crate::context::Ctx;
use crate::error::CliResult;

const DETACH: u8 = 0x1d; // Ctrl-]

pub async fn run(ctx: &Ctx, history_only: bool, no_input: bool) -> CliResult {
    let status = ctx.supervisor.attach().await;
    let running = !matches!(status.state, VmState::Stopped | VmState::Failed { .. });
    // The follower fills the ring from this boot's log; give it a moment to catch up.
    let files = VmFiles::new(&ctx.paths);
    if history_only || !running {
        let bytes = std::fs::read(files.console_log()).unwrap_or_default();
        let mut out = std::io::stdout();
        let _ = out.write_all(&bytes);
        let _ = out.flush();
        if !running && !history_only {
            return Err(VmError::NotRunning.into());
        }
        return Ok(());
    }
    let (history, mut rx) = ctx.supervisor.console().subscribe();
    let mut out = std::io::stdout();
    let _ = out.write_all(&history);
    let _ = out.flush();
    let interactive = !no_input && std::io::stdin().is_terminal();
    if interactive {
        eprintln!("\r\n[attached to the builder's console; Ctrl-] detaches]\r");
    }
    let raw = interactive.then(RawMode::enable).flatten();
    let (in_tx, mut in_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    if !no_input {
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || in_tx.blocking_send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
    }
    let mut states = ctx.supervisor.subscribe();
    loop {
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Ok(b) => { let _ = out.write_all(&b); let _ = out.flush(); }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
            // None: stdin closed (a pipe); keep showing output until the VM stops.
            Some(bytes) = in_rx.recv() => {
                if interactive && bytes.contains(&DETACH) {
                    break;
                }
                if let Err(e) = send_input(&ctx.supervisor.serial_socket(), &bytes).await {
                    eprintln!("\r\nerror: {e}\r");
                }
            }
            r = states.changed() => {
                if r.is_err() { break; }
                let st = states.borrow().state.clone();
                if matches!(st, VmState::Stopped | VmState::Failed { .. }) {
                    break;
                }
            }
        }
    }
    drop(raw);
    if interactive {
        eprintln!("\r\n[detached]");
    }
    Ok(())
}

/// The terminal in raw mode while attached, restored on drop.
struct RawMode {
    saved: rustix::termios::Termios,
}

impl RawMode {
    fn enable() -> Option<RawMode> {
        let fd = rustix::stdio::stdin();
        let saved = rustix::termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(rustix::stdio::stdin(), rustix::termios::OptionalActions::Now, &self.saved);
    }
}
