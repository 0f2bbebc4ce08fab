//! Setup and unsetup as Plans: the client key for root, our lines in nix.conf, the machines
//! file and ssh_config, the daemon restart; and whether that wiring is in place.

use std::path::{Path, PathBuf};

use crate::error::UserFacing;
use crate::host::Host;
use crate::image::{HostKeySpec, ImageManifest};
use crate::keys::{openssh, InstallKeys, KeyError};
use crate::nix::daemon::LaunchctlError;
use crate::nix::{
    detect_config_owner, BuilderWiring, ConfigOwner, DaemonProbe, DaemonService, DetectOptions, MachinesLine,
    NixChanges, SshHostBlock,
};
use crate::privileged::{CommandRunner, DaemonRestart, Plan, PrivilegedError, SystemRunner};
use crate::setup::target::SetupTarget;
use crate::ssh::HOST_ALIAS;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Privileged(#[from] PrivilegedError),
    #[error("cannot work out the Nix configuration: {0}")]
    Nix(String),
    #[error("the test build failed: {0}")]
    TestBuild(String),
    /// macOS: a daemon is installed but launchd runs none, found before anything is written.
    #[error(
        "no Nix daemon is loaded in launchd: {} is installed, but {why}; Nix would not read the new settings \
         and no build could reach the builder, so nothing was changed",
        plists.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
    )]
    DaemonNotLoaded { plists: Vec<PathBuf>, why: String },
    #[error("{0}")]
    Launchctl(#[from] LaunchctlError),
}

impl UserFacing for SetupError {
    fn hint(&self) -> String {
        match self {
            SetupError::Keys(e) => e.hint(),
            SetupError::Privileged(e) => e.hint(),
            SetupError::Nix(_) => "Run `builderbar doctor`; it names the file and what is wrong with it.".into(),
            SetupError::TestBuild(_) => {
                "Run `builderbar doctor` to see which link fails (builder, ssh, host key, nix.conf).".into()
            }
            SetupError::DaemonNotLoaded { plists, .. } => {
                let plist = plists.first().map(|p| p.display().to_string()).unwrap_or_default();
                let label = plists.first().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy()).unwrap_or_default();
                format!(
                    "Load it with `sudo launchctl bootstrap system {plist}` (if launchctl answers that the service \
                     is disabled, run `sudo launchctl enable system/{label}` first), check that \
                     `launchctl print system/{label}` shows it, then run setup again. A plist left behind by a Nix \
                     you uninstalled can be deleted instead."
                )
            }
            SetupError::Launchctl(_) => "launchctl is part of macOS (/bin/launchctl): check that it runs, then \
                                         run setup again."
                .into(),
        }
    }
}

/// What the builder is, for the machines line: the image's system, user and host key.
pub struct BuilderIdentity {
    pub system: String,
    pub ssh_user: String,
    pub host_key_line: String,
    pub port: u16,
    pub max_jobs: u32,
}

impl BuilderIdentity {
    pub fn new(image: &ImageManifest, keys: &InstallKeys, port: u16, cores: u32) -> Result<BuilderIdentity, KeyError> {
        let host_key_line = match &image.host_key {
            HostKeySpec::Runtime => openssh(&keys.host_public()?),
            HostKeySpec::Fixed { public } => public.trim().to_string(),
        };
        Ok(BuilderIdentity {
            system: image.system.clone(),
            ssh_user: image.ssh.user.clone(),
            host_key_line,
            port,
            max_jobs: cores.max(1),
        })
    }
}

/// Our lines for nix.conf, the machines file and ssh_config.
pub fn builder_wiring(id: &BuilderIdentity, target: &SetupTarget) -> Result<BuilderWiring, SetupError> {
    let key = target.installed_key().display().to_string();
    let machine = MachinesLine::ssh_ng(
        &id.ssh_user,
        HOST_ALIAS,
        vec![id.system.clone()],
        &key,
        id.max_jobs,
        1,
        vec!["big-parallel".into()],
        &id.host_key_line,
    )
    .map_err(|e| SetupError::Nix(e.to_string()))?;
    let ssh = SshHostBlock::new(HOST_ALIAS, id.port, &id.ssh_user, &key).map_err(|e| SetupError::Nix(e.to_string()))?;
    BuilderWiring::new(machine, ssh, &target.machines_file().display().to_string(), target.trusted_user.as_deref())
        .map_err(|e| SetupError::Nix(e.to_string()))
}

/// A computed setup: the Plan to apply, who owns the config, and the file changes behind it.
pub struct SetupPlan {
    pub plan: Plan,
    pub owner: ConfigOwner,
    pub changes: NixChanges,
}

impl SetupPlan {
    /// Nothing to apply (under nix-darwin the snippet is the user's part, applied or not).
    pub fn already_applied(&self) -> bool {
        self.plan.is_empty()
    }
}

/// Where the installed key's public half goes: root's key itself is 0600, so an unprivileged
/// setup reads this to tell whether the key in place is ours.
pub fn installed_public_key(target: &SetupTarget) -> PathBuf {
    let mut p = target.installed_key().into_os_string();
    p.push(".pub");
    PathBuf::from(p)
}

