//! Per-install SSH keys (client key, guest host key), generated in Rust, stored 0600.

use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};

use crate::error::UserFacing;
use crate::fsutil::write_atomic;

/// The key files of one install. The guest sees only a channel directory written per start
/// ([`InstallKeys::write_guest_channel`]): its host key and the client's public key; the
/// client's private key never leaves the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallKeys {
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot write key file {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("key file {} is unreadable or not an OpenSSH ed25519 key: {message}", .path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("could not generate a key: {0}")]
    Generate(String),
}

impl UserFacing for KeyError {
    fn hint(&self) -> String {
        match self {
            KeyError::Write { .. } => "Check that Builderbar's data directory is writable.".into(),
            KeyError::Corrupt { .. } => "Run `builderbar keys rotate` to make new keys (then re-run setup).".into(),
            KeyError::Generate(_) => "This is unexpected; please report it with the log.".into(),
        }
    }
}

pub const CLIENT_KEY: &str = "client_ed25519";
pub const HOST_KEY: &str = "host_ed25519";

impl InstallKeys {
    pub fn at(dir: &Path) -> InstallKeys {
        InstallKeys { dir: dir.to_path_buf() }
    }

    pub fn client_private(&self) -> PathBuf {
        self.dir.join(CLIENT_KEY)
    }
    pub fn client_public_path(&self) -> PathBuf {
        self.dir.join(format!("{CLIENT_KEY}.pub"))
    }
    pub fn host_private(&self) -> PathBuf {
        self.dir.join(HOST_KEY)
    }
    pub fn host_public_path(&self) -> PathBuf {
        self.dir.join(format!("{HOST_KEY}.pub"))
    }
    /// Makes sure both key pairs exist (generating what is missing); repairs file modes. Idempotent.
    pub fn ensure(dir: &Path) -> Result<InstallKeys, KeyError> {
        let keys = InstallKeys::at(dir);
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Write { path: dir.into(), source })?;
        set_mode(dir, 0o700)?;
        for (name, comment) in [(CLIENT_KEY, "builderbar-client"), (HOST_KEY, "builderbar-builder-host")] {
            let private = dir.join(name);
            if !private.exists() {
                generate(&private, comment)?;
            }
            set_mode(&private, 0o600)?;
        }
        Ok(keys)
    }

    /// Replaces both key pairs with new ones.
    pub fn rotate(dir: &Path) -> Result<InstallKeys, KeyError> {
        for name in [CLIENT_KEY, HOST_KEY] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        InstallKeys::ensure(dir)
    }

    /// Fills `dir` with exactly what the guest may see, under the names the image expects:
    /// the client's public key and, when the host key is generated per install, the guest's
    /// private host key. Anything else in `dir` is removed.
    pub fn write_guest_channel(
        &self,
        dir: &Path,
        authorized_keys: &str,
        host_key: Option<&str>,
    ) -> Result<Vec<PathBuf>, KeyError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Write { path: dir.into(), source })?;
        set_mode(dir, 0o700)?;
        let auth = dir.join(authorized_keys);
        write(&auth, format!("{}\n", openssh(&self.client_public()?)).as_bytes(), 0o644)?;
        let mut written = vec![auth];
        if let Some(name) = host_key {
            let host = read_private(&self.host_private())?;
            let text = host.to_openssh(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
            let p = dir.join(name);
            write(&p, text.as_bytes(), 0o600)?;
            written.push(p);
        }
        Ok(written)
    }

    pub fn client_public(&self) -> Result<PublicKey, KeyError> {
        Ok(read_private(&self.client_private())?.public_key().clone())
    }

    pub fn host_public(&self) -> Result<PublicKey, KeyError> {
        Ok(read_private(&self.host_private())?.public_key().clone())
    }

    /// Public halves and fingerprints only; private keys are never shown.
    pub fn describe(&self) -> Result<Vec<(String, String, String)>, KeyError> {
        Ok(vec![
            ("client".into(), openssh(&self.client_public()?), fingerprint(&self.client_public()?)),
            ("builder host".into(), openssh(&self.host_public()?), fingerprint(&self.host_public()?)),
        ])
    }
}

