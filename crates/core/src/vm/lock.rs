//! The cross-process control lock: one start or stop at a time per VM directory.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

use crate::vm::error::VmError;

/// Held while a process starts or stops the VM; released on drop (or when the process dies).
#[derive(Debug)]
pub struct ControlLock {
    _file: File,
}

impl ControlLock {
    /// Waits up to `timeout` for the lock. Polls briefly, since flock has no timed wait.
    pub async fn acquire(path: &Path, timeout: Duration) -> Result<ControlLock, VmError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(VmError::io(format!("cannot create {}", dir.display())))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(VmError::io(format!("cannot open {}", path.display())))?;
        let deadline = Instant::now() + timeout;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(ControlLock { _file: file }),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    if Instant::now() >= deadline {
                        return Err(VmError::Busy { secs: timeout.as_secs() });
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    return Err(VmError::Io { what: format!("cannot lock {}", path.display()), source: e.into() })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("control.lock");
        let held = ControlLock::acquire(&p, Duration::from_secs(1)).await.unwrap();
        let e = ControlLock::acquire(&p, Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(e, VmError::Busy { .. }));
        drop(held);
        ControlLock::acquire(&p, Duration::from_millis(100)).await.unwrap();
    }
}
