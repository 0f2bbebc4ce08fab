//! CPU and memory of the qemu process, sampled by refreshing that one pid only.

use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use ts_rs::TS;

/// One sample of the VM's cost to the host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MetricsSample {
    /// Unix time in milliseconds.
    #[ts(type = "number")]
    pub at_ms: u64,
    /// Percent of one core (200 = two cores busy).
    pub cpu_percent: f32,
    #[ts(type = "number")]
    pub rss_bytes: u64,
}

/// Samples one process. CPU% is measured between consecutive samples, so the first is 0.
pub struct ProcessSampler {
    sys: System,
    pid: Pid,
}

impl ProcessSampler {
    pub fn new(pid: u32) -> Option<ProcessSampler> {
        let sys = System::new().ok()?;
        let mut s = ProcessSampler { sys, pid: Pid::from_u32(pid) };
        s.refresh();
        Some(s)
    }

    /// Refreshes our pid only; false when it no longer exists.
    fn refresh(&mut self) -> bool {
        // sysinfo keeps a vanished pid's last values when asked about it alone; ask the kernel.
        let alive = rustix::process::Pid::from_raw(self.pid.as_u32() as i32)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
        if !alive {
            return false;
        }
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        ) > 0
    }

    /// None once the process is gone.
    pub fn sample(&mut self) -> Option<MetricsSample> {
        if !self.refresh() {
            return None;
        }
        let p = self.sys.process(self.pid)?;
        Some(MetricsSample { at_ms: crate::vm::state::now_ms(), cpu_percent: p.cpu_usage(), rss_bytes: p.memory() })
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_u32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_a_busy_process_and_stops_when_it_is_gone() {
        struct Reap(std::process::Child);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut child = Reap(std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap());
        // sysinfo reports 0% until the process has used some CPU before the first sample.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut s = ProcessSampler::new(child.0.id()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let m = s.sample().unwrap();
        assert!(m.rss_bytes > 0);
        assert!(m.cpu_percent > 10.0, "busy loop measured at {}%", m.cpu_percent);
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        assert!(s.sample().is_none());
    }
}
