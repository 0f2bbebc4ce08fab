//! The qemu process behind a VM directory: found by pidfile, verified by its command line.

use std::path::Path;

use rustix::process::{kill_process, test_kill_process, Pid, Signal};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, UpdateKind};

/// Reads qemu's pidfile. None when absent or unreadable.
pub fn read_pidfile(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True when `pid` is alive and is the qemu that writes `pidfile` (guards against pid reuse).
pub fn is_our_qemu(pid: u32, pidfile: &Path) -> bool {
    let Some(p) = Pid::from_raw(pid as i32) else { return false };
    if test_kill_process(p).is_err() {
        return false;
    }
    let Ok(mut sys) = sysinfo::System::new() else { return true };
    let spid = sysinfo::Pid::from_u32(pid);
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[spid]),
        true,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    let Some(proc_) = sys.process(spid) else { return false };
    // A zombie has no command line: it has exited and only waits to be reaped.
    if matches!(proc_.status(), sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead) {
        return false;
    }
    let want = pidfile.as_os_str();
    proc_.cmd().iter().any(|a| a == want)
}

/// The live qemu of this VM directory, if any.
pub fn live_pid(pidfile: &Path) -> Option<u32> {
    read_pidfile(pidfile).filter(|pid| is_our_qemu(*pid, pidfile))
}

/// Scans every process for a qemu whose argv names `pidfile`: finds one whose starter died
/// before the pidfile was written. Costs a full process scan, so only start uses it.
pub fn find_by_argv(pidfile: &Path) -> Option<u32> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    let want = pidfile.as_os_str();
    sys.processes()
        .iter()
        .filter(|(_, p)| !matches!(p.status(), sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead))
        .find(|(_, p)| p.cmd().iter().any(|a| a == want))
        .map(|(pid, _)| pid.as_u32())
}

pub fn kill(pid: u32, signal: Signal) {
    if let Some(p) = Pid::from_raw(pid as i32) {
        let _ = kill_process(p, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_ours_only_if_its_argv_names_our_pidfile() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("qemu.pid");
        // sh carries the pidfile path in its argv, as qemu's `-pidfile <path>` does.
        let mut child = std::process::Command::new("sh").args(["-c", "sleep 30", "sh"]).arg(&pidfile).spawn().unwrap();
        std::fs::write(&pidfile, format!("{}\n", child.id())).unwrap();
        assert_eq!(live_pid(&pidfile), Some(child.id()));
        assert_eq!(find_by_argv(&pidfile), Some(child.id()));
        let other = dir.path().join("other.pid");
        std::fs::write(&other, format!("{}\n", child.id())).unwrap();
        assert_eq!(live_pid(&other), None, "same pid, different pidfile: not ours");
        kill(child.id(), Signal::KILL);
        child.wait().unwrap();
        assert_eq!(live_pid(&pidfile), None);
        assert_eq!(find_by_argv(&pidfile), None);
        assert_eq!(read_pidfile(&dir.path().join("none")), None);
    }
}
