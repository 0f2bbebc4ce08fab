//! Console ingest throughput: bytes through `ConsoleHub` (history ring + broadcast) with one
//! subscriber draining it, side by side with raw reads of the same bytes in the same run.
//!
//!   CARGO_TARGET_DIR=/work/targets/bench cargo bench -p builderbar-core --bench console
//!
//! Before criterion runs, a memory check pushes 100 MiB through a hub and reports the ring
//! length and the live heap (counted by a wrapping global allocator) with a draining and
//! with a stalled subscriber. After it, a summary prints MB/s and the ratios.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Seek, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use builderbar_core::vm::console::{ConsoleRing, MarkerScanner, DEFAULT_HISTORY};
use builderbar_core::vm::ConsoleHub;
use bytes::Bytes;
use criterion::{black_box, Criterion, Throughput};
use tokio::sync::broadcast::error::RecvError;

/// Counts live heap bytes so the memory check measures what the hub holds, not allocator slack.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// The workspace denies unsafe code; a global allocator cannot be written without it. It only
// forwards to the system allocator and keeps a counter, in this benchmark binary alone.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes per measured iteration.
const TOTAL: usize = 32 << 20;
/// The follower reads console.log with a 64 KiB buffer; qemu's own chardev writes are smaller.
const CHUNKS: [usize; 2] = [4 << 10, 64 << 10];

/// Boot-log-like text: short lines, a marker-free stream (the scanner must look at every byte).
fn payload(len: usize) -> Vec<u8> {
    let line = b"[    1.234567] virtio_blk virtio1: [vda] 4194304 512-byte logical blocks (2.15 GB/2.00 GiB)\r\n";
    line.iter().copied().cycle().take(len).collect()
}

/// One subscriber on its own thread, draining until the empty end-of-stream chunk.
/// Returns (bytes received, messages lost to lag).
fn drain(hub: &ConsoleHub) -> std::thread::JoinHandle<(usize, u64)> {
    let (_history, mut rx) = hub.subscribe();
    std::thread::spawn(move || {
        let (mut got, mut lost) = (0usize, 0u64);
        loop {
            match rx.blocking_recv() {
                Ok(b) if b.is_empty() => return (got, lost),
                Ok(b) => got += b.len(),
                Err(RecvError::Lagged(n)) => lost += n,
                Err(RecvError::Closed) => return (got, lost),
            }
        }
    })
}

/// What the follower does per read: copy the chunk into a `Bytes`, optionally scan it for
/// the readiness marker, publish it.
fn ingest(hub: &ConsoleHub, marker: Option<&mut MarkerScanner>, chunk: &[u8]) {
    if let Some(m) = marker {
        black_box(m.feed(chunk));
    }
    hub.publish(Bytes::copy_from_slice(chunk));
}

/// Reads `TOTAL` bytes from a unix socket fed by a writer thread, handing each read to `sink`.
fn socket_run(data: &[u8], chunk: usize, mut sink: impl FnMut(&[u8])) {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            for c in data.chunks(chunk) {
                a.write_all(c).unwrap();
            }
        });
        let mut buf = vec![0u8; chunk];
        let mut left = data.len();
        while left > 0 {
            let n = b.read(&mut buf).unwrap();
            sink(&buf[..n]);
            left -= n;
        }
    });
}

/// Reads the whole file (in the page cache, like a console.log being followed) in `chunk` reads.
fn file_run(f: &mut std::fs::File, chunk: usize, mut sink: impl FnMut(&[u8])) {
    f.rewind().unwrap();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        sink(&buf[..n]);
    }
}

