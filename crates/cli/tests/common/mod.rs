//! Shared harness for tests that boot the real test guest through the real `builderbar` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// VM tests boot real guests; one at a time keeps them within 2 cores and 24 GiB.
static VM_LOCK: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    VM_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The x86_64 test guest image, built once (and cached by tests/guest/build.sh across runs).
pub fn guest_image() -> PathBuf {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| build_guest(&[])).clone()
}

/// The aarch64 test guest image (`tests/guest/build.sh --arch aarch64`), built once.
pub fn aarch64_guest_image() -> PathBuf {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| build_guest(&["--arch", "aarch64"])).clone()
}

fn build_guest(args: &[&str]) -> PathBuf {
    let out = Command::new("bash")
        .arg(workspace_root().join("tests/guest/build.sh"))
        .args(args)
        .output()
        .expect("run tests/guest/build.sh");
    assert!(out.status.success(), "guest build {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.lines().last().expect("image dir").trim())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One isolated Builderbar install: its own home (data, logs, VM dir) and port.
pub struct Install {
    pub home: tempfile::TempDir,
    pub port: u16,
    pub image: PathBuf,
}

impl Install {
    pub fn new() -> Install {
        Install::with_image(guest_image())
    }

    pub fn with_image(image: PathBuf) -> Install {
        Install::in_home(tempfile::tempdir().unwrap(), image)
    }

    /// An install whose home (data, logs, VM dir) is `home`: a long path, another filesystem.
    pub fn in_home(home: tempfile::TempDir, image: PathBuf) -> Install {
        let install = Install { home, port: free_port(), image };
        // The port first: each `set` validates every value, and the default port may be taken
        // on this machine (another install, another program).
        install.ok(&["settings", "set", "port", &install.port.to_string()]);
        install.ok(&["settings", "set", "accelerator", "tcg"]);
        install.ok(&["settings", "set", "memory_mib", "768"]);
        install.ok(&["settings", "set", "cores", "1"]);
        install.ok(&["settings", "set", "image", &install.image.display().to_string()]);
        install
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_builderbar"));
        c.args(args)
            .env("BUILDERBAR_HOME", self.home.path())
            .env_remove("XDG_RUNTIME_DIR")
            .env("BUILDERBAR_LOG", "info");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "builderbar {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("status --json: {e}\n{}", String::from_utf8_lossy(&out.stdout));
        })
    }

    pub fn vm_dir(&self) -> PathBuf {
        self.home.path().join("data/vm")
    }

    pub fn pidfile(&self) -> PathBuf {
        self.vm_dir().join("qemu.pid")
    }

    pub fn console_log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.vm_dir().join("console.log")).unwrap_or_default()).into_owned()
    }

    /// The short directory holding this install's qemu sockets, as the argv names it.
    pub fn socket_dir(&self) -> PathBuf {
        let argv = self.ok(&["argv"]);
        let at = argv.find("socket,id=ser0,path=").expect("serial chardev in argv") + "socket,id=ser0,path=".len();
        let path = argv[at..].split(',').next().unwrap();
        Path::new(path).parent().unwrap().to_path_buf()
    }

    /// Pids of every qemu whose argv names this install's pidfile.
    pub fn qemu_pids(&self) -> Vec<u32> {
        let want = self.pidfile().display().to_string();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else { continue };
            if cmdline.split(|b| *b == 0).any(|a| a == want.as_bytes()) {
                pids.push(pid);
            }
        }
        pids
    }

    pub fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs `program args` as the user `nobody` (another local user, the attacker in the
/// security tests), with no supplementary groups.
pub fn as_nobody(program: &str, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", program])
        .args(args)
        .output()
        .expect("run setpriv")
}

/// A directory like /tmp: anyone may create entries in it, only their owners remove them.
pub fn sticky_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// The permission bits of `path` (not following a symlink).
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

impl Drop for Install {
    /// Never leave a VM behind, whatever the test did.
    fn drop(&mut self) {
        let _ = self.cmd(&["stop", "--timeout", "5"]).output();
        for pid in self.qemu_pids() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}
