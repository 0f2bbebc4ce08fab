//! What every command needs: host, paths, the supervisor, the settings, the setup flow.

use builderbar_core::api::{self, SetupFlow};
use builderbar_core::host::Host;
use builderbar_core::paths::AppPaths;
use builderbar_core::privileged::Elevation;
use builderbar_core::settings::Settings;
use builderbar_core::setup::TargetOverrides;
use builderbar_core::vm::{Supervisor, VmContext};

use crate::cli::TargetFlags;
use crate::error::CliError;

pub struct Ctx {
    pub host: Host,
    pub paths: AppPaths,
    pub supervisor: Supervisor,
}

impl Ctx {
    pub fn new() -> Ctx {
        let host = Host::detect();
        let paths = AppPaths::detect(host);
        let supervisor = Supervisor::new(VmContext::new(host, paths.clone()));
        Ctx { host, paths, supervisor }
    }

    pub fn vm(&self) -> &VmContext {
        self.supervisor.context()
    }

    pub fn settings(&self) -> Result<Settings, CliError> {
        Ok(api::settings::load(self.vm())?)
    }

    /// The setup flow the app runs, aimed where the flags say (else the settings, else the
    /// system's files); `trusted_user` is added to `extra-trusted-users`.
    pub fn setup_flow(
        &self,
        flags: &TargetFlags,
        settings: &Settings,
        trusted_user: Option<String>,
    ) -> Result<SetupFlow, CliError> {
        let elevation = match &flags.elevation {
            Some(e) => Some(Elevation::parse(e).ok_or_else(|| {
                CliError::usage(format!("unknown elevation `{e}`"), "use osascript, pkexec, sudo or none")
            })?),
            None => None,
        };
        let overrides = TargetOverrides {
            nix_conf_dir: flags.nix_conf_dir.clone(),
            ssh_config_dir: flags.ssh_config_dir.clone(),
            elevation,
            trusted_user,
        };
        Ok(SetupFlow::new(self.vm(), settings, &overrides)?)
    }
}
