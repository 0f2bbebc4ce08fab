//! `BuilderWiring`: our change to the user's Nix config, as pure functions over file bytes.
//!
//! What we add (inside our marked block, see `block`, at the end of the file):
//! - nix.conf: `builders = ...` only when needed, `builders-use-substitutes = true` unless the
//!   file already says so, and `extra-trusted-users = <user>` only when asked and not already
//!   trusted. A line whose effective value is already right is not added.
//! - the machines file: our `MachinesLine`, in a block of its own, after the user's lines.
//! - the ssh_config file (a whole file we own): our `SshHostBlock`.
//!
//! Where our machines line goes, from the `builders` value nix.conf has without our block
//! (the last `builders = ...` line; Nix 2.8 ignores `extra-builders`):
//! - exactly one item `@FILE`: into FILE, after the user's lines; nix.conf gets no `builders`;
//! - the items already include `@<our machines file>`: into our file; no `builders` line;
//! - unset or empty: into our file; nix.conf gets `builders = @<our machines file>`;
//! - anything else (inline entries, several files): into our file; nix.conf gets
//!   `builders = <the user's value> ; @<our machines file>`, so every builder of the user stays.
//!
//! Applying strips our old blocks first, so applying twice equals applying once; removing
//! strips them, which restores the original bytes exactly.

use super::block::{self, BlockError};
use super::conf::{effective_in, last_assignment_in, NixConf};
use super::lines::LineDoc;
use super::machines::{machines_items, MachinesItem, MachinesLine, MachinesLineError};
use super::ssh_config::{SshConfigError, SshHostBlock};
use crate::error::UserFacing;

