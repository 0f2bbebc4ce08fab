//! The errors of privileged changes: planning, staging, elevating, running the script, the journal.

use std::path::PathBuf;

use crate::error::UserFacing;

#[derive(Debug, thiserror::Error)]
pub enum PrivilegedError {
    #[error("cannot plan a change to {path}: {reason}")]
    InvalidTarget { path: String, reason: &'static str },

    #[error("cannot read the current state of {path}: {source}")]
    ReadCurrent { path: PathBuf, source: std::io::Error },

    #[error("cannot stage the new files in {path}: {source}")]
    Stage { path: PathBuf, source: std::io::Error },

    #[error("{tool} was not found, so Builderbar cannot ask for administrator rights")]
    ElevationMissing { tool: String },

    #[error("neither pkexec nor sudo is installed and Builderbar is not running as root")]
    NoElevation,

    #[error("the administrator prompt ({tool}) was cancelled; nothing was changed")]
    Cancelled { tool: String },

    #[error("{tool} did not grant administrator rights: {stderr}")]
    NotAuthorized { tool: String, stderr: String },

    #[error("the privileged script failed (exit {code}): {stderr}")]
    ScriptFailed { code: String, stderr: String },

    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },

    #[error("cannot write the change journal at {path}: {source}")]
    Journal { path: PathBuf, source: std::io::Error },

    #[error("the change journal entry {path} is unreadable: {source}")]
    JournalParse { path: PathBuf, source: serde_json::Error },

    #[error("no applied change with id {id} in the journal")]
    JournalNotFound { id: String },

    #[error("the backup {path} needed to undo this change is gone")]
    BackupMissing { path: PathBuf },
}

impl UserFacing for PrivilegedError {
    fn hint(&self) -> String {
        match self {
            PrivilegedError::InvalidTarget { .. } => {
                "This is a bug in the plan Builderbar computed; please report it with the path above.".into()
            }
            PrivilegedError::ReadCurrent { .. } => {
                "Check that the file and its directory exist and are readable, then try again.".into()
            }
            PrivilegedError::Stage { .. } => {
                "Check that the temporary directory (TMPDIR) exists, is writable and has free space.".into()
            }
            PrivilegedError::ElevationMissing { tool } => match tool.as_str() {
                "osascript" => "osascript ships with macOS in /usr/bin; check that PATH includes /usr/bin.".into(),
                _ => format!("Install {tool}, or run the command as root (for example with sudo)."),
            },
            PrivilegedError::NoElevation => {
                "Install sudo or polkit (pkexec), or run the command as root. Use --dry-run to see the changes.".into()
            }
            PrivilegedError::Cancelled { .. } => "Run it again and approve the prompt to apply the changes.".into(),
            PrivilegedError::NotAuthorized { .. } => {
                "Use an administrator account and its password; your account must be allowed to use sudo or polkit."
                    .into()
            }
            PrivilegedError::ScriptFailed { .. } => {
                "Each file is replaced atomically, so none is half-written; a file already changed has its previous \
                 version beside it as <file>.builderbar-backup-<time>. Fix the cause named above and run it again."
                    .into()
            }
            PrivilegedError::Spawn { .. } => "Check that the program exists and is executable.".into(),
            PrivilegedError::Journal { .. } | PrivilegedError::JournalParse { .. } => {
                "Check that Builderbar's data directory is writable; the changes themselves were applied.".into()
            }
            PrivilegedError::JournalNotFound { .. } => "List the applied changes and pick one of their ids.".into(),
            PrivilegedError::BackupMissing { .. } => {
                "The original file cannot be restored automatically; restore it by hand or re-run setup.".into()
            }
        }
    }
}
