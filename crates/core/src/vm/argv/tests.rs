//! Full argv per host, held as insta snapshots a reviewer compares with nixpkgs' runner.

use super::*;
use crate::image::ImageManifest;
use std::path::Path;

fn files() -> VmFiles {
    VmFiles::at(Path::new("/data/vm"), Path::new("/run/bb-1234abcd"))
}

fn settings() -> Settings {
    Settings { cores: 4, memory_mib: 4096, port: 31022, ..Settings::default() }
}

fn test_guest() -> ImageManifest {
    ImageManifest::parse(crate::image::manifest::tests::GOOD, Path::new("/images/guest/builderbar-image.json")).unwrap()
}

fn nixos_aarch64() -> ImageManifest {
    let text = r#"{
      "schema": 1, "name": "NixOS builder", "system": "aarch64-linux",
      "kernel": "kernel", "initrd": "initrd",
      "cmdline": "loglevel=4 init=/nix/store/xxx-nixos-system/init",
      "console": "ttyAMA0", "ready_marker": "BUILDERBAR-READY",
      "ssh": {"user": "builder", "port": 22},
      "keys": {"channel": "share", "tag": "keys", "security_model": "mapped-xattr",
               "files": {"authorized_keys": "builder_ed25519.pub"}},
      "host_key": {"kind": "fixed", "public": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb"},
      "disks": [
        {"kind": "image", "path": "nixos.img", "format": "raw", "read_only": true, "serial": "nix-store"},
        {"kind": "state", "serial": "root"}
      ],
      "shares": [{"tag": "xchg", "source": {"kind": "state_dir", "name": "xchg"}, "security_model": "none"}]
    }"#;
    ImageManifest::parse(text, Path::new("/nix/store/abc-builder-image/builderbar-image.json")).unwrap()
}

#[test]
fn linux_x86_64_tcg() {
    let argv = qemu_argv(Host::LINUX_X86_64, &test_guest(), &settings(), Accel::Tcg, &files());
    insta::assert_snapshot!(argv.pretty());
}

#[test]
fn linux_x86_64_kvm() {
    let argv = qemu_argv(Host::LINUX_X86_64, &test_guest(), &settings(), Accel::Kvm, &files());
    insta::assert_snapshot!(argv.pretty());
}

#[test]
fn linux_aarch64_kvm() {
    let argv = qemu_argv(Host::LINUX_AARCH64, &nixos_aarch64(), &settings(), Accel::Kvm, &files());
    insta::assert_snapshot!(argv.pretty());
}

#[test]
fn macos_aarch64_hvf() {
    let argv = qemu_argv(Host::MACOS_AARCH64, &nixos_aarch64(), &settings(), Accel::Hvf, &files());
    insta::assert_snapshot!(argv.pretty());
}

#[test]
fn macos_x86_64_hvf() {
    let argv = qemu_argv(Host::MACOS_X86_64, &test_guest(), &settings(), Accel::Hvf, &files());
    insta::assert_snapshot!(argv.pretty());
}

#[test]
fn forwards_bind_loopback_only_and_commas_are_escaped() {
    let f = VmFiles::at(Path::new("/data/a,b"), Path::new("/run/x"));
    let argv = qemu_argv(Host::LINUX_X86_64, &test_guest(), &settings(), Accel::Tcg, &f);
    let net = argv.args.iter().find(|a| a.starts_with("user,")).unwrap();
    assert!(net.contains("hostfwd=tcp:127.0.0.1:31022-:22"), "{net}");
    assert!(argv.args.iter().any(|a| a.contains("/data/a,,b/state.qcow2")));
    assert!(!argv.args.iter().any(|a| a.contains("0.0.0.0")));
}
