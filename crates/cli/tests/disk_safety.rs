//! Issue 10, the state disk: deleted while the builder runs, and the filesystem under the VM
//! directory full (a small tmpfs). Each is noticed, said, and never reported as fine.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{guest_image, serial, Install};

#[test]
fn a_state_disk_deleted_while_running_is_noticed_and_never_called_kept() {
    let _g = serial();
    let i = Install::new();
    i.ok(&["start", "--wait"]);
    assert!(i.status()["notice"].is_null(), "{}", i.status());
    let disk = i.vm_dir().join("state.qcow2");
    std::fs::remove_file(&disk).unwrap();

    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    let notice = s["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("state disk") && notice.contains("deleted"), "{s}");
    let text = i.ok(&["status"]);
    assert!(text.contains("deleted"), "{text}");

    let out = i.run(&["stop", "--timeout", "20"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("is kept"), "a deleted disk was reported kept: {err}");
    assert!(err.contains("was deleted"), "{err}");
}

/// A tmpfs of `mib` MiB, unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(mib: u64) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0755"), "builderbar-test"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs (the test runs as root)");
        SmallFs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full.
    fn fill(&self) -> PathBuf {
        let p = self.path().join("filler");
        let _ = Command::new("dd").args(["if=/dev/zero", "bs=1M"]).arg(format!("of={}", p.display())).output();
        p
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_is_named_while_running_and_before_the_next_start() {
    let _g = serial();
    let fs = SmallFs::mount(320);
    let i = Install::in_home(tempfile::tempdir_in(fs.path()).unwrap(), guest_image());
    i.ok(&["start", "--wait"]);
    assert!(i.status()["notice"].is_null(), "{}", i.status());

    let filler = fs.fill();
    let s = i.status();
    let notice = s["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("full") && notice.contains(&i.vm_dir().display().to_string()), "{s}");
    // The guest's writes to its state disk now fail.
    let out = i.run(&["ssh", "--", "sh", "-c", "dd if=/dev/zero of=/state/big bs=1M count=64 && sync"]);
    eprintln!("guest write: {:?} {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    i.ok(&["stop", "--timeout", "10"]);

    let out = i.run(&["start", "--wait", "--timeout", "60"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("free") && err.contains(&i.vm_dir().display().to_string()), "{err}");
    assert!(!err.contains("without saying why"), "{err}");
    assert!(i.qemu_pids().is_empty());

    // Space freed: the builder starts again, its state disk intact.
    std::fs::remove_file(filler).unwrap();
    i.ok(&["start", "--wait"]);
    assert_eq!(i.ok(&["ssh", "--", "cat", "/state/boot-count"]).trim(), "2");
    i.ok(&["stop"]);
}