/// The client key and its public half, unless both are in place: the public half is compared
/// when the key itself cannot be read (root's 0600 file, seen by the app).
fn add_client_key(plan: &mut Plan, keys: &InstallKeys, target: &SetupTarget) -> Result<(), SetupError> {
    let secret = std::fs::read(keys.client_private())
        .map_err(|source| KeyError::Write { path: keys.client_private(), source })?;
    let public = format!("{}\n", openssh(&keys.client_public()?));
    let key = target.installed_key();
    let installed_public = std::fs::read(installed_public_key(target)).ok();
    let key_in_place =
        key.exists() && std::fs::read(&key).is_err() && installed_public.as_deref() == Some(public.as_bytes());
    plan.create_dirs(&target.nix_conf_dir, 0o755, target.owner)?;
    if !key_in_place {
        plan.write_secret(&key, secret, 0o600, target.owner)?;
    }
    plan.write(installed_public_key(target), public, 0o644, target.owner)?;
    Ok(())
}

fn owner_of(target: &SetupTarget) -> Result<ConfigOwner, SetupError> {
    detect_config_owner(&DetectOptions::in_dir(&target.nix_conf_dir)).map_err(|e| SetupError::Nix(e.to_string()))
}

/// The restart a Plan ends with, when nix.conf's meaning changes. Setup refuses, before
/// anything is written, a Mac whose daemon is installed but not loaded (`for_setup`): the
/// restart would fail after the files changed, and no build could reach the builder anyway.
/// Unsetup goes ahead without a restart: the daemon reads the restored files when it starts.
fn restart_for(
    host: Host,
    target: &SetupTarget,
    needed: bool,
    for_setup: bool,
    runner: &dyn CommandRunner,
) -> Result<Option<DaemonRestart>, SetupError> {
    if !needed {
        return Ok(None);
    }
    let daemon = DaemonProbe::under(&target.system_root).detect(host, runner)?;
    if let (DaemonService::NotLoaded { plists, why }, true) = (&daemon, for_setup) {
        return Err(SetupError::DaemonNotLoaded { plists: plists.clone(), why: why.clone() });
    }
    Ok(daemon.restart())
}

/// Computes setup as a Plan (nothing is written): the client key installed for root,
/// our nix.conf/machines/ssh_config lines, and a daemon restart when nix.conf changes.
pub fn plan_setup(
    host: Host,
    keys: &InstallKeys,
    id: &BuilderIdentity,
    target: &SetupTarget,
) -> Result<SetupPlan, SetupError> {
    let wiring = builder_wiring(id, target)?;
    let owner = owner_of(target)?;
    let changes = NixChanges::wire(&wiring, &owner, &target.conf_paths(), &mut crate::nix::changes::read_optional)
        .map_err(|e| SetupError::Nix(e.to_string()))?;
    // A daemon launchd does not run stops setup here, before a Plan exists to approve.
    let restart = restart_for(host, target, changes.restart_daemon, true, &SystemRunner::default())?;
    let mut plan = Plan::new();
    // The client key, for root's ssh, under nix-darwin too: its machines line and ssh_config
    // name this file, which nix-darwin cannot write (the key must not enter the store).
    add_client_key(&mut plan, keys, target)?;
    add_changes(&mut plan, &changes, target)?;
    if let Some(r) = restart {
        plan.restart(r);
    }
    Ok(SetupPlan { plan, owner, changes })
}

/// Computes the removal of everything setup added, restoring the user's bytes. `created_dirs`
/// are the directories earlier Plans created (`Journal::created_dirs`): those that the removal
/// leaves empty go too, innermost first.
pub fn plan_unsetup(host: Host, target: &SetupTarget, created_dirs: &[PathBuf]) -> Result<SetupPlan, SetupError> {
    let owner = owner_of(target)?;
    let changes = NixChanges::unwire(
        &owner,
        &target.conf_paths(),
        &target.machines_file().display().to_string(),
        &mut crate::nix::changes::read_optional,
    )
    .map_err(|e| SetupError::Nix(e.to_string()))?;
    let mut plan = Plan::new();
    add_changes(&mut plan, &changes, target)?;
    plan.delete_ours(target.installed_key())?;
    plan.delete_ours(installed_public_key(target))?;
    let mut dirs = created_dirs.to_vec();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        plan.remove_dir_if_empty(d)?;
    }
    if let Some(r) = restart_for(host, target, changes.restart_daemon, false, &SystemRunner::default())? {
        plan.restart(r);
    }
    Ok(SetupPlan { plan, owner, changes })
}

