//! The builder's lifecycle as both faces run it: which image, start, stop, start-and-wait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::error::ApiError;
use crate::host::Os;
use crate::settings::Settings;
use crate::vm::{StartRequest, Supervisor, VmContext, VmError, VmState, VmStatus};

/// Where the default image lives when the settings name none.
pub fn default_image_dir(ctx: &VmContext) -> PathBuf {
    ctx.paths.cache_dir.join("images/default")
}

/// The image to start: the setting, else this host's default image, else `VmError::NoImage`
/// with what to do about it.
pub fn image_dir(ctx: &VmContext, settings: &Settings) -> Result<PathBuf, VmError> {
    if let Some(p) = settings.image.as_deref() {
        return Ok(p.to_path_buf());
    }
    let default = default_image_dir(ctx);
    if default.exists() {
        return Ok(default);
    }
    Err(VmError::NoImage {
        hint: match ctx.host.os {
            Os::Linux => format!(
                "Build the test guest with `tests/guest/build.sh` (it links {}), set `image_source` to a Nix file \
                 and run `builderbar image fetch`, or choose an image directory in Settings.",
                default.display()
            ),
            Os::Macos => "Run the first-run setup (the setup window, or `builderbar setup`): it fetches the builder \
                          image. `builderbar image fetch` does that step alone; or choose an image directory in \
                          Settings."
                .into(),
        },
    })
}

/// Starts the builder from `image` (the CLI's `--image`), else the image the settings choose.
/// Returns once qemu runs (Starting); Running arrives on the supervisor's channel.
pub async fn start(supervisor: &Supervisor, settings: &Settings, image: Option<&Path>) -> Result<VmStatus, ApiError> {
    let image_dir = match image {
        Some(p) => p.to_path_buf(),
        None => image_dir(supervisor.context(), settings)?,
    };
    Ok(supervisor.start(StartRequest { settings: settings.clone(), image_dir }).await?)
}

/// Graceful stop, waiting up to `timeout` (default: the stop_timeout_secs setting) for the guest.
pub async fn stop(
    supervisor: &Supervisor,
    settings: &Settings,
    timeout: Option<Duration>,
) -> Result<VmStatus, ApiError> {
    let timeout = timeout.unwrap_or(Duration::from_secs(u64::from(settings.stop_timeout_secs)));
    Ok(supervisor.stop(timeout).await?)
}

/// Brings the builder to Running: starts it unless it runs, then waits up to `timeout`.
pub async fn ensure_running(
    supervisor: &Supervisor,
    settings: &Settings,
    timeout: Duration,
) -> Result<VmStatus, ApiError> {
    let now = supervisor.refresh().await;
    if now.state == VmState::Running {
        return Ok(now);
    }
    start(supervisor, settings, None).await?;
    Ok(supervisor.wait_ready(timeout).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::paths::{AppPaths, PathEnv};

    fn ctx(home: &Path, host: Host) -> VmContext {
        let env = PathEnv { home: home.into(), builderbar_home: Some(home.join("bb")), ..Default::default() };
        VmContext::new(host, AppPaths::for_host(host, &env))
    }

    #[test]
    fn image_dir_prefers_the_setting_then_the_default_and_else_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(dir.path(), Host::LINUX_X86_64);
        let mut s = Settings { image: Some("/images/x".into()), ..Settings::default() };
        assert_eq!(image_dir(&c, &s).unwrap(), PathBuf::from("/images/x"));
        s.image = None;
        let err = image_dir(&c, &s).unwrap_err();
        assert!(matches!(&err, VmError::NoImage { hint } if hint.contains("tests/guest/build.sh")), "{err:?}");
        std::fs::create_dir_all(default_image_dir(&c)).unwrap();
        assert_eq!(image_dir(&c, &s).unwrap(), default_image_dir(&c));
    }

    #[test]
    fn without_an_image_a_mac_is_sent_to_the_first_run_setup() {
        let dir = tempfile::tempdir().unwrap();
        let mac = ctx(dir.path(), Host::MACOS_AARCH64);
        let err = image_dir(&mac, &Settings { image: None, ..Settings::default() }).unwrap_err();
        let VmError::NoImage { hint } = &err else { panic!("{err:?}") };
        assert!(hint.contains("first-run setup") && !hint.contains("tests/guest"), "{hint}");
    }
}
