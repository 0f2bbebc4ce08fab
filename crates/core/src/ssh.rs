//! How the core talks SSH to the builder: the pinned-key ssh argv and the banner probe.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// The host name under which the builder's key is pinned (ssh's HostKeyAlias).
pub const HOST_ALIAS: &str = "builderbar-builder";

/// Everything needed to reach the builder with its host key pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub port: u16,
    pub user: String,
    pub identity: PathBuf,
    /// A known_hosts file holding exactly the pinned key under [`HOST_ALIAS`].
    pub known_hosts: PathBuf,
}

impl SshTarget {
    /// `ssh` argv that trusts only the pinned key: no user or system config, no known_hosts
    /// beyond ours, no agent keys, no prompts. `remote` words are quoted for the guest's shell.
    pub fn argv(&self, remote: &[String]) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["ssh".into(), "-F".into(), "/dev/null".into()];
        let opt = |a: &mut Vec<OsString>, kv: String| {
            a.push("-o".into());
            a.push(kv.into());
        };
        opt(&mut a, format!("UserKnownHostsFile={}", self.known_hosts.display()));
        opt(&mut a, "GlobalKnownHostsFile=/dev/null".into());
        opt(&mut a, "StrictHostKeyChecking=yes".into());
        opt(&mut a, format!("HostKeyAlias={HOST_ALIAS}"));
        opt(&mut a, "IdentitiesOnly=yes".into());
        opt(&mut a, format!("IdentityFile={}", self.identity.display()));
        opt(&mut a, "IdentityAgent=none".into());
        opt(&mut a, "BatchMode=yes".into());
        opt(&mut a, "ConnectTimeout=10".into());
        opt(&mut a, "LogLevel=ERROR".into());
        a.extend(["-p".into(), self.port.to_string().into(), "-l".into(), self.user.clone().into()]);
        a.push("127.0.0.1".into());
        if !remote.is_empty() {
            a.push("--".into());
            // ssh joins words with spaces for the remote shell; quote each so words stay words.
            a.push(
                remote
                    .iter()
                    .map(|w| shlex::try_quote(w).map(|q| q.into_owned()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into(),
            );
        }
        a
    }
}

/// Writes the known_hosts file that pins `public_key_line` under [`HOST_ALIAS`].
pub fn write_known_hosts(path: &Path, public_key_line: &str) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, format!("{HOST_ALIAS} {public_key_line}\n").as_bytes(), 0o644)
        .map_err(|e| e.source)
}

/// Reads the SSH identification banner on 127.0.0.1:port. qemu's port forward accepts
/// connections even before the guest listens, so only a banner proves sshd is up.
pub async fn probe_banner(port: u16, timeout: Duration) -> Option<String> {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 256];
        while !buf.contains(&b'\n') && buf.len() < 256 {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let line = String::from_utf8_lossy(&buf).lines().next()?.trim().to_string();
        line.starts_with("SSH-").then_some(line)
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_pins_the_key_and_quotes_remote_words() {
        let t = SshTarget {
            port: 31022,
            user: "builder".into(),
            identity: "/k/client".into(),
            known_hosts: "/v/known_hosts".into(),
        };
        let argv: Vec<String> = t
            .argv(&["echo".into(), "a b".into(), "$(id)".into()])
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        insta::assert_snapshot!(argv.join("\n"));
    }

    #[tokio::test]
    async fn banner_probe_needs_a_real_banner() {
        use tokio::io::AsyncWriteExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            // First connection: closed without a banner (qemu's forward before sshd is up).
            drop(l.accept().await.unwrap());
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(b"SSH-2.0-dropbear_2022.83\r\n").await.unwrap();
        });
        assert_eq!(probe_banner(port, Duration::from_secs(2)).await, None);
        assert_eq!(probe_banner(port, Duration::from_secs(2)).await.as_deref(), Some("SSH-2.0-dropbear_2022.83"));
        server.await.unwrap();
    }
}
