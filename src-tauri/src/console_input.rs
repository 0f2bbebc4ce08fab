//! Typing into the serial console. qemu's serial socket serves one client at a time, and the
//! core writes each input over a short connection (so `builderbar console` in a terminal can
//! attach too). Keystrokes arrive as separate IPC calls, possibly concurrently: they are queued
//! in arrival order and written by one task, coalescing what piled up meanwhile, so no two
//! connections overlap and nothing is reordered or dropped.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tracing::warn;

#[derive(Default)]
pub struct ConsoleInput {
    tx: Mutex<Option<UnboundedSender<Vec<u8>>>>,
}

impl ConsoleInput {
    /// Queues `bytes` for the console at `socket`; the writer task starts on first use.
    pub fn send(&self, socket: PathBuf, bytes: Vec<u8>) {
        let mut slot = self.tx.lock().expect("console input");
        if let Some(tx) = slot.as_ref() {
            if tx.send(bytes.clone()).is_ok() {
                return;
            }
        }
        let (tx, mut rx) = unbounded_channel::<Vec<u8>>();
        let _ = tx.send(bytes);
        *slot = Some(tx);
        tauri::async_runtime::spawn(async move {
            while let Some(mut batch) = rx.recv().await {
                while let Ok(more) = rx.try_recv() {
                    batch.extend(more);
                }
                write(&socket, &batch).await;
            }
        });
    }
}

/// One write, retried briefly while qemu is still closing the previous connection.
async fn write(socket: &std::path::Path, bytes: &[u8]) {
    let mut last = None;
    for attempt in 0..20 {
        match builderbar_core::vm::console::send_input(socket, bytes).await {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                last = Some(e);
                break;
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(10 + 10 * attempt)).await;
            }
        }
    }
    if let Some(e) = last {
        warn!("console input of {} bytes was not delivered: {e}", bytes.len());
    }
}
