//! `NixChanges`: the file changes that wire (or unwire) the builder on one machine, computed
//! from what the files hold now. Reads only, through a closure; the privileged Plan writes.

use std::path::{Path, PathBuf};

use super::conf::expanded_settings;
use super::daemon::{restart_needed, NixFiles};
use super::darwin_snippet::darwin_snippet;
use super::managed::ConfigOwner;
use super::wiring::{machines_target_in_effect, unwire_machines, unwire_nix_conf, BuilderWiring, WiringError};

/// One file: its bytes now (`None`: absent) and after the change (`None`: delete it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub path: PathBuf,
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
}

/// Everything one wiring or unwiring does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NixChanges {
    /// Only files whose content changes, in the order nix.conf, machines file, ssh_config.
    pub files: Vec<FileEdit>,
    /// The nix-daemon must restart (nix.conf's meaning changed).
    pub restart_daemon: bool,
    /// For a nix-darwin config: the snippet to show instead of editing files.
    pub darwin_snippet: Option<String>,
}

/// Reads a file, `None` when it does not exist (or cannot be read).
pub fn read_optional(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Where things are: `conf_dir/nix.conf` is where Nix starts reading, `ssh_config` our whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfPaths {
    pub conf_dir: PathBuf,
    pub ssh_config: PathBuf,
}

fn change(path: &Path, before: Option<Vec<u8>>, after: Option<Vec<u8>>) -> Option<FileEdit> {
    (before != after).then(|| FileEdit { path: path.to_path_buf(), before, after })
}

/// An empty file means the same to Nix as no file; we delete what unwiring empties, so a file
/// that setup created is gone again after unsetup.
fn empty_to_none(bytes: Vec<u8>) -> Option<Vec<u8>> {
    (!bytes.is_empty()).then_some(bytes)
}

impl NixChanges {
    /// The changes that wire `w` into the config owned as `owner`.
    pub fn wire(
        w: &BuilderWiring,
        owner: &ConfigOwner,
        paths: &ConfPaths,
        read: &mut dyn FnMut(&Path) -> Option<Vec<u8>>,
    ) -> Result<NixChanges, WiringError> {
        let Some(edit) = owner.edit_path() else {
            let file_name = paths.ssh_config.file_name().and_then(|n| n.to_str());
            return Ok(NixChanges { darwin_snippet: Some(darwin_snippet(w, file_name)), ..NixChanges::default() });
        };
        let in_effect = expanded_settings(&paths.conf_dir.join("nix.conf"), read);
        let conf_before = read(edit);
        let machines_path = PathBuf::from(machines_target_in_effect(&in_effect, &w.machines_file));
        let machines_before = read(&machines_path);
        let ssh_before = read(&paths.ssh_config);
        let wired = w.wire_in_effect(
            conf_before.as_deref().unwrap_or_default(),
            machines_before.as_deref().unwrap_or_default(),
            Some(&in_effect),
        )?;
        let restart_daemon = restart_needed(
            &NixFiles { nix_conf: conf_before.as_deref().unwrap_or_default(), ..NixFiles::default() },
            &NixFiles { nix_conf: &wired.nix_conf, ..NixFiles::default() },
        );
        let files = [
            change(edit, conf_before, Some(wired.nix_conf)),
            change(&machines_path, machines_before, Some(wired.machines)),
            change(&paths.ssh_config, ssh_before, Some(wired.ssh_config.into_bytes())),
        ];
        Ok(NixChanges { files: files.into_iter().flatten().collect(), restart_daemon, darwin_snippet: None })
    }

    /// The changes that take our wiring out again: our blocks removed from nix.conf and the
    /// machines file (a file left empty is deleted), our ssh_config file deleted. A nix-darwin
    /// config was never edited: nothing to do (its ssh_config file is nix-darwin's).
    /// `our_machines_file` is the default machines file the wiring used.
    pub fn unwire(
        owner: &ConfigOwner,
        paths: &ConfPaths,
        our_machines_file: &str,
        read: &mut dyn FnMut(&Path) -> Option<Vec<u8>>,
    ) -> Result<NixChanges, WiringError> {
        let mut files = Vec::new();
        let mut restart_daemon = false;
        if let Some(edit) = owner.edit_path() {
            // Our blocks are left out of the expansion, so this is the target the wiring used.
            let in_effect = expanded_settings(&paths.conf_dir.join("nix.conf"), read);
            let machines_path = PathBuf::from(machines_target_in_effect(&in_effect, our_machines_file));
            if let Some(before) = read(edit) {
                let after = empty_to_none(unwire_nix_conf(&before)?);
                restart_daemon = restart_needed(
                    &NixFiles { nix_conf: &before, ..NixFiles::default() },
                    &NixFiles { nix_conf: after.as_deref().unwrap_or_default(), ..NixFiles::default() },
                );
                files.extend(change(edit, Some(before), after));
            }
            if let Some(before) = read(&machines_path) {
                let after = empty_to_none(unwire_machines(&before)?);
                files.extend(change(&machines_path, Some(before), after));
            }
            if let Some(before) = read(&paths.ssh_config) {
                files.extend(change(&paths.ssh_config, Some(before), None));
            }
        }
        Ok(NixChanges { files, restart_daemon, darwin_snippet: None })
    }
}

#[cfg(test)]
mod tests;