/// `ssh-ed25519 AAAA... comment` (the comment is dropped so lines stay stable).
pub fn openssh(key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    k.to_openssh().expect("ed25519 public keys always encode").trim().to_string()
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn generate(path: &Path, comment: &str) -> Result<(), KeyError> {
    let mut key =
        PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).map_err(|e| KeyError::Generate(e.to_string()))?;
    key.set_comment(comment);
    let text = key.to_openssh(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
    write(path, text.as_bytes(), 0o600)?;
    let public = format!("{}\n", key.public_key().to_openssh().map_err(|e| KeyError::Generate(e.to_string()))?);
    write(&path.with_extension("pub"), public.as_bytes(), 0o644)
}

fn read_private(path: &Path) -> Result<PrivateKey, KeyError> {
    let key = PrivateKey::read_openssh_file(path)
        .map_err(|e| KeyError::Corrupt { path: path.into(), message: e.to_string() })?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(KeyError::Corrupt { path: path.into(), message: format!("algorithm is {}", key.algorithm()) });
    }
    Ok(key)
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    write_atomic(path, bytes, mode).map_err(|e| KeyError::Write { path: e.path, source: e.source })
}

fn set_mode(path: &Path, mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| KeyError::Write { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn generates_once_with_private_modes_and_a_guest_channel_without_the_client_secret() {
        let dir = tempfile::tempdir().unwrap();
        let k = InstallKeys::ensure(&dir.path().join("keys")).unwrap();
        assert_eq!(mode(&k.client_private()), 0o600);
        assert_eq!(mode(&k.host_private()), 0o600);
        assert_eq!(mode(&k.dir), 0o700);
        let first = std::fs::read(k.client_private()).unwrap();
        let again = InstallKeys::ensure(&k.dir).unwrap();
        assert_eq!(std::fs::read(again.client_private()).unwrap(), first, "ensure must not regenerate");
        let chan = dir.path().join("channel");
        std::fs::create_dir_all(&chan).unwrap();
        std::fs::write(chan.join("stale"), "x").unwrap();
        k.write_guest_channel(&chan, "authorized_keys", Some("ssh_host_ed25519_key")).unwrap();
        let mut guest: Vec<_> =
            std::fs::read_dir(&chan).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        guest.sort();
        assert_eq!(guest, ["authorized_keys", "ssh_host_ed25519_key"]);
        let auth = std::fs::read_to_string(chan.join("authorized_keys")).unwrap();
        assert_eq!(auth.trim(), openssh(&k.client_public().unwrap()));
        assert_eq!(mode(&chan.join("ssh_host_ed25519_key")), 0o600);
        // A stock image with a fixed host key gets only the client's public key.
        k.write_guest_channel(&chan, "builder_ed25519.pub", None).unwrap();
        let names: Vec<_> = std::fs::read_dir(&chan).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["builder_ed25519.pub"]);
    }

    #[test]
    fn modes_are_repaired_and_rotation_changes_both_keys() {
        let dir = tempfile::tempdir().unwrap();
        let k = InstallKeys::ensure(dir.path()).unwrap();
        std::fs::set_permissions(k.client_private(), std::fs::Permissions::from_mode(0o644)).unwrap();
        InstallKeys::ensure(dir.path()).unwrap();
        assert_eq!(mode(&k.client_private()), 0o600);
        let (c, h) = (k.client_public().unwrap(), k.host_public().unwrap());
        let r = InstallKeys::rotate(dir.path()).unwrap();
        assert_ne!(r.client_public().unwrap(), c);
        assert_ne!(r.host_public().unwrap(), h);
    }

    #[test]
    fn describe_shows_only_public_halves() {
        let dir = tempfile::tempdir().unwrap();
        let k = InstallKeys::ensure(dir.path()).unwrap();
        let secret = std::fs::read_to_string(k.client_private()).unwrap();
        let text = format!("{:?}", k.describe().unwrap());
        assert!(text.contains("SHA256:"));
        assert!(!text.contains("PRIVATE KEY"));
        let body: String = secret.lines().nth(2).unwrap().to_string();
        assert!(!text.contains(&body));
    }

    #[test]
    fn a_corrupt_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let k = InstallKeys::ensure(dir.path()).unwrap();
        std::fs::write(k.host_private(), "garbage").unwrap();
        let e = k.host_public().unwrap_err();
        assert!(e.to_string().contains("not an OpenSSH ed25519 key"), "{e}");
        assert!(e.hint().contains("keys rotate"));
    }
}