/// Our machines file when the user has none.
pub const DEFAULT_MACHINES_FILE: &str = "/etc/nix/machines";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WiringError {
    #[error("cannot edit {file}: {source}")]
    Block {
        file: String,
        #[source]
        source: BlockError,
    },
    #[error(transparent)]
    Machine(#[from] MachinesLineError),
    #[error(transparent)]
    Ssh(#[from] SshConfigError),
    #[error("the machines file path {0:?} cannot go into a `builders` value (it holds whitespace, `#` or `;`)")]
    BadMachinesPath(String),
    #[error("{0:?} is not a user name Nix's trusted-users can hold")]
    BadTrustedUser(String),
    #[error("the machines line's {what} ({machine:?}) differs from the ssh_config block's ({ssh:?})")]
    Mismatch { what: &'static str, machine: String, ssh: String },
}

impl UserFacing for WiringError {
    fn hint(&self) -> String {
        match self {
            WiringError::Block { source, .. } => source.hint(),
            WiringError::Machine(e) => e.hint(),
            WiringError::Ssh(e) => e.hint(),
            WiringError::BadMachinesPath(_) => "Choose a machines file path without spaces, `#` or `;`.".into(),
            WiringError::BadTrustedUser(_) => "Give the login name of the user who runs nix commands.".into(),
            WiringError::Mismatch { .. } => "This is a bug in Builderbar: the two files were built from different \
                                             settings. Please report it."
                .into(),
        }
    }
}

/// Our parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderWiring {
    pub machine: MachinesLine,
    pub ssh: SshHostBlock,
    /// Our machines file (used unless the user has a single `@FILE` of their own).
    pub machines_file: String,
    /// `extra-trusted-users = <user>`, only when the user agreed.
    pub trusted_user: Option<String>,
}

/// The files after our change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wired {
    pub nix_conf: Vec<u8>,
    /// The machines file that holds our line.
    pub machines_path: String,
    pub machines: Vec<u8>,
    /// The whole ssh_config file.
    pub ssh_config: String,
}

fn strip(file: &str, bytes: &[u8]) -> Result<LineDoc, WiringError> {
    block::strip_blocks(&LineDoc::parse(bytes)).map_err(|source| WiringError::Block { file: file.into(), source })
}

/// The settings in effect at the end of nix.conf without our block: `in_effect` when given,
/// else the file's own settings.
fn settings(doc: &LineDoc, in_effect: Option<&[(String, String)]>) -> Vec<(String, String)> {
    match in_effect {
        Some(s) => s.to_vec(),
        None => NixConf::from_doc(doc.clone()).settings().collect(),
    }
}

/// Which machines file holds (or will hold) our line, from nix.conf's bytes with or without our
/// block, `ours` being our default machines file.
pub fn machines_target(nix_conf: &[u8], ours: &str) -> Result<String, WiringError> {
    Ok(builders_plan(&settings(&strip("nix.conf", nix_conf)?, None), ours).0)
}

/// `machines_target` from the settings in effect (includes expanded, see `conf::expanded_settings`).
pub fn machines_target_in_effect(in_effect: &[(String, String)], ours: &str) -> String {
    builders_plan(in_effect, ours).0
}

/// (target machines file, `builders` line to add if any).
fn builders_plan(settings: &[(String, String)], ours: &str) -> (String, Option<String>) {
    let value = last_assignment_in(settings, "builders").unwrap_or_default();
    let items = machines_items(&value);
    match items.as_slice() {
        [MachinesItem::File(f)] if !f.is_empty() => (f.clone(), None),
        _ if items.contains(&MachinesItem::File(ours.into())) => (ours.into(), None),
        [] => (ours.into(), Some(format!("builders = @{ours}"))),
        _ => (ours.into(), Some(format!("builders = {value} ; @{ours}"))),
    }
}

/// nix.conf without our block.
pub fn unwire_nix_conf(nix_conf: &[u8]) -> Result<Vec<u8>, WiringError> {
    Ok(strip("nix.conf", nix_conf)?.render())
}

/// A machines file without our block.
pub fn unwire_machines(machines: &[u8]) -> Result<Vec<u8>, WiringError> {
    Ok(strip("the machines file", machines)?.render())
}

fn valid_user(u: &str) -> bool {
    !u.is_empty() && u.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

impl BuilderWiring {
    pub fn new(
        machine: MachinesLine,
        ssh: SshHostBlock,
        machines_file: &str,
        trusted_user: Option<&str>,
    ) -> Result<BuilderWiring, WiringError> {
        let w = BuilderWiring {
            machine,
            ssh,
            machines_file: machines_file.into(),
            trusted_user: trusted_user.map(String::from),
        };
        w.validate()?;
        Ok(w)
    }

    pub fn validate(&self) -> Result<(), WiringError> {
        self.machine.validate()?;
        self.ssh.validate()?;
        let p = &self.machines_file;
        if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == ';') {
            return Err(WiringError::BadMachinesPath(p.clone()));
        }
        if let Some(u) = &self.trusted_user {
            if !valid_user(u) {
                return Err(WiringError::BadTrustedUser(u.clone()));
            }
        }
        let checks = [
            ("host", self.machine.host().to_string(), self.ssh.alias.clone()),
            ("user", self.machine.user().unwrap_or_default().to_string(), self.ssh.user.clone()),
            ("key", self.machine.ssh_key.clone().unwrap_or_default(), self.ssh.identity_file.clone()),
        ];
        for (what, machine, ssh) in checks {
            if machine != ssh {
                return Err(WiringError::Mismatch { what, machine, ssh });
            }
        }
        Ok(())
    }

    /// Which machines file holds our line for this nix.conf.
    pub fn machines_target(&self, nix_conf: &[u8]) -> Result<String, WiringError> {
        machines_target(nix_conf, &self.machines_file)
    }

    /// The lines of our nix.conf block, given the settings in effect without it.
    fn nix_conf_lines(&self, settings: &[(String, String)]) -> Vec<String> {
        let mut lines = Vec::new();
        if let (_, Some(builders)) = builders_plan(settings, &self.machines_file) {
            lines.push(builders);
        }
        if effective_in(settings, "builders-use-substitutes").as_deref() != Some("true") {
            lines.push("builders-use-substitutes = true".into());
        }
        if let Some(user) = &self.trusted_user {
            let trusted = effective_in(settings, "trusted-users").unwrap_or_else(|| "root".into());
            if !trusted.split_whitespace().any(|t| t == user) {
                lines.push(format!("extra-trusted-users = {user}"));
            }
        }
        lines
    }

    /// nix.conf with our block (replacing any old one), judged by the file's own settings.
    pub fn wire_nix_conf(&self, nix_conf: &[u8]) -> Result<Vec<u8>, WiringError> {
        self.wire_nix_conf_in_effect(nix_conf, None)
    }

    /// Like `wire_nix_conf`, judged by `in_effect`: the settings Nix applies up to the end of
    /// this file without our block, includes expanded (`conf::expanded_settings`). So a
    /// `builders` or `trusted-users` that comes from an included file is kept too.
    pub fn wire_nix_conf_in_effect(
        &self,
        nix_conf: &[u8],
        in_effect: Option<&[(String, String)]>,
    ) -> Result<Vec<u8>, WiringError> {
        let doc = strip("nix.conf", nix_conf)?;
        let lines = self.nix_conf_lines(&settings(&doc, in_effect));
        Ok(block::append_block(&doc, &lines).render())
    }

    /// A machines file with our line in our block (replacing any old one).
    pub fn wire_machines(&self, machines: &[u8]) -> Result<Vec<u8>, WiringError> {
        let doc = strip("the machines file", machines)?;
        Ok(block::append_block(&doc, &[self.machine.render()]).render())
    }

    /// Our whole change. `machines` is the current content of `self.machines_target(nix_conf)`
    /// (empty when the file does not exist).
    pub fn wire(&self, nix_conf: &[u8], machines: &[u8]) -> Result<Wired, WiringError> {
        self.wire_in_effect(nix_conf, machines, None)
    }

    /// `wire` judged by the settings in effect (see `wire_nix_conf_in_effect`); `machines` is the
    /// content of `machines_target_in_effect(in_effect, ..)` then.
    pub fn wire_in_effect(
        &self,
        nix_conf: &[u8],
        machines: &[u8],
        in_effect: Option<&[(String, String)]>,
    ) -> Result<Wired, WiringError> {
        let doc = strip("nix.conf", nix_conf)?;
        let settings = settings(&doc, in_effect);
        Ok(Wired {
            nix_conf: block::append_block(&doc, &self.nix_conf_lines(&settings)).render(),
            machines_path: builders_plan(&settings, &self.machines_file).0,
            machines: self.wire_machines(machines)?,
            ssh_config: self.ssh.render(),
        })
    }

    /// Whether the files already carry exactly our change.
    pub fn is_wired(&self, nix_conf: &[u8], machines: &[u8]) -> Result<bool, WiringError> {
        Ok(self.wire_nix_conf(nix_conf)? == nix_conf && self.wire_machines(machines)? == machines)
    }
}

#[cfg(test)]
mod tests;
