//! Each doctor check fails on a crafted broken fixture, with its own cause and fix.

use super::*;
use crate::doctor::report::CheckStatus;
use crate::vm::VmStatus;

struct Fixture {
    _dir: tempfile::TempDir,
    target: SetupTarget,
    keys: InstallKeys,
    settings: Settings,
    status: VmStatus,
    vm_files: VmFiles,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let nix = dir.path().join("nix");
        let ssh = dir.path().join("ssh");
        std::fs::create_dir_all(&nix).unwrap();
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(nix.join("nix.conf"), "max-jobs = 1\n").unwrap();
        let keys = InstallKeys::ensure(&dir.path().join("keys")).unwrap();
        let target = SetupTarget {
            nix_conf_dir: nix,
            ssh_config_dir: ssh,
            system_root: dir.path().into(),
            trusted_user: None,
            owner: crate::privileged::Owner { uid: 0, gid: 0 },
        };
        let vm_dir = dir.path().join("vm");
        let vm_files = VmFiles::at(&vm_dir, &vm_dir);
        Fixture { _dir: dir, target, keys, settings: Settings::default(), status: VmStatus::stopped(), vm_files }
    }

    fn inputs(&self, user: &str) -> DoctorInputs<'_> {
        DoctorInputs {
            host: Host::LINUX_X86_64,
            settings: &self.settings,
            image: None,
            keys: &self.keys,
            target: &self.target,
            status: &self.status,
            ssh: None,
            user: user.into(),
            vm_files: &self.vm_files,
        }
    }
}

fn assert_fails(c: &DoctorCheck, id: &str, cause_has: &str, fix_has: &str) {
    assert_eq!(c.id, id);
    assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
    assert!(c.cause.as_deref().unwrap().contains(cause_has), "{c:?}");
    assert!(c.fix.as_deref().unwrap().contains(fix_has), "{c:?}");
}

#[tokio::test]
async fn missing_machines_line_says_run_setup() {
    let f = Fixture::new();
    let c = machines_line(&f.inputs("root"), &in_effect(&f.target).await);
    assert_fails(&c, "machines-line", "Setup has not been run", "builderbar setup");
}

#[tokio::test]
async fn malformed_machines_line_is_named() {
    let f = Fixture::new();
    std::fs::write(
        f.target.nix_conf_dir.join("nix.conf"),
        "builders = ssh-ng://builder@builderbar-builder x86_64-linux /k notanumber\n",
    )
    .unwrap();
    let c = machines_line(&f.inputs("root"), &in_effect(&f.target).await);
    assert_fails(&c, "machines-line", "malformed", "setup");
}

#[tokio::test]
async fn an_untrusted_user_is_told_how_to_get_trusted() {
    let f = Fixture::new();
    std::fs::write(f.target.nix_conf_dir.join("nix.conf"), "trusted-users = root\n").unwrap();
    let c = trusted_user(&f.inputs("ada"), &in_effect(&f.target).await);
    assert_fails(&c, "trusted-user", "ada is not in trusted-users", "extra-trusted-users");
    std::fs::write(f.target.nix_conf_dir.join("nix.conf"), "trusted-users = root\nextra-trusted-users = ada\n")
        .unwrap();
    assert_eq!(trusted_user(&f.inputs("ada"), &in_effect(&f.target).await).status, CheckStatus::Pass);
}

#[test]
fn key_problems_each_have_their_own_cause() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    assert_fails(&key_files(&f.inputs("root")), "key-files", "no key to log in", "builderbar setup");
    std::fs::set_permissions(f.keys.client_private(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_fails(&key_files(&f.inputs("root")), "key-files", "readable by other users", "chmod 600");
    std::fs::remove_file(f.keys.host_private()).unwrap();
    std::fs::set_permissions(f.keys.client_private(), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_fails(&key_files(&f.inputs("root")), "key-files", "not generated", "keys rotate");
}

#[test]
fn missing_ssh_config_explains_why_it_is_needed() {
    let f = Fixture::new();
    assert_fails(&ssh_config(&f.inputs("root")), "ssh-config", "takes no port", "builderbar setup");
}

#[test]
fn a_port_held_by_someone_else_is_named() {
    let mut f = Fixture::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    f.settings.port = l.local_addr().unwrap().port();
    let c = port(&f.inputs("root"));
    assert_fails(&c, "port", "cannot listen", &f.settings.port.to_string());
}

#[test]
fn an_unreadable_config_tree_fails_the_owner_check() {
    let f = Fixture::new();
    std::fs::remove_file(f.target.nix_conf_dir.join("nix.conf")).unwrap();
    // nix.conf as a directory cannot be read as a file.
    std::fs::create_dir(f.target.nix_conf_dir.join("nix.conf")).unwrap();
    let c = config_owner(&f.target);
    assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
    assert!(c.fix.is_some());
}

#[tokio::test]
async fn a_stopped_builder_skips_the_network_checks() {
    let f = Fixture::new();
    let (reach, key) = builder_reachable(&f.inputs("root")).await;
    assert_eq!(reach.status, CheckStatus::Skip);
    assert_eq!(key.status, CheckStatus::Skip);
    assert_eq!(store_ping(&f.inputs("root")).await.status, CheckStatus::Skip);
}

#[tokio::test]
async fn a_silent_port_fails_reachability_with_the_console_as_the_fix() {
    let f = Fixture::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut i = f.inputs("root");
    i.ssh = Some(SshTarget {
        port: l.local_addr().unwrap().port(),
        user: "builder".into(),
        identity: f.keys.client_private(),
        known_hosts: "/dev/null".into(),
    });
    // Accepts but never speaks: like qemu's forward before sshd listens.
    let (reach, key) = builder_reachable(&i).await;
    assert_fails(&reach, "builder-reachable", "not answering", "builderbar console");
    assert_eq!(key.status, CheckStatus::Skip);
    drop(l);
}
