//! Cost of one `ProcessSampler::sample()` for one pid (a child `sleep`), side by side with
//! reading and parsing /proc/<pid>/stat and /proc/<pid>/statm directly in the same run.
//!
//!   CARGO_TARGET_DIR=/work/targets/bench cargo bench -p builderbar-core --bench metrics

use std::time::Duration;

use builderbar_core::metrics::ProcessSampler;
use criterion::{black_box, Criterion};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

struct Reap(std::process::Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a minimal sampler reads: utime+stime (ticks) from stat and resident pages from statm.
fn proc_direct(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let rss_pages = statm.split(' ').nth(1).unwrap().parse::<u64>().unwrap();
    (ticks, rss_pages * 4096)
}

fn benches(c: &mut Criterion) {
    let child = Reap(std::process::Command::new("sleep").arg("600").spawn().unwrap());
    let pid = child.0.id();
    let mut g = c.benchmark_group("metrics_sample");
    g.sample_size(50).measurement_time(Duration::from_secs(3));

    g.bench_function("baseline_proc_stat_statm", |b| b.iter(|| black_box(proc_direct(black_box(pid)))));
    let mut sampler = ProcessSampler::new(pid).unwrap();
    g.bench_function("process_sampler_sample", |b| b.iter(|| black_box(sampler.sample().unwrap())));
    // For contrast: what refreshing every process would cost (the sampler refreshes one pid).
    let mut sys = System::new().unwrap();
    g.bench_function("contrast_sysinfo_refresh_all", |b| {
        b.iter(|| {
            black_box(sys.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            ))
        })
    });
    g.finish();
    drop(child);
}

fn summary() {
    let home = std::env::var_os("CRITERION_HOME").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "target".into())
            .join("criterion")
    });
    let median = |f: &str| -> Option<f64> {
        let p = home.join("metrics_sample").join(f).join("new/estimates.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    println!("\nsummary (median):");
    let base = median("baseline_proc_stat_statm");
    for f in ["baseline_proc_stat_statm", "process_sampler_sample", "contrast_sysinfo_refresh_all"] {
        if let (Some(ns), Some(b)) = (median(f), base) {
            println!("  {f:<30} {:>9.1} µs   {:.2}x of baseline", ns / 1e3, ns / b);
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    summary();
}