/// Runs `iters` ingests of TOTAL bytes through a fresh hub with one draining subscriber;
/// the time includes the subscriber having seen the end of the stream.
fn hub_timed(label: String, iters: u64, mut feed: impl FnMut(&ConsoleHub)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let hub = ConsoleHub::new(DEFAULT_HISTORY);
        let sub = drain(&hub);
        let t = Instant::now();
        feed(&hub);
        hub.publish(Bytes::new());
        let (got, lost) = sub.join().unwrap();
        total += t.elapsed();
        let mut d = DELIVERY.lock().unwrap();
        let e = d.entry(label.clone()).or_default();
        e.0 += TOTAL as u64;
        e.1 += got as u64;
        e.2 += lost;
    }
    total
}
/// Per benchmark: bytes published, bytes the subscriber received, chunks it lost to lag.
static DELIVERY: std::sync::Mutex<std::collections::BTreeMap<String, (u64, u64, u64)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn benches(c: &mut Criterion) {
    let data = payload(TOTAL);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("console.log");
    std::fs::write(&path, &data).unwrap();
    let mut file = std::fs::File::open(&path).unwrap();

    for chunk in CHUNKS {
        let mut g = c.benchmark_group(format!("console_ingest_{}KiB", chunk >> 10));
        g.throughput(Throughput::Bytes(TOTAL as u64)).sample_size(10).measurement_time(Duration::from_secs(4));

        g.bench_function("baseline_vec_copy", |b| {
            let mut dst = vec![0u8; chunk];
            b.iter(|| {
                for c in data.chunks(chunk) {
                    dst[..c.len()].copy_from_slice(c);
                    black_box(&dst);
                }
            })
        });
        g.bench_function("baseline_socket_read", |b| {
            b.iter(|| {
                socket_run(&data, chunk, |c| {
                    black_box(c);
                })
            })
        });
        g.bench_function("hub_socket_read", |b| {
            b.iter_custom(|iters| {
                hub_timed(format!("{}KiB/hub_socket_read", chunk >> 10), iters, |hub| {
                    socket_run(&data, chunk, |c| ingest(hub, None, c))
                })
            })
        });
        g.bench_function("baseline_file_read", |b| {
            b.iter(|| {
                file_run(&mut file, chunk, |c| {
                    black_box(c);
                })
            })
        });
        g.bench_function("hub_file_read", |b| {
            b.iter_custom(|iters| {
                hub_timed(format!("{}KiB/hub_file_read", chunk >> 10), iters, |hub| {
                    file_run(&mut file, chunk, |c| ingest(hub, None, c))
                })
            })
        });
        // The LogFollower's full per-read work: marker scan + copy + ring + broadcast.
        g.bench_function("follower_file_read", |b| {
            b.iter_custom(|iters| {
                hub_timed(format!("{}KiB/follower_file_read", chunk >> 10), iters, |hub| {
                    let mut m = MarkerScanner::new("BUILDERBAR-READY");
                    file_run(&mut file, chunk, |c| ingest(hub, Some(&mut m), c))
                })
            })
        });
        g.finish();
    }
}

/// Pushes 100 MiB through a ring and through a hub, and reports what stays in memory.
fn memory_check() {
    const PUSHED: usize = 100 << 20;
    let chunk = payload(64 << 10);

    let mut ring = ConsoleRing::new(DEFAULT_HISTORY);
    for _ in 0..PUSHED / chunk.len() {
        ring.push(&chunk);
    }
    println!("memory: ConsoleRing after 100 MiB pushed: len = {} (capacity {DEFAULT_HISTORY})", ring.len());
    assert_eq!(ring.len(), DEFAULT_HISTORY);
    drop(ring);

    for (label, stalled) in [("draining", false), ("stalled", true)] {
        let base = LIVE.load(Ordering::Relaxed);
        let hub = ConsoleHub::new(DEFAULT_HISTORY);
        let (_h, mut rx) = hub.subscribe();
        let mut peak = 0usize;
        for _ in 0..PUSHED / chunk.len() {
            hub.publish(Bytes::copy_from_slice(&chunk));
            if !stalled {
                while rx.try_recv().is_ok() {}
            }
            peak = peak.max(LIVE.load(Ordering::Relaxed).saturating_sub(base));
        }
        let live = LIVE.load(Ordering::Relaxed).saturating_sub(base);
        println!(
            "memory: ConsoleHub, 100 MiB in 64 KiB chunks, {label} subscriber: history = {} B, live heap = {:.1} MiB, peak = {:.1} MiB",
            hub.history().len(),
            live as f64 / (1 << 20) as f64,
            peak as f64 / (1 << 20) as f64
        );
        assert_eq!(hub.history().len(), DEFAULT_HISTORY);
    }
}

/// Medians from criterion's estimates, as MB/s and ratios against the baselines.
fn summary() {
    let home = std::env::var_os("CRITERION_HOME").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "target".into())
            .join("criterion")
    });
    let median = |group: &str, f: &str| -> Option<f64> {
        let p = home.join(group).join(f).join("new/estimates.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    println!("\nsummary (median; MB = 10^6 bytes):");
    for chunk in CHUNKS {
        let group = format!("console_ingest_{}KiB", chunk >> 10);
        let mbs = |f: &str| median(&group, f).map(|ns| TOTAL as f64 / (ns / 1e9) / 1e6);
        let row = |f: &str, base: &str| {
            if let (Some(x), Some(b)) = (mbs(f), mbs(base)) {
                println!("  {group:>20} {f:<22} {x:>8.0} MB/s   {:.2}x of {base}", x / b);
            }
        };
        if let Some(x) = mbs("baseline_vec_copy") {
            println!("  {group:>20} {:<22} {x:>8.0} MB/s", "baseline_vec_copy");
        }
        row("baseline_socket_read", "baseline_vec_copy");
        row("hub_socket_read", "baseline_socket_read");
        row("baseline_file_read", "baseline_vec_copy");
        row("hub_file_read", "baseline_file_read");
        row("follower_file_read", "baseline_file_read");
    }
    println!("\nsubscriber delivery (all iterations, warm-up included):");
    for (label, (sent, got, lost)) in DELIVERY.lock().unwrap().iter() {
        println!(
            "  {label:<28} received {:>6.2}% of {} MB published, {lost} chunks lost to lag",
            *got as f64 * 100.0 / *sent as f64,
            sent / 1_000_000
        );
    }
}

fn main() {
    memory_check();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    summary();
}