fn add_changes(plan: &mut Plan, changes: &NixChanges, target: &SetupTarget) -> Result<(), SetupError> {
    for f in &changes.files {
        match &f.after {
            Some(bytes) => {
                // Keep the mode of a file we edit; new files are world-readable config. A
                // `builders = @FILE` may name a file in a directory that does not exist yet.
                if let Some(dir) = f.path.parent() {
                    plan.create_dirs(dir, 0o755, target.owner)?;
                }
                let mode = mode_of(&f.path).unwrap_or(0o644);
                plan.write(&f.path, bytes.clone(), mode, target.owner)?;
            }
            // Unwiring deletes only files that held nothing but our lines.
            None => {
                plan.delete_ours(&f.path)?;
            }
        }
    }
    Ok(())
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

/// Whether nix.conf, the machines file and ssh_config already hold exactly our wiring; under
/// nix-darwin: whether the key is installed and the machines file in effect holds our line.
pub fn is_wired(id: &BuilderIdentity, target: &SetupTarget) -> Result<bool, SetupError> {
    let wiring = builder_wiring(id, target)?;
    let owner = owner_of(target)?;
    let read = &mut crate::nix::changes::read_optional;
    let changes =
        NixChanges::wire(&wiring, &owner, &target.conf_paths(), read).map_err(|e| SetupError::Nix(e.to_string()))?;
    if changes.darwin_snippet.is_none() {
        return Ok(changes.files.is_empty());
    }
    let in_effect = crate::nix::conf::expanded_settings(&target.nix_conf_dir.join("nix.conf"), read);
    let machines =
        crate::nix::wiring::machines_target_in_effect(&in_effect, &target.machines_file().display().to_string());
    let ours = wiring.machine.render();
    let listed = read(Path::new(&machines))
        .is_some_and(|b| String::from_utf8_lossy(&b).lines().any(|l| l.trim() == ours.trim()));
    Ok(listed && target.installed_key().exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::{CommandOutput, RecordingRunner};

    const PRINT_UPSTREAM: &str = include_str!("../../tests/fixtures/launchctl/print-org.nixos.nix-daemon.txt");
    const NOT_LOADED: &str = include_str!("../../tests/fixtures/launchctl/print-not-loaded.stderr");

    fn mac_target(root: &Path) -> SetupTarget {
        SetupTarget { system_root: root.into(), ..SetupTarget::system() }
    }

    fn not_loaded(label: &str) -> std::io::Result<CommandOutput> {
        Ok(CommandOutput::failed(113, &NOT_LOADED.replace("LABEL", label)))
    }

    #[test]
    fn a_loaded_daemon_gives_kickstart_with_its_bootout_bootstrap_fallback() {
        let t = tempfile::tempdir().unwrap();
        let r = RecordingRunner::new();
        r.reply(not_loaded("systems.determinate.nix-daemon")).reply(Ok(CommandOutput::ok(PRINT_UPSTREAM)));
        let got = restart_for(Host::MACOS_AARCH64, &mac_target(t.path()), true, true, &r).unwrap().unwrap();
        assert_eq!(
            got.commands(),
            [
                vec!["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"],
                vec!["launchctl", "bootout", "system/org.nixos.nix-daemon"],
                vec!["launchctl", "bootstrap", "system", "/Library/LaunchDaemons/org.nixos.nix-daemon.plist"],
            ]
        );
        // No restart needed: launchd is not even asked.
        let r = RecordingRunner::new();
        assert!(restart_for(Host::MACOS_AARCH64, &mac_target(t.path()), false, true, &r).unwrap().is_none());
        assert!(r.calls().is_empty());
    }

    #[test]
    fn setup_refuses_an_installed_daemon_launchd_does_not_run_and_unsetup_goes_on() {
        let t = tempfile::tempdir().unwrap();
        let plist = t.path().join("Library/LaunchDaemons/org.nixos.nix-daemon.plist");
        std::fs::create_dir_all(plist.parent().unwrap()).unwrap();
        std::fs::write(&plist, "<plist/>\n").unwrap();
        let r = RecordingRunner::new();
        r.reply(not_loaded("systems.determinate.nix-daemon")).reply(not_loaded("org.nixos.nix-daemon"));
        let e = restart_for(Host::MACOS_AARCH64, &mac_target(t.path()), true, true, &r).unwrap_err();
        let p = plist.display();
        assert_eq!(
            e.to_string(),
            format!(
                "no Nix daemon is loaded in launchd: {p} is installed, but system/systems.determinate.nix-daemon: \
                 Could not find service \"systems.determinate.nix-daemon\" in domain for system (exit 113); \
                 system/org.nixos.nix-daemon: Could not find service \"org.nixos.nix-daemon\" in domain for system \
                 (exit 113); Nix would not read the new settings and no build could reach the builder, so nothing \
                 was changed"
            )
        );
        assert_eq!(
            e.hint(),
            format!(
                "Load it with `sudo launchctl bootstrap system {p}` (if launchctl answers that the service is \
                 disabled, run `sudo launchctl enable system/org.nixos.nix-daemon` first), check that `launchctl \
                 print system/org.nixos.nix-daemon` shows it, then run setup again. A plist left behind by a Nix you \
                 uninstalled can be deleted instead."
            )
        );
        let r = RecordingRunner::new();
        r.reply(not_loaded("systems.determinate.nix-daemon")).reply(not_loaded("org.nixos.nix-daemon"));
        assert!(restart_for(Host::MACOS_AARCH64, &mac_target(t.path()), true, false, &r).unwrap().is_none());
    }
}
