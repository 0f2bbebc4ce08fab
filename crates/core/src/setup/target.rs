//! Where setup writes and how it gets root, from settings and flags: one rule for CLI and app.

use std::path::PathBuf;

use crate::host::Host;
use crate::nix::ConfPaths;
use crate::privileged::{Elevation, ElevationEnv, Owner, PrivilegedError};
use crate::settings::Settings;

/// Where setup writes: Nix's and ssh's configuration directories, and as whom. Defaults are
/// the system's; tests point every path at a temp dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupTarget {
    /// Nix's configuration directory (`/etc/nix`).
    pub nix_conf_dir: PathBuf,
    /// The ssh client's drop-in directory (`/etc/ssh/ssh_config.d`); nix-daemon runs ssh as root.
    pub ssh_config_dir: PathBuf,
    /// Where service detection looks (`/`).
    pub system_root: PathBuf,
    /// Add `extra-trusted-users = <user>` (only when the user agreed).
    pub trusted_user: Option<String>,
    /// Owner of the files we write (root, except in unprivileged tests).
    pub owner: Owner,
}

impl SetupTarget {
    pub fn system() -> SetupTarget {
        SetupTarget {
            nix_conf_dir: "/etc/nix".into(),
            ssh_config_dir: "/etc/ssh/ssh_config.d".into(),
            system_root: "/".into(),
            trusted_user: None,
            owner: Owner::ROOT,
        }
    }

    /// The client key as the daemon (root) reads it.
    pub fn installed_key(&self) -> PathBuf {
        self.nix_conf_dir.join("builderbar_ed25519")
    }

    pub fn machines_file(&self) -> PathBuf {
        self.nix_conf_dir.join("machines")
    }

    pub fn ssh_config_file(&self) -> PathBuf {
        self.ssh_config_dir.join(crate::nix::ssh_config::SSH_CONFIG_FILE_NAME)
    }

    /// Where Nix starts reading, and our ssh_config file.
    pub fn conf_paths(&self) -> ConfPaths {
        ConfPaths { conf_dir: self.nix_conf_dir.clone(), ssh_config: self.ssh_config_file() }
    }
}

/// Overrides from the command line (the app passes none).
#[derive(Debug, Clone, Default)]
pub struct TargetOverrides {
    pub nix_conf_dir: Option<PathBuf>,
    pub ssh_config_dir: Option<PathBuf>,
    pub elevation: Option<Elevation>,
    /// Add this user to `extra-trusted-users`.
    pub trusted_user: Option<String>,
}

/// The files setup targets (flags, else settings, else the system's) and the elevation that
/// applies them.
pub fn resolve(
    host: Host,
    settings: &Settings,
    overrides: &TargetOverrides,
) -> Result<(SetupTarget, Elevation), PrivilegedError> {
    let elevation = match overrides.elevation {
        Some(e) => e,
        None => Elevation::choose(host, &ElevationEnv::from_process(host))?,
    };
    let mut target = SetupTarget::system();
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
        let none = TargetOverrides { elevation: Some(Elevation::None), ..Default::default() };
        let (t, e) = resolve(Host::LINUX_X86_64, &s, &none).unwrap();
        assert_eq!((t.nix_conf_dir.as_path(), e), (std::path::Path::new("/etc/nix"), Elevation::None));
        s.nix_conf_dir = Some("/s/nix".into());
        let (t, _) = resolve(Host::LINUX_X86_64, &s, &none).unwrap();
        assert_eq!(t.nix_conf_dir, PathBuf::from("/s/nix"));
        let flags = TargetOverrides { nix_conf_dir: Some("/f/nix".into()), ..none };
        let (t, _) = resolve(Host::LINUX_X86_64, &s, &flags).unwrap();
        assert_eq!(t.nix_conf_dir, PathBuf::from("/f/nix"));
        assert_eq!(t.ssh_config_dir, PathBuf::from("/etc/ssh/ssh_config.d"));
    }
}
