//! What setup shows: its steps, the Plan under review, the test build's result and how Nix
//! reaches the builder; the setup window, the dashboard and `builderbar setup` show the same.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::error::ErrorReport;
use crate::host::{Host, Os};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

/// The steps of first-run setup, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum SetupStepId {
    Checks,
    Image,
    Keys,
    Authorize,
    Restart,
    TestBuild,
}

impl SetupStepId {
    pub const ALL: [SetupStepId; 6] = [
        SetupStepId::Checks,
        SetupStepId::Image,
        SetupStepId::Keys,
        SetupStepId::Authorize,
        SetupStepId::Restart,
        SetupStepId::TestBuild,
    ];

    /// What the setup window calls the step on `host` (only the checks name the machine).
    pub fn title(self, host: Host) -> &'static str {
        match self {
            SetupStepId::Checks => match host.os {
                Os::Macos => "Check this Mac",
                Os::Linux => "Check this computer",
            },
            SetupStepId::Image => "Builder image",
            SetupStepId::Keys => "SSH keys",
            SetupStepId::Authorize => "Authorize the change",
            SetupStepId::Restart => "Restart the Nix daemon",
            SetupStepId::TestBuild => "Test build",
        }
    }
}

/// One step of setup: checks, image, keys, authorize, restart, test build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SetupStep {
    pub id: SetupStepId,
    pub title: String,
    pub state: StepState,
    pub detail: String,
    /// 0..=1 while running, when the step can tell.
    pub progress: Option<f32>,
    pub error: Option<ErrorReport>,
}

impl SetupStep {
    /// A step as `host`'s setup window titles it.
    pub fn new(
        host: Host,
        id: SetupStepId,
        state: StepState,
        detail: impl Into<String>,
        error: Option<ErrorReport>,
    ) -> SetupStep {
        SetupStep { id, title: id.title(host).into(), state, detail: detail.into(), progress: None, error }
    }

    /// A failed step: its detail is the error's message.
    pub fn failed(host: Host, id: SetupStepId, error: ErrorReport) -> SetupStep {
        SetupStep::new(host, id, StepState::Failed, error.message.clone(), Some(error))
    }
}

/// The privileged Plan as the user reviews it before the one authorization prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SetupPlanView {
    /// Unified diff of every file the Plan writes or removes.
    pub diff: String,
    pub files: Vec<String>,
    /// How the change is authorized: "osascript", "pkexec", "sudo" or "none".
    pub elevation: String,
    /// The command that restarts the Nix daemon afterwards, if one is needed.
    pub restart: Option<String>,
    /// Who manages nix.conf: "plain", "nix-darwin" or "determinate".
    pub managed_by: String,
    /// For nix-darwin: the configuration to add instead of editing files.
    pub darwin_snippet: Option<String>,
    /// True when the wiring is already in place and nothing would change.
    pub already_applied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TestBuildResult {
    pub ok: bool,
    /// What the derivation built in the guest printed (kernel release, hostname).
    pub output: String,
    #[ts(type = "number")]
    pub duration_ms: u64,
    pub error: Option<ErrorReport>,
}

impl TestBuildResult {
    /// The test-build step as this result leaves it.
    pub fn step(&self, host: Host) -> SetupStep {
        match &self.error {
            None if self.ok => SetupStep::new(
                host,
                SetupStepId::TestBuild,
                StepState::Done,
                format!("built on the builder: {} ({} ms)", self.output, self.duration_ms),
                None,
            ),
            error => SetupStep::failed(
                host,
                SetupStepId::TestBuild,
                error.clone().unwrap_or_else(|| ErrorReport {
                    message: "the test build failed".into(),
                    hint: String::new(),
                    fields: vec![],
                }),
            ),
        }
    }
}

/// How Nix reaches the builder, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BuilderInfo {
    /// `ssh-ng://builder@builderbar-builder` (port and user in the ssh config).
    pub uri: String,
    pub port: u16,
    pub systems: Vec<String>,
    pub machines_line: String,
    pub ssh_config: String,
    /// Whether nix.conf points at the builder.
    pub wired: bool,
}
