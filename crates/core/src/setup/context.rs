//! Where setup writes and how it gets root, from settings and flags: one rule for CLI and app.

use std::path::PathBuf;

use crate::host::Host;
use crate::privileged::{Elevation, ElevationEnv, Owner, PrivilegedError};
use crate::settings::Settings;
use crate::setup::wiring::WiringTarget;

/// Overrides from the command line (the app passes none).
#[derive(Debug, Clone, Default)]
pub struct WiringOverrides {
    pub nix_conf_dir: Option<PathBuf>,
    pub ssh_config_dir: Option<PathBuf>,
    pub elevation: Option<Elevation>,
    /// Add this user to `extra-trusted-users`.
    pub trusted_user: Option<String>,
}

/// The files setup targets and the elevation that applies them.
pub fn wiring_target(
    host: Host,
    settings: &Settings,
    overrides: &WiringOverrides,
) -> Result<(WiringTarget, Elevation), PrivilegedError> {
    let elevation = match overrides.elevation {
        Some(e) => e,
        None => Elevation::choose(host, &ElevationEnv::from_process(host))?,
    };
    let mut target = WiringTarget::system();
    if let Some(d) = overrides.nix_conf_dir.clone().or_else(|| settings.nix_conf_dir.clone()) {
        target.nix_conf_dir = d;
    }
    if let Some(d) = overrides.ssh_config_dir.clone().or_else(|| settings.ssh_config_dir.clone()) {
        target.ssh_config_dir = d;
    }
    target.trusted_user = overrides.trusted_user.clone();
    // Without elevation the files stay ours (tests in temp dirs); with it they belong to root.
    let euid = rustix::process::geteuid().as_raw();
    if elevation == Elevation::None && euid != 0 {
        target.owner = Owner { uid: euid, gid: rustix::process::getegid().as_raw() };
    }
    Ok((target, elevation))
}

/// The user Nix builds as (trusted-users must name them, or root).
pub fn user_name() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        if rustix::process::geteuid().is_root() {
            "root".into()
        } else {
            "nobody".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_settings_beat_the_system_defaults() {
        let mut s = Settings::default();
        let none = WiringOverrides { elevation: Some(Elevation::None), ..Default::default() };
        let (t, e) = wiring_target(Host::LINUX_X86_64, &s, &none).unwrap();
        assert_eq!((t.nix_conf_dir.as_path(), e), (std::path::Path::new("/etc/nix"), Elevation::None));
        s.nix_conf_dir = Some("/s/nix".into());
        let (t, _) = wiring_target(Host::LINUX_X86_64, &s, &none).unwrap();
        assert_eq!(t.nix_conf_dir, PathBuf::from("/s/nix"));
        let flags = WiringOverrides { nix_conf_dir: Some("/f/nix".into()), ..none };
        let (t, _) = wiring_target(Host::LINUX_X86_64, &s, &flags).unwrap();
        assert_eq!(t.nix_conf_dir, PathBuf::from("/f/nix"));
        assert_eq!(t.ssh_config_dir, PathBuf::from("/etc/ssh/ssh_config.d"));
    }
}
