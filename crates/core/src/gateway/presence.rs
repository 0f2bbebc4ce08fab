//! Which port our gateway serves, for every process: a running gateway holds an flock on
//! `<vm dir>/gateway.lock`, which names its port. So settings and status can tell our own
//! gateway on the public port from another program, and a second gateway is refused.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::gateway::GatewayError;

fn lock_path(vm_dir: &Path) -> PathBuf {
    vm_dir.join("gateway.lock")
}

/// Held while a gateway serves; released on drop or when the process dies.
#[derive(Debug)]
pub(crate) struct Presence {
    _file: File,
}

impl Presence {
    pub fn claim(vm_dir: &Path, port: u16) -> Result<Presence, GatewayError> {
        let path = lock_path(vm_dir);
        let io = |source: std::io::Error| GatewayError::Presence { path: path.clone(), source };
        std::fs::create_dir_all(vm_dir).map_err(io)?;
        let mut file =
            std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(io)?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(GatewayError::AlreadyServed { port: serving_port(vm_dir) });
        }
        file.set_len(0).map_err(io)?;
        file.write_all(format!("{port}\n").as_bytes()).map_err(io)?;
        Ok(Presence { _file: file })
    }
}

/// The port a live gateway serves for this VM directory, if one runs (in any process).
pub fn serving_port(vm_dir: &Path) -> Option<u16> {
    let mut file = File::open(lock_path(vm_dir)).ok()?;
    // Nobody holds it: no gateway (the lock is only probed, and released at once).
    if flock(&file, FlockOperation::NonBlockingLockShared).is_ok() {
        let _ = flock(&file, FlockOperation::Unlock);
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
