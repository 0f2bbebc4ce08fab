//! The doctor's report: what the CLI prints, `--json` emits and the doctor window shows.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
    /// Not run because something it needs failed or does not apply here.
    Skip,
}

/// One check. `cause` and `fix` are set whenever the status is not Pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DoctorCheck {
    /// Stable identifier (`nix-installed`, `builder-reachable`, ...).
    pub id: String,
    pub title: String,
    pub status: CheckStatus,
    /// What was found ("Nix 2.8.0", "port 31022 free").
    pub detail: String,
    pub cause: Option<String>,
    pub fix: Option<String>,
}

impl DoctorCheck {
    pub fn pass(id: &str, title: &str, detail: impl Into<String>) -> DoctorCheck {
        DoctorCheck {
            id: id.into(),
            title: title.into(),
            status: CheckStatus::Pass,
            detail: detail.into(),
            cause: None,
            fix: None,
        }
    }

    pub fn problem(
        status: CheckStatus,
        id: &str,
        title: &str,
        detail: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> DoctorCheck {
        DoctorCheck {
            id: id.into(),
            title: title.into(),
            status,
            detail: detail.into(),
            cause: Some(cause.into()),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DoctorReport {
    pub checks: Vec<DoctorCheck>,
    #[ts(type = "number")]
    pub generated_at_ms: u64,
}

impl DoctorReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }

    pub fn get(&self, id: &str) -> Option<&DoctorCheck> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// A plain-text report for the terminal and the "Copy report" button.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                CheckStatus::Pass => "ok  ",
                CheckStatus::Warn => "warn",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skip => "skip",
            };
            out.push_str(&format!("[{mark}] {}: {}\n", c.title, c.detail));
            if let Some(cause) = &c.cause {
                out.push_str(&format!("       cause: {cause}\n"));
            }
            if let Some(fix) = &c.fix {
                out.push_str(&format!("       fix:   {fix}\n"));
            }
        }
        out
    }
}
