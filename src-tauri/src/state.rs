//! What every command reaches through `State<AppState>`: the supervisor and the app's streams.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use builderbar_core::api::{self, ErrorReport, SetupFlow};
use builderbar_core::host::Host;
use builderbar_core::paths::AppPaths;
use builderbar_core::settings::Settings;
use builderbar_core::vm::{Supervisor, VmContext};

use crate::console_input::ConsoleInput;
use crate::console_streams::ConsoleStreams;
use crate::metrics_hub::MetricsHub;
use crate::tray_model::TrayModel;

pub struct AppState {
    pub supervisor: Supervisor,
    pub consoles: ConsoleStreams,
    pub console_input: ConsoleInput,
    pub metrics: MetricsHub,
    /// What the tray menu shows now (also answered by `app_tray_state`, for tests).
    pub tray: Mutex<TrayModel>,
    /// The image fetch or stage-2 switch that runs (the setup window may close meanwhile).
    pub image_job: crate::commands::setup::ImageJob,
    /// Set once the user chose Quit: the next exit request is let through.
    quitting: AtomicBool,
}

impl AppState {
    pub fn new(ctx: VmContext) -> AppState {
        let supervisor = Supervisor::new(ctx);
        AppState {
            metrics: MetricsHub::new(supervisor.clone()),
            consoles: ConsoleStreams::default(),
            console_input: ConsoleInput::default(),
            tray: Mutex::new(TrayModel::default()),
            image_job: Default::default(),
            supervisor,
            quitting: AtomicBool::new(false),
        }
    }

    /// The real host and the user's paths (`BUILDERBAR_HOME` moves them all, for tests).
    pub fn detect() -> AppState {
        let host = Host::detect();
        AppState::new(VmContext::new(host, AppPaths::detect(host)))
    }

    pub fn ctx(&self) -> &VmContext {
        self.supervisor.context()
    }

    pub fn paths(&self) -> &AppPaths {
        &self.ctx().paths
    }

    pub fn settings(&self) -> Result<Settings, ErrorReport> {
        Ok(api::settings::load(self.ctx())?)
    }

    /// The setup flow for the saved settings (the system's Nix configuration unless they name one).
    pub fn setup_flow(&self) -> Result<(Settings, SetupFlow), ErrorReport> {
        let settings = self.settings()?;
        let flow = SetupFlow::new(self.ctx(), &settings, &Default::default())?;
        Ok((settings, flow))
    }

    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}
