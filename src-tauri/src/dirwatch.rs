//! Follows the VM directory, so a `builderbar start`/`stop` from a terminal shows in the tray
//! and the windows within a second: file events trigger `Supervisor::refresh`. No polling.

use std::path::Path;
use std::time::Duration;

use builderbar_core::vm::Supervisor;
use tracing::warn;

/// The files whose appearance, change or removal means another process changed the state
/// (the console log is written constantly and is not one of them).
pub fn is_state_file(path: &Path) -> bool {
    matches!(path.file_name().and_then(|n| n.to_str()), Some("qemu.pid" | "run.json" | "failure.json" | "stopping"))
}

/// Coalesce a burst of events (a start writes several files) into one refresh.
const SETTLE: Duration = Duration::from_millis(100);

/// Watches `vm_dir` until the app exits. The returned watcher must be kept alive.
pub fn spawn(supervisor: Supervisor, vm_dir: &Path) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    if let Err(e) = std::fs::create_dir_all(vm_dir) {
        warn!("cannot create {}: {e}; CLI changes show at the next refresh only", vm_dir.display());
        return None;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if ev.paths.iter().any(|p| is_state_file(p)) {
                let _ = tx.try_send(());
            }
        }
    })
    .map_err(|e| warn!("cannot watch the VM directory: {e}"))
    .ok()?;
    watcher
        .watch(vm_dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| warn!("cannot watch {}: {e}", vm_dir.display()))
        .ok()?;
    tauri::async_runtime::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(SETTLE).await;
            while rx.try_recv().is_ok() {}
            supervisor.refresh().await;
        }
    });
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_state_files_trigger_a_refresh() {
        for f in ["qemu.pid", "run.json", "failure.json", "stopping"] {
            assert!(is_state_file(&Path::new("/d/vm").join(f)), "{f}");
        }
        for f in ["console.log", "console.log.1", "qemu.stderr", "state.qcow2", ".run.json.tmp"] {
            assert!(!is_state_file(&Path::new("/d/vm").join(f)), "{f}");
        }
    }
}
