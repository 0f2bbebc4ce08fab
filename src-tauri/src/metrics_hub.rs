//! Samples the qemu process at 1 Hz, only while someone watches (a window or the tray line).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use builderbar_core::metrics::{MetricsSample, ProcessSampler};
use builderbar_core::vm::Supervisor;

pub const PERIOD: Duration = Duration::from_secs(1);

/// A consumer of samples; returns false once it is gone (its window closed).
pub type Sink = Arc<dyn Fn(MetricsSample) -> bool + Send + Sync>;

#[derive(Clone)]
pub struct MetricsHub {
    supervisor: Supervisor,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    sinks: HashMap<String, Sink>,
    /// The sampling task, while it runs.
    running: bool,
}

impl MetricsHub {
    pub fn new(supervisor: Supervisor) -> MetricsHub {
        MetricsHub { supervisor, inner: Arc::default() }
    }

    /// Adds (or replaces) the watcher `key` and starts sampling if it was idle.
    pub fn watch(&self, key: &str, sink: Sink) {
        let start = {
            let mut inner = self.inner.lock().expect("metrics");
            inner.sinks.insert(key.to_string(), sink);
            !std::mem::replace(&mut inner.running, true)
        };
        if start {
            let me = self.clone();
            tauri::async_runtime::spawn(async move { me.run().await });
        }
    }

    /// Removes the watcher `key`; sampling stops at its next tick when none is left.
    pub fn unwatch(&self, key: &str) -> bool {
        self.inner.lock().expect("metrics").sinks.remove(key).is_some()
    }

    pub fn watchers(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.lock().expect("metrics").sinks.keys().cloned().collect();
        v.sort();
        v
    }

    /// Whether the sampling task runs now.
    pub fn is_sampling(&self) -> bool {
        self.inner.lock().expect("metrics").running
    }

    async fn run(self) {
        let mut sampler: Option<ProcessSampler> = None;
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let sinks: Vec<(String, Sink)> = {
                let mut inner = self.inner.lock().expect("metrics");
                if inner.sinks.is_empty() {
                    inner.running = false;
                    return;
                }
                inner.sinks.iter().map(|(k, s)| (k.clone(), s.clone())).collect()
            };
            let pid = self.supervisor.status().pid;
            if sampler.as_ref().map(|s| s.pid()) != pid {
                sampler = pid.and_then(ProcessSampler::new);
            }
            let Some(sample) = sampler.as_mut().and_then(|s| s.sample()) else {
                sampler = None;
                continue;
            };
            let gone: Vec<String> = sinks.into_iter().filter(|(_, s)| !s(sample)).map(|(k, _)| k).collect();
            if !gone.is_empty() {
                let mut inner = self.inner.lock().expect("metrics");
                for k in gone {
                    inner.sinks.remove(&k);
                }
            }
        }
    }
}
