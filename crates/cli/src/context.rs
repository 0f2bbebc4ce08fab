//! What every command needs: host, paths, settings, the supervisor, the image to use.

use std::path::{Path, PathBuf};

use builderbar_core::host::Host;
use builderbar_core::paths::AppPaths;
use builderbar_core::settings::Settings;
use builderbar_core::vm::{Supervisor, VmContext, VmError};

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

    pub fn settings(&self) -> Result<Settings, builderbar_core::settings::SettingsError> {
        Settings::load(&self.paths.settings_file())
    }

    /// `--image`, else the setting, else this host's default image (the app's rule).
    pub fn image_dir(&self, flag: Option<&Path>, settings: &Settings) -> Result<PathBuf, VmError> {
        match flag {
            Some(p) => Ok(p.to_path_buf()),
            None => builderbar_core::app_api::image_dir(self.supervisor.context(), settings),
        }
    }
}
