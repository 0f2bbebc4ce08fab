//! A minimal QMP client over qemu's unix socket: handshake, one command, its answer.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::vm::error::VmError;

/// The longest QMP message read: qemu's answers to what we ask are a few KiB. Whatever sits
/// at the socket's path cannot make a reader hold more than this.
const MAX_MESSAGE: u64 = 1 << 20;

/// One QMP session. qemu serves one client per socket at a time, so sessions are short.
pub struct Qmp {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Qmp {
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Qmp, VmError> {
        let fut = async {
            let stream = UnixStream::connect(path).await.map_err(|e| VmError::Qmp(format!("connect: {e}")))?;
            let (r, w) = stream.into_split();
            let mut qmp = Qmp { reader: BufReader::new(r), writer: w };
            let greeting = qmp.read_message().await?;
            if greeting.get("QMP").is_none() {
                return Err(VmError::Qmp(format!("unexpected greeting {greeting}")));
            }
            qmp.execute("qmp_capabilities", None).await?;
            Ok(qmp)
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| VmError::Qmp("no answer from qemu".into()))?
    }

    async fn read_message(&mut self) -> Result<Value, VmError> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_MESSAGE)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| VmError::Qmp(format!("read: {e}")))?;
        if n == 0 {
            return Err(VmError::Qmp("qemu closed the connection".into()));
        }
        if line.last() != Some(&b'\n') {
            return Err(VmError::Qmp(format!("a message longer than {MAX_MESSAGE} bytes, or cut short")));
        }
        serde_json::from_slice(&line).map_err(|e| {
            let shown = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
            VmError::Qmp(format!("bad message {shown:?}: {e}"))
        })
    }

    /// Runs a command and returns its `return` value; events in between are skipped.
    pub async fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, VmError> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(b'\n');
        self.writer.write_all(&bytes).await.map_err(|e| VmError::Qmp(format!("write: {e}")))?;
        loop {
            let m = self.read_message().await?;
            if let Some(r) = m.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = m.get("error") {
                return Err(VmError::Qmp(format!("{command}: {}", e["desc"].as_str().unwrap_or("error"))));
            }
        }
    }
}

/// Connects, runs one command, disconnects.
pub async fn command(path: &Path, command: &str, timeout: Duration) -> Result<Value, VmError> {
    let mut q = Qmp::connect(path, timeout).await?;
    tokio::time::timeout(timeout, q.execute(command, None))
        .await
        .map_err(|_| VmError::Qmp(format!("{command}: no answer")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_endless_line_is_refused_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qmp.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            // A "greeting" that never ends: 64 MiB without a newline, if the reader took it.
            let chunk = vec![b'x'; 1 << 16];
            let mut sent = 0u64;
            while sent < 64 << 20 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len() as u64;
            }
            sent
        });
        let e = Qmp::connect(&sock, Duration::from_secs(20)).await.err().expect("refused");
        assert!(e.to_string().contains("longer than 1048576 bytes"), "{e}");
        drop(e);
        let sent = server.await.unwrap();
        assert!(sent < 64 << 20, "the reader kept reading: {sent} bytes");
    }

    #[tokio::test]
    async fn handshake_then_command_skipping_events() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qmp.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n").await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).contains("qmp_capabilities"));
            s.write_all(b"{\"return\": {}}\r\n").await.unwrap();
            let n = s.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).contains("query-status"));
            s.write_all(b"{\"event\": \"RESUME\"}\r\n{\"return\": {\"status\": \"running\", \"running\": true}}\r\n")
                .await
                .unwrap();
        });
        let r = command(&sock, "query-status", Duration::from_secs(2)).await.unwrap();
        assert_eq!(r["status"], "running");
        server.await.unwrap();
    }
}
