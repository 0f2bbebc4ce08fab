//! `SshHostBlock`: the whole ssh_config file we own, which maps the builder alias to 127.0.0.1:PORT.
//!
//! The nix-daemon runs ssh as root, so the block goes into the system ssh config directory,
//! `/etc/ssh/ssh_config.d/` by default. Both macOS's and Debian's `/etc/ssh/ssh_config` include
//! that directory near their top (Debian: `Include /etc/ssh/ssh_config.d/*.conf`; macOS:
//! `Include /etc/ssh/ssh_config.d/*`), so the file name must end in `.conf` to be read on both.
//! ssh takes the first value it finds for each option, so our `Host` block wins over the
//! `Host *` defaults later in ssh_config.
//!
//! Nix 2.8 writes the machines line's pinned host key to a temporary known_hosts file under the
//! URI's host name (our alias). With a port other than 22 ssh would look up `[127.0.0.1]:PORT`
//! instead, so `HostKeyAlias <alias>` is required for the pin to match.

use crate::error::UserFacing;

/// Default file name inside the ssh config directory.
pub const SSH_CONFIG_FILE_NAME: &str = "builderbar.conf";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshConfigError {
    #[error("the ssh host alias {0:?} may only hold letters, digits, `.`, `_` and `-`")]
    BadAlias(String),
    #[error("the ssh user {0:?} may only hold letters, digits, `.`, `_` and `-`")]
    BadUser(String),
    #[error("the ssh port must be 1-65535, not {0}")]
    BadPort(u32),
    #[error("the key path {0:?} cannot be written into ssh_config (it holds a double quote or a control character)")]
    BadPath(String),
    #[error("the ssh config file name {0:?} does not end in `.conf`, so /etc/ssh/ssh_config would not include it")]
    BadFileName(String),
}

impl UserFacing for SshConfigError {
    fn hint(&self) -> String {
        match self {
            SshConfigError::BadPath(_) => {
                "Keep Builderbar's data directory at a path without quotes or newlines.".into()
            }
            SshConfigError::BadFileName(_) => "Name the file like `builderbar.conf`.".into(),
            _ => "Fix the builder's ssh settings (alias, user, port) and run setup again.".into(),
        }
    }
}

/// The ssh_config `Host` block for the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshHostBlock {
    /// The host name in the machines line's URI, e.g. `builderbar-linux`.
    pub alias: String,
    /// Forwarded port on 127.0.0.1.
    pub port: u16,
    pub user: String,
    /// The client private key the daemon uses.
    pub identity_file: String,
    /// Seconds between keep-alives (0: none).
    pub server_alive_interval: u32,
}

fn simple_name(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Checks a file name for the ssh config directory.
pub fn check_file_name(name: &str) -> Result<(), SshConfigError> {
    if name.ends_with(".conf") && !name.contains('/') && name.len() > ".conf".len() {
        Ok(())
    } else {
        Err(SshConfigError::BadFileName(name.into()))
    }
}

impl SshHostBlock {
    pub fn new(alias: &str, port: u16, user: &str, identity_file: &str) -> Result<SshHostBlock, SshConfigError> {
        let b = SshHostBlock {
            alias: alias.into(),
            port,
            user: user.into(),
            identity_file: identity_file.into(),
            server_alive_interval: 15,
        };
        b.validate()?;
        Ok(b)
    }

    pub fn validate(&self) -> Result<(), SshConfigError> {
        if !simple_name(&self.alias) {
            return Err(SshConfigError::BadAlias(self.alias.clone()));
        }
        if !simple_name(&self.user) {
            return Err(SshConfigError::BadUser(self.user.clone()));
        }
        if self.port == 0 {
            return Err(SshConfigError::BadPort(0));
        }
        if self.identity_file.is_empty() || self.identity_file.chars().any(|c| c == '"' || c.is_control()) {
            return Err(SshConfigError::BadPath(self.identity_file.clone()));
        }
        Ok(())
    }

    /// The file's full text (LF endings, trailing newline).
    pub fn render(&self) -> String {
        // ssh_config expands `%` tokens in IdentityFile; `%%` is a literal percent sign.
        let mut path = self.identity_file.replace('%', "%%");
        if path.contains([' ', '\t']) {
            path = format!("\"{path}\"");
        }
        let mut out = String::new();
        out.push_str("# Managed by Builderbar: the Linux builder VM for the Nix daemon.\n");
        out.push_str("# Nix 2.8 takes no port in a builder URI, so the port lives here.\n");
        out.push_str("# `builderbar unsetup` removes this file.\n");
        out.push_str(&format!("Host {}\n", self.alias));
        out.push_str("  HostName 127.0.0.1\n");
        out.push_str(&format!("  Port {}\n", self.port));
        out.push_str(&format!("  User {}\n", self.user));
        out.push_str(&format!("  IdentityFile {path}\n"));
        out.push_str("  IdentitiesOnly yes\n");
        out.push_str(&format!("  HostKeyAlias {}\n", self.alias));
        out.push_str("  StrictHostKeyChecking yes\n");
        if self.server_alive_interval > 0 {
            out.push_str(&format!("  ServerAliveInterval {}\n", self.server_alive_interval));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_block() {
        let b = SshHostBlock::new("builderbar-linux", 31022, "builder", "/etc/nix/builderbar_ed25519").unwrap();
        insta::assert_snapshot!(b.render());
    }

    #[test]
    fn quotes_spaces_and_escapes_percent() {
        let b = SshHostBlock::new("b", 2222, "u", "/Users/a b/100%/key").unwrap();
        assert!(b.render().contains("  IdentityFile \"/Users/a b/100%%/key\"\n"));
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(SshHostBlock::new("a b", 1, "u", "/k"), Err(SshConfigError::BadAlias("a b".into())));
        assert_eq!(SshHostBlock::new("*", 1, "u", "/k"), Err(SshConfigError::BadAlias("*".into())));
        assert_eq!(SshHostBlock::new("a", 1, "u\n", "/k"), Err(SshConfigError::BadUser("u\n".into())));
        assert_eq!(SshHostBlock::new("a", 0, "u", "/k"), Err(SshConfigError::BadPort(0)));
        assert_eq!(SshHostBlock::new("a", 1, "u", "/k\"x"), Err(SshConfigError::BadPath("/k\"x".into())));
        assert!(check_file_name("builderbar.conf").is_ok());
        assert!(check_file_name("builderbar").is_err());
        assert!(check_file_name(".conf").is_err());
    }
}
