//! What every command needs: host, paths, settings, the supervisor, the image to use.

use std::path::{Path, PathBuf};

use builderbar_core::host::{Host, Os};
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

    /// `--image`, else the setting, else this host's default image.
    pub fn image_dir(&self, flag: Option<&Path>, settings: &Settings) -> Result<PathBuf, VmError> {
        if let Some(p) = flag.or(settings.image.as_deref()) {
            return Ok(p.to_path_buf());
        }
        let default = default_image_dir(self.host, &self.paths);
        if default.exists() {
            return Ok(default);
        }
        Err(VmError::NoImage {
            hint: match self.host.os {
                Os::Linux => format!(
                    "Build the test guest with `tests/guest/build.sh` (it links {}), or pass --image DIR.",
                    default.display()
                ),
                Os::Macos => {
                    "Run the app's first-run setup, or `nix build github:builderbar/builderbar#builder-image-stock` \
                              and pass --image ./result."
                        .into()
                }
            },
        })
    }
}

/// Where the default image lives: on Linux the test guest that tests/guest/build.sh links there.
pub fn default_image_dir(_host: Host, paths: &AppPaths) -> PathBuf {
    paths.cache_dir.join("images/default")
}
