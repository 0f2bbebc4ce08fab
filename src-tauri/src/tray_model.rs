//! What the tray shows for a state: icon, status line and the Start/Stop toggle. Pure data, so
//! it is tested without a tray and answered to `app_tray_state`.

use builderbar_core::metrics::MetricsSample;
use builderbar_core::vm::{VmState, VmStatus};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrayIcon {
    Stopped,
    Starting,
    Running,
    Building,
    Failed,
}

impl TrayIcon {
    pub fn name(self) -> &'static str {
        match self {
            TrayIcon::Stopped => "stopped",
            TrayIcon::Starting => "starting",
            TrayIcon::Running => "running",
            TrayIcon::Building => "building",
            TrayIcon::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrayView {
    pub icon: TrayIcon,
    pub status_line: String,
    pub toggle_label: String,
    pub toggle_enabled: bool,
    /// The state name (`stopped`, `running`, ...), for tests and the tooltip.
    pub state: String,
}

impl Default for TrayView {
    fn default() -> TrayView {
        TrayView::of(&VmStatus::stopped(), None, false)
    }
}

impl TrayView {
    /// `sample` is the newest CPU/memory sample while running; `building` is true while a
    /// build runs in the guest.
    pub fn of(status: &VmStatus, sample: Option<MetricsSample>, building: bool) -> TrayView {
        let (icon, line) = match &status.state {
            VmState::Stopped => (TrayIcon::Stopped, "Stopped".to_string()),
            VmState::Starting => (TrayIcon::Starting, "Starting…".to_string()),
            VmState::Stopping => (TrayIcon::Starting, "Stopping…".to_string()),
            VmState::Running => {
                let icon = if building { TrayIcon::Building } else { TrayIcon::Running };
                let word = if building { "Building" } else { "Running" };
                let line = match sample {
                    Some(s) => format!("{word} · {:.0}% CPU · {}", s.cpu_percent, human_bytes(s.rss_bytes)),
                    None => word.to_string(),
                };
                (icon, line)
            }
            VmState::Failed { reason, .. } => (TrayIcon::Failed, format!("Failed: {}", ellipsize(reason, 60))),
        };
        let (toggle_label, toggle_enabled) = match status.state {
            VmState::Stopped | VmState::Failed { .. } => ("Start Builder", true),
            VmState::Running => ("Stop Builder", true),
            VmState::Starting => ("Stop Builder", false),
            VmState::Stopping => ("Start Builder", false),
        };
        TrayView {
            icon,
            status_line: line,
            toggle_label: toggle_label.into(),
            toggle_enabled,
            state: status.state.name().into(),
        }
    }
}

/// The tray's inputs and what they render to.
#[derive(Debug, Clone, Default)]
pub struct TrayModel {
    status: Option<VmStatus>,
    sample: Option<MetricsSample>,
    pub view: TrayView,
}

impl TrayModel {
    /// A new state; returns the view when it changed. Samples belong to one run only.
    pub fn set_status(&mut self, status: &VmStatus) -> Option<TrayView> {
        if status.state != VmState::Running || self.status.as_ref().map(|s| s.pid) != Some(status.pid) {
            self.sample = None;
        }
        self.status = Some(status.clone());
        self.render()
    }

    /// A new CPU/memory sample; returns the view when the line changed.
    pub fn set_sample(&mut self, sample: MetricsSample) -> Option<TrayView> {
        if self.status.as_ref().is_some_and(|s| s.state == VmState::Running) {
            self.sample = Some(sample);
        }
        self.render()
    }

    fn render(&mut self) -> Option<TrayView> {
        let status = self.status.clone().unwrap_or_else(VmStatus::stopped);
        let view = TrayView::of(&status, self.sample, false);
        (view != self.view).then(|| {
            self.view = view.clone();
            view
        })
    }
}

/// "1.4 GB", "512 MB": decimal units, one decimal from 1 GB up, as the menu bar shows them.
pub fn human_bytes(n: u64) -> String {
    const GB: f64 = 1e9;
    const MB: f64 = 1e6;
    let f = n as f64;
    if f >= GB {
        format!("{:.1} GB", f / GB)
    } else {
        format!("{:.0} MB", f / MB)
    }
}

fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> VmStatus {
        VmStatus::of(VmState::Running)
    }

    #[test]
    fn the_status_line_names_state_cpu_and_memory() {
        let s = MetricsSample { at_ms: 0, cpu_percent: 12.3, rss_bytes: 1_400_000_000 };
        let v = TrayView::of(&running(), Some(s), false);
        assert_eq!(v.status_line, "Running · 12% CPU · 1.4 GB");
        assert_eq!((v.icon, v.toggle_label.as_str(), v.toggle_enabled), (TrayIcon::Running, "Stop Builder", true));
        assert_eq!(TrayView::of(&running(), None, true).icon, TrayIcon::Building);
        assert_eq!(human_bytes(530_000_000), "530 MB");
    }

    #[test]
    fn the_toggle_is_disabled_while_transitioning() {
        for st in [VmState::Starting, VmState::Stopping] {
            assert!(!TrayView::of(&VmStatus::of(st), None, false).toggle_enabled);
        }
        let v = TrayView::of(&VmStatus::stopped(), None, false);
        assert_eq!(
            (v.status_line.as_str(), v.toggle_label.as_str(), v.toggle_enabled),
            ("Stopped", "Start Builder", true)
        );
    }

    #[test]
    fn the_model_reports_changes_only_and_drops_samples_when_the_run_ends() {
        let mut m = TrayModel::default();
        let mut r = running();
        r.pid = Some(7);
        assert_eq!(m.set_status(&r).unwrap().status_line, "Running");
        let s = MetricsSample { at_ms: 0, cpu_percent: 3.0, rss_bytes: 2_000_000_000 };
        assert_eq!(m.set_sample(s).unwrap().status_line, "Running · 3% CPU · 2.0 GB");
        assert!(m.set_sample(s).is_none());
        assert_eq!(m.set_status(&VmStatus::stopped()).unwrap().status_line, "Stopped");
        assert!(m.set_sample(s).is_none(), "no CPU line while stopped");
    }

    #[test]
    fn a_failure_shows_its_reason_shortened() {
        let st = VmStatus::of(VmState::Failed { reason: "x".repeat(100), hint: String::new(), console_tail: vec![] });
        let v = TrayView::of(&st, None, false);
        assert_eq!(v.icon, TrayIcon::Failed);
        assert!(v.status_line.starts_with("Failed: xxx") && v.status_line.chars().count() == 68, "{}", v.status_line);
        assert!(v.toggle_enabled);
    }
}
