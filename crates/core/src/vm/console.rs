//! The serial console: a bounded history ring fanned out to subscribers, fed by qemu's
//! console log, and input written back to the guest's serial socket.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::broadcast;

/// Bounded console history: the newest `capacity` bytes.
#[derive(Debug)]
pub struct ConsoleRing {
    buf: VecDeque<u8>,
    capacity: usize,
}

impl ConsoleRing {
    pub fn new(capacity: usize) -> ConsoleRing {
        ConsoleRing { buf: VecDeque::with_capacity(capacity.min(1 << 20)), capacity }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let bytes = if bytes.len() > self.capacity { &bytes[bytes.len() - self.capacity..] } else { bytes };
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.capacity);
        self.buf.drain(..overflow);
        self.buf.extend(bytes);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn snapshot(&self) -> Vec<u8> {
        let (a, b) = self.buf.as_slices();
        [a, b].concat()
    }

    /// The last `n` complete or partial lines, lossily decoded, without control characters.
    pub fn tail_lines(&self, n: usize) -> Vec<String> {
        tail_lines(&self.snapshot(), n)
    }
}

pub fn tail_lines(bytes: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control() || *c == '\t').collect::<String>())
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// `text` with every control character shown instead of acted on by a terminal: C0 controls
/// and DEL in caret notation (ESC is `^[`), C1 controls as `\u{9b}`; tabs and newlines stay.
/// What the guest printed cannot move the cursor, retitle the window or type for the user.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            '\0'..='\x1f' => {
                out.push('^');
                out.push(char::from(c as u8 + 0x40));
            }
            '\x7f' => out.push_str("^?"),
            '\u{80}'..='\u{9f}' => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// History plus live fan-out. A slow subscriber misses chunks (it sees `Lagged` and can
/// re-read history); it never slows the reader or the guest.
#[derive(Clone)]
pub struct ConsoleHub {
    ring: Arc<Mutex<ConsoleRing>>,
    tx: broadcast::Sender<Bytes>,
}

impl std::fmt::Debug for ConsoleHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleHub").finish_non_exhaustive()
    }
}

pub const DEFAULT_HISTORY: usize = 1 << 20;
/// The largest chunk the follower publishes.
pub const READ_CHUNK: usize = 16 * 1024;
/// Chunks kept for subscribers that have not read them yet (64 x 16 KiB = 1 MiB).
pub const LIVE_CHUNKS: usize = 64;

impl ConsoleHub {
    pub fn new(history: usize) -> ConsoleHub {
        // At most LIVE_CHUNKS chunks of at most READ_CHUNK bytes wait for a slow subscriber:
        // with the ring, memory stays bounded by twice the history size.
        let (tx, _) = broadcast::channel(LIVE_CHUNKS);
        ConsoleHub { ring: Arc::new(Mutex::new(ConsoleRing::new(history))), tx }
    }

    pub fn publish(&self, bytes: Bytes) {
        let mut ring = self.ring.lock().expect("console ring");
        ring.push(&bytes);
        // Sent under the ring lock, so a subscriber's history and live stream neither gap nor overlap.
        let _ = self.tx.send(bytes);
    }

    /// History so far and a receiver for everything after it.
    pub fn subscribe(&self) -> (Vec<u8>, broadcast::Receiver<Bytes>) {
        let ring = self.ring.lock().expect("console ring");
        (ring.snapshot(), self.tx.subscribe())
    }

    pub fn history(&self) -> Vec<u8> {
        self.ring.lock().expect("console ring").snapshot()
    }

    pub fn tail_lines(&self, n: usize) -> Vec<String> {
        self.ring.lock().expect("console ring").tail_lines(n)
    }

    /// Forgets history (a new boot starts a new log).
    pub fn reset(&self) {
        self.ring.lock().expect("console ring").clear();
    }
}

/// Finds a marker line in a byte stream that arrives in arbitrary chunks.
#[derive(Debug)]
pub struct MarkerScanner {
    marker: String,
    line: Vec<u8>,
}

impl MarkerScanner {
    pub fn new(marker: &str) -> MarkerScanner {
        MarkerScanner { marker: marker.to_string(), line: Vec::new() }
    }

    /// True once a line equal to the marker (ignoring surrounding whitespace/CR) has been seen in `chunk`.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        let mut found = false;
        for &b in chunk {
            if b == b'\n' {
                found |= String::from_utf8_lossy(&self.line).trim() == self.marker;
                self.line.clear();
            } else if self.line.len() < 4096 {
                self.line.push(b);
            }
        }
        found
    }
}

/// Follows qemu's console log file from the start, publishing new bytes to the hub and
/// reporting readiness. Wakes on file events; a slow timer only covers missed events.
pub struct LogFollower {
    pub path: PathBuf,
    pub hub: ConsoleHub,
    pub marker: Option<MarkerScanner>,
}

