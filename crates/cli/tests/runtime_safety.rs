//! Issue 10, the runtime: another local user (`nobody`, through setpriv) can neither plant the
//! directory qemu's sockets go to, nor reach those sockets, nor read the VM's files; a CLI with
//! another environment still reaches the sockets of a VM; a socket path over the host's limit
//! is refused before qemu runs. docs/threat-model.md lists what each test covers.

mod common;

use std::path::Path;

use common::{as_nobody, guest_image, mode, serial, sticky_dir, Install};

/// Whether `nobody` can connect to the unix socket at `path` (python's socket module).
fn nobody_connects(path: &Path) -> (bool, String) {
    // The system's python (scripts/install-deps.sh installs python3), not one under root's home.
    assert!(Path::new("/usr/bin/python3").exists(), "the test needs /usr/bin/python3");
    let out = as_nobody(
        "/usr/bin/python3",
        &["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])", &path.to_string_lossy()],
    );
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn an_xdg_runtime_dir_of_another_user_receives_no_socket() {
    let _g = serial();
    let i = Install::new();
    // `nobody` made the directory XDG_RUNTIME_DIR names (a variable kept across sudo, a
    // shared machine's misconfigured session), open to everyone.
    let tmp = sticky_dir();
    let theirs = tmp.path().join("run");
    let out = as_nobody("mkdir", &["-m", "0777", &theirs.to_string_lossy()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = i.cmd(&["start"]).env("XDG_RUNTIME_DIR", &theirs).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(entries(&theirs).is_empty(), "qemu's sockets went into another user's directory: {:?}", entries(&theirs));
    i.ok(&["stop", "--timeout", "5"]);
}

#[test]
fn a_socket_base_made_or_linked_by_another_user_is_refused_before_qemu_runs() {
    let _g = serial();
    let i = Install::new();
    let tmp = sticky_dir();
    // `nobody` creates the socket base before we do (as /tmp/builderbar-<uid> would be).
    let base = tmp.path().join("builderbar-0");
    assert!(as_nobody("mkdir", &["-m", "0777", &base.to_string_lossy()]).status.success());
    let out = i.cmd(&["start"]).env("BUILDERBAR_RUNTIME_DIR", &base).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with another user's socket directory: {err}");
    assert!(err.contains(&base.display().to_string()) && err.contains("belongs to another user"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(entries(&base).is_empty(), "{:?}", entries(&base));
    assert!(i.qemu_pids().is_empty());

    // Or plants a symbolic link there, to a directory of ours.
    let ours = tempfile::tempdir().unwrap();
    let link = tmp.path().join("builderbar-link");
    assert!(as_nobody("ln", &["-s", &ours.path().to_string_lossy(), &link.to_string_lossy()]).status.success());
    let out = i.cmd(&["start"]).env("BUILDERBAR_RUNTIME_DIR", &link).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "followed a planted link: {err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(entries(ours.path()).is_empty());
    assert!(i.qemu_pids().is_empty());
}

#[test]
fn another_user_reaches_neither_the_sockets_nor_the_vm_files() {
    let _g = serial();
    let i = Install::new();
    // A home others may enter, as most are: only the modes of our own files protect them.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(i.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(i.home.path().join("data"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    i.ok(&["start"]);
    let sockets = i.socket_dir();
    for s in ["qmp.sock", "serial.sock"] {
        let p = sockets.join(s);
        assert!(p.exists(), "{}", p.display());
        let (connected, err) = nobody_connects(&p);
        assert!(!connected, "nobody connected to {}", p.display());
        assert!(err.contains("PermissionError"), "{err}");
    }
    assert_eq!(mode(&sockets), 0o700, "{}", sockets.display());
    assert_eq!(mode(sockets.parent().unwrap()), 0o700, "{}", sockets.parent().unwrap().display());

    let vm = i.vm_dir();
    assert_eq!(mode(&vm), 0o700);
    for f in ["console.log", "run.json", "qemu.stderr", "qemu.pid"] {
        assert_eq!(mode(&vm.join(f)), 0o600, "{f}");
    }
    assert!(!as_nobody("cat", &[&vm.join("console.log").to_string_lossy()]).status.success());

    // A run that ends badly leaves its failure record private too.
    for pid in i.qemu_pids() {
        std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    }
    i.wait_for("qemu to die", std::time::Duration::from_secs(10), || i.qemu_pids().is_empty());
    assert_eq!(i.status()["state"], "failed");
    assert_eq!(mode(&vm.join("failure.json")), 0o600);
}

#[test]
fn a_cli_in_another_environment_stops_the_apps_vm_gracefully() {
    let _g = serial();
    let i = Install::new();
    // The app's session has a runtime directory; a shell over SSH or from cron may not.
    let app_runtime = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(app_runtime.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let out = i.cmd(&["start", "--wait"]).env("XDG_RUNTIME_DIR", app_runtime.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = i.run(&["stop", "--timeout", "20"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("killing"), "the stop could not reach qemu's control socket: {err}");
    assert!(i.console_log().contains("builderbar-guest: shutting down"), "no graceful power-off:\n{err}");
    assert!(entries(app_runtime.path()).iter().all(|d| entries(&app_runtime.path().join(d)).is_empty()));
}

#[test]
fn a_socket_path_over_the_hosts_limit_is_refused_and_a_long_home_is_fine() {
    let _g = serial();
    let i = Install::new();
    // A runtime directory so long that qemu's socket path would not fit in sun_path.
    let tmp = tempfile::tempdir().unwrap();
    let long = tmp.path().join("r".repeat(100));
    std::fs::create_dir(&long).unwrap();
    let out = i.cmd(&["start"]).env("BUILDERBAR_RUNTIME_DIR", &long).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("108 bytes"), "the limit is not named: {err}");
    assert!(i.qemu_pids().is_empty());
    drop(i);

    // A home far longer than sun_path: the sockets live in the short directory.
    let home = tempfile::Builder::new().prefix(&"a-very-long-user-name-".repeat(6)).tempdir().unwrap();
    let i = Install::in_home(home, guest_image());
    assert!(i.vm_dir().join("serial.sock").as_os_str().len() > 108);
    i.ok(&["start"]);
    assert!(i.socket_dir().join("qmp.sock").exists());
    i.ok(&["stop", "--timeout", "5"]);
}
