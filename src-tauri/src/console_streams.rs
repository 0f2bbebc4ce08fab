//! One console stream per window: history first, then live bytes from the hub, batched.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use builderbar_core::vm::ConsoleHub;
use bytes_batch::Batcher;
use tokio::sync::broadcast::error::RecvError;

/// Flush a batch after this long even if it is small...
pub const MAX_DELAY: Duration = Duration::from_millis(16);
/// ...or as soon as it holds this many bytes.
pub const MAX_BATCH: usize = 64 * 1024;

/// The streams by window label; attaching again replaces the window's old stream.
#[derive(Default)]
pub struct ConsoleStreams {
    tasks: Mutex<HashMap<String, tokio::task::AbortHandle>>,
}

impl ConsoleStreams {
    /// Starts streaming `hub` to `send` for `label`. `send` returns false once its receiver is
    /// gone, which ends the stream.
    pub fn attach(&self, label: &str, hub: &ConsoleHub, send: impl Fn(Vec<u8>) -> bool + Send + Sync + 'static) {
        let (history, rx) = hub.subscribe();
        let task = tauri::async_runtime::spawn(pump(history, rx, send));
        let old = self.tasks.lock().expect("console streams").insert(label.to_string(), task.inner().abort_handle());
        if let Some(old) = old {
            old.abort();
        }
    }

    /// Ends the stream of `label`; false when it had none.
    pub fn detach(&self, label: &str) -> bool {
        match self.tasks.lock().expect("console streams").remove(label) {
            Some(t) => {
                t.abort();
                true
            }
            None => false,
        }
    }

    pub fn active(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tasks.lock().expect("console streams").keys().cloned().collect();
        v.sort();
        v
    }
}

async fn pump(
    history: Vec<u8>,
    mut rx: tokio::sync::broadcast::Receiver<bytes::Bytes>,
    send: impl Fn(Vec<u8>) -> bool + Send + Sync + 'static,
) {
    // The first message is the history, even when empty: the window knows it is attached.
    if !send(history) {
        return;
    }
    let mut batch = Batcher::new(MAX_BATCH);
    loop {
        match rx.recv().await {
            Ok(b) => batch.push(&b),
            Err(RecvError::Lagged(n)) => batch.push(lag_note(n).as_bytes()),
            Err(RecvError::Closed) => return,
        }
        let deadline = tokio::time::Instant::now() + MAX_DELAY;
        let mut closed = false;
        while !batch.full() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Ok(b)) => batch.push(&b),
                Ok(Err(RecvError::Lagged(n))) => batch.push(lag_note(n).as_bytes()),
                Ok(Err(RecvError::Closed)) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if !send(batch.take()) || closed {
            return;
        }
    }
}

fn lag_note(chunks: u64) -> String {
    format!("\r\n[builderbar: the console window fell behind; {chunks} chunks of output were skipped]\r\n")
}

mod bytes_batch {
    /// Bytes gathered for one channel message.
    pub struct Batcher {
        buf: Vec<u8>,
        limit: usize,
    }

    impl Batcher {
        pub fn new(limit: usize) -> Batcher {
            Batcher { buf: Vec::new(), limit }
        }
        pub fn push(&mut self, b: &[u8]) {
            self.buf.extend_from_slice(b);
        }
        pub fn full(&self) -> bool {
            self.buf.len() >= self.limit
        }
        pub fn take(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    #[tokio::test]
    async fn history_comes_first_then_live_bytes_in_few_batches() {
        let hub = ConsoleHub::new(1 << 16);
        hub.publish(bytes::Bytes::from_static(b"boot\n"));
        let got: Arc<StdMutex<Vec<Vec<u8>>>> = Arc::default();
        let g = got.clone();
        let streams = ConsoleStreams::default();
        streams.attach("console", &hub, move |m| {
            g.lock().unwrap().push(m);
            true
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A burst within what the hub keeps for a subscriber (LIVE_CHUNKS).
        for _ in 0..50 {
            hub.publish(bytes::Bytes::from(vec![b'7'; 200]));
        }
        let arrived = || got.lock().unwrap()[1..].iter().map(Vec::len).sum::<usize>();
        for _ in 0..500 {
            if arrived() >= 10_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let msgs = got.lock().unwrap().clone();
        assert_eq!(msgs[0], b"boot\n");
        let live: Vec<u8> = msgs[1..].concat();
        assert_eq!(live.len(), 10_000);
        assert!(msgs.len() - 1 < 10, "50 chunks arrived in {} messages", msgs.len() - 1);
        assert_eq!(streams.active(), vec!["console".to_string()]);
        assert!(streams.detach("console"));
        assert!(!streams.detach("console"));
    }

    #[tokio::test]
    async fn a_batch_is_flushed_at_64_kib() {
        let hub = ConsoleHub::new(1 << 20);
        let got: Arc<StdMutex<Vec<usize>>> = Arc::default();
        let g = got.clone();
        let streams = ConsoleStreams::default();
        streams.attach("c", &hub, move |m| {
            g.lock().unwrap().push(m.len());
            true
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        for _ in 0..40 {
            hub.publish(bytes::Bytes::from(vec![b'x'; 8 * 1024]));
        }
        for _ in 0..500 {
            if got.lock().unwrap().iter().skip(1).sum::<usize>() >= 40 * 8 * 1024 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sizes = got.lock().unwrap().clone();
        assert_eq!(sizes[1..].iter().sum::<usize>(), 40 * 8 * 1024);
        assert!(sizes[1..].iter().all(|&n| n <= MAX_BATCH + 8 * 1024), "{sizes:?}");
        assert!(sizes.len() > 4, "{sizes:?}");
    }
}