impl LogFollower {
    /// Runs until `stop` resolves. `on_marker` fires each time the marker line appears.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>, on_marker: impl Fn() + Send + 'static) {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<()>(1);
        let _watcher = watch_dir(self.path.parent().unwrap_or(Path::new(".")), wake_tx);
        let mut file: Option<tokio::fs::File> = None;
        let mut pos: u64 = 0;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if file.is_none() {
                if let Ok(f) = tokio::fs::File::open(&self.path).await {
                    file = Some(f);
                    pos = 0;
                }
            }
            if let Some(f) = file.as_mut() {
                // A rotated or truncated log: start over with the new file.
                let len = tokio::fs::metadata(&self.path).await.map(|m| m.len()).unwrap_or(0);
                if len < pos {
                    file = None;
                    continue;
                }
                let _ = f.seek(std::io::SeekFrom::Start(pos)).await;
                loop {
                    match f.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            pos += n as u64;
                            let chunk = &buf[..n];
                            if self.marker.as_mut().is_some_and(|m| m.feed(chunk)) {
                                on_marker();
                            }
                            self.hub.publish(Bytes::copy_from_slice(chunk));
                        }
                    }
                }
            }
            tokio::select! {
                _ = wake_rx.recv() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

/// File events for a directory, as wake-ups. None if the platform watcher is unavailable
/// (the follower's slow timer still works then).
fn watch_dir(dir: &Path, wake: tokio::sync::mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut w = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        let _ = wake.try_send(());
    })
    .ok()?;
    w.watch(dir, notify::RecursiveMode::NonRecursive).ok()?;
    Some(w)
}

/// Writes bytes to the guest's serial console. qemu's socket serves one client at a time,
/// so input uses a short connection per write.
pub async fn send_input(serial_socket: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let fut = async {
        let mut s = tokio::net::UnixStream::connect(serial_socket).await?;
        s.write_all(bytes).await?;
        // Half-close, then wait for qemu to close its end: it reads our bytes before it sees
        // the end of the stream. Closing at once raced qemu under load: on a hang-up it may
        // drop the connection with our bytes unread. (Its output here is in console.log too.)
        s.shutdown().await?;
        let mut sink = [0u8; 4096];
        while s.read(&mut sink).await? > 0 {}
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(2), fut).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the serial console did not accept input (is another console attached?)",
        )
    })?
}

/// Moves console.log to console.log.1 (and so on), keeping `keep` old boots.
pub fn rotate_log(path: &Path, keep: usize) {
    let name = |i: usize| PathBuf::from(format!("{}.{i}", path.display()));
    let _ = std::fs::remove_file(name(keep));
    for i in (1..keep).rev() {
        let _ = std::fs::rename(name(i), name(i + 1));
    }
    let _ = std::fs::rename(path, name(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_bytes_within_capacity() {
        let mut r = ConsoleRing::new(8);
        r.push(b"hello ");
        r.push(b"world");
        assert_eq!(r.snapshot(), b"lo world");
        r.push(b"0123456789abc");
        assert_eq!(r.snapshot(), b"56789abc");
        assert_eq!(r.len(), 8);
    }

    #[test]
    fn printable_shows_escapes_as_text() {
        let shown = printable("a\x1b]0;title\x07\x1b[2Jb\u{9b}6n\x7f\tc\n");
        assert_eq!(shown, "a^[]0;title^G^[[2Jb\\u{9b}6n^?\tc\n");
        assert!(!shown.chars().any(|c| c.is_control() && c != '\t' && c != '\n'));
    }

    #[test]
    fn tail_lines_drops_control_characters_and_blank_lines() {
        assert_eq!(tail_lines(b"a\r\n\x1b[0mb\r\n\r\nc", 2), vec!["[0mb".to_string(), "c".to_string()]);
    }

    #[test]
    fn marker_is_found_across_chunk_boundaries_only_as_a_whole_line() {
        let mut m = MarkerScanner::new("BUILDERBAR-READY");
        assert!(!m.feed(b"boot... BUILDERBAR-"));
        assert!(!m.feed(b"READY is coming\r\nBUILDER"));
        assert!(m.feed(b"BAR-READY\r\n"));
    }

    #[tokio::test]
    async fn subscribers_get_history_then_live_bytes_and_a_slow_one_lags_without_blocking() {
        let hub = ConsoleHub::new(1 << 16);
        hub.publish(Bytes::from_static(b"early "));
        let (hist, mut rx) = hub.subscribe();
        assert_eq!(hist, b"early ");
        let (_h2, mut slow) = hub.subscribe();
        hub.publish(Bytes::from_static(b"late"));
        assert_eq!(&rx.recv().await.unwrap()[..], b"late");
        for _ in 0..=LIVE_CHUNKS {
            hub.publish(Bytes::from_static(b"x"));
        }
        assert!(matches!(slow.recv().await, Err(broadcast::error::RecvError::Lagged(_))));
    }

    #[tokio::test]
    async fn follower_publishes_appended_bytes_and_sees_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        std::fs::write(&log, b"first line\n").unwrap();
        let hub = ConsoleHub::new(1 << 16);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
        let f = LogFollower { path: log.clone(), hub: hub.clone(), marker: Some(MarkerScanner::new("READY")) };
        let task = tokio::spawn(f.run(stop_rx, move || {
            let _ = ready_tx.send(());
        }));
        let (_, mut rx) = hub.subscribe();
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"READY\n").unwrap();
        tokio::time::timeout(Duration::from_secs(5), ready_rx.recv()).await.unwrap().unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"READY\n") {
            got.extend_from_slice(&tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap());
        }
        assert_eq!(hub.history(), b"first line\nREADY\n");
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }

    #[test]
    fn rotation_keeps_a_bounded_number_of_old_logs() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        for i in 0..5 {
            std::fs::write(&log, format!("boot {i}")).unwrap();
            rotate_log(&log, 3);
        }
        assert!(!log.exists());
        assert_eq!(std::fs::read_to_string(dir.path().join("console.log.1")).unwrap(), "boot 4");
        assert_eq!(std::fs::read_to_string(dir.path().join("console.log.3")).unwrap(), "boot 2");
        assert!(!dir.path().join("console.log.4").exists());
    }
}
