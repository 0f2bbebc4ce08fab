//! Full argv per host, held as insta snapshots a reviewer compares with nixpkgs' runner
//! (docs/qemu-argv.md goes through the macOS ones line by line).

use super::*;
use crate::image::ImageManifest;
use std::path::Path;

/// Where the flake's image for an aarch64 Mac would be; the manifest's relative paths
/// (store.img, state-template.qcow2) resolve against it.
const STOCK_DIR: &str = "/nix/store/8z0h5gk4y1w2m7c3x9v6b1n0q4r2s5t7-builderbar-image-stock-aarch64-linux";
const BUILDERBAR_DIR: &str = "/nix/store/9a1j6hl5z2x3n8d4y0w7c2p1r5s3t6u8-builderbar-image-builderbar-aarch64-linux";

/// A manifest exactly as nix/manifest.nix evaluates it (fixtures/eval.nix says how), or as
/// `tests/guest/build.sh --arch aarch64` writes it (`test-guest`; crates/cli/tests/aarch64_guest.rs
/// checks it against the built image).
fn fixture(name: &str) -> &'static str {
    match name {
        "stock" => include_str!("fixtures/stock-aarch64.json"),
        "builderbar" => include_str!("fixtures/builderbar-aarch64.json"),
        "test-guest" => include_str!("fixtures/test-guest-aarch64.json"),
        _ => unreachable!(),
    }
}

/// The stock darwin.linux-builder image as the app loads it on an aarch64 Mac.
fn stock_aarch64() -> ImageManifest {
    ImageManifest::parse(fixture("stock"), &Path::new(STOCK_DIR).join("builderbar-image.json")).unwrap()
}

/// Builderbar's own image (nixosModules.builder) as the app loads it on an aarch64 Mac.
fn builderbar_aarch64() -> ImageManifest {
    ImageManifest::parse(fixture("builderbar"), &Path::new(BUILDERBAR_DIR).join("builderbar-image.json")).unwrap()
}

/// The value of the option `opt` whose value starts with `prefix`, for every occurrence.
fn values<'a>(argv: &'a QemuArgv, opt: &str, prefix: &str) -> Vec<&'a str> {
    argv.args.windows(2).filter(|w| w[0] == opt && w[1].starts_with(prefix)).map(|w| w[1].as_str()).collect()
}

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

/// What the app runs on an Apple Silicon Mac for the stock image (stage 1).
#[test]
fn macos_aarch64_hvf_stock() {
    let argv = qemu_argv(Host::MACOS_AARCH64, &stock_aarch64(), &settings(), Accel::Hvf, &files());
    insta::assert_snapshot!(argv.pretty());
}

/// What the app runs on an Apple Silicon Mac for Builderbar's own image (stage 2).
#[test]
fn macos_aarch64_hvf_builderbar() {
    let argv = qemu_argv(Host::MACOS_AARCH64, &builderbar_aarch64(), &settings(), Accel::Hvf, &files());
    insta::assert_snapshot!(argv.pretty());
}

/// Everything qemu-vm.nix's runner gives the stock guest that its boot depends on
/// (docs/flake.md, "What the stock guest expects"), checked apart from the snapshot.
#[test]
fn stock_guest_gets_what_its_runner_gives_it() {
    let argv = qemu_argv(Host::MACOS_AARCH64, &stock_aarch64(), &settings(), Accel::Hvf, &files());
    assert_eq!(
        argv.program,
        "/nix/store/4b0r5h5a4g5m8vq9k6m2cz9rwn0fj7x2-qemu-host-cpu-only-9.2.3/bin/qemu-system-aarch64"
    );
    // All four 9p shares are neededForBoot in the guest's fstab; one missing is an emergency shell.
    let shares = values(&argv, "-virtfs", "local,");
    for (tag, model) in [("keys", "mapped-xattr"), ("xchg", "none"), ("shared", "none"), ("certs", "none")] {
        let want = format!("security_model={model},mount_tag={tag}");
        assert_eq!(shares.iter().filter(|s| s.contains(&want)).count(), 1, "{tag} in {shares:?}");
    }
    assert!(shares.iter().any(|s| s.contains("path=/data/vm/guest-keys,") && s.contains("mount_tag=keys")));
    assert!(shares.iter().any(|s| s.contains("path=/data/vm/shares/xchg,") && s.contains("mount_tag=shared")));
    assert!(shares.iter().any(|s| s.contains("-builderbar-guest-certs,") && s.contains("mount_tag=certs")));
    // The erofs store (found by its label) and the ext4 root made from the template (serial root).
    let drives = values(&argv, "-drive", "if=none,");
    assert!(drives.iter().any(|d| d.contains(&format!("file={STOCK_DIR}/store.img,format=raw,readonly=on"))));
    assert!(drives.iter().any(|d| d.contains("file=/data/vm/state.qcow2,format=qcow2,cache=writeback,werror=report")));
    assert_eq!(values(&argv, "-device", "virtio-blk-pci,").iter().filter(|d| d.ends_with(",serial=root")).count(), 1);
    // Direct boot with init= and regInfo= (the guest loads its Nix database from it).
    let append = values(&argv, "-append", "")[0];
    assert!(append.starts_with("loglevel=4 init=/nix/store/"), "{append}");
    assert!(append.contains(" regInfo=/nix/store/1yk0wkk7b3jgmr7h3p3vvn6b5l0k4z8g-closure-info/registration "));
    assert!(append.ends_with(" console=ttyAMA0"), "{append}");
    assert_eq!(values(&argv, "-netdev", "user,"), ["user,id=net0,hostfwd=tcp:127.0.0.1:31022-:22"]);
    assert!(values(&argv, "-fw_cfg", "").is_empty());
}

/// The fixtures are what nix/manifest.nix gives today; without Nix this says so and passes,
/// unless BUILDERBAR_REQUIRE_NIX=1.
#[test]
fn fixtures_match_manifest_nix() {
    let eval = |variant: &str| {
        std::process::Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "--argstr", "variant", variant])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vm/argv/fixtures/eval.nix"))
            .env("NIX_USER_CONF_FILES", "/dev/null")
            .output()
    };
    for variant in ["stock", "builderbar"] {
        let out = match eval(variant) {
            Ok(out) => out,
            Err(e) => {
                assert!(std::env::var_os("BUILDERBAR_REQUIRE_NIX").is_none(), "nix-instantiate: {e}");
                eprintln!("skipped: nix-instantiate is not installed");
                return;
            }
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let want: serde_json::Value = serde_json::from_str(fixture(variant)).unwrap();
        assert_eq!(got, want, "fixtures/{variant}-aarch64.json is stale; regenerate it (fixtures/eval.nix)");
    }
}

/// The aarch64 test guest as built by tests/guest/build.sh --arch aarch64, in its cache.
fn test_guest_aarch64() -> ImageManifest {
    ImageManifest::parse(
        fixture("test-guest"),
        Path::new("/cache/guest/aarch64/0123456789abcdef/builderbar-image.json"),
    )
    .unwrap()
}

/// `(option, a's value, b's value)` for every token where two argvs differ; a different
/// length or program is a difference of its own.
fn differences(a: &QemuArgv, b: &QemuArgv) -> Vec<(String, String, String)> {
    assert_eq!(a.program, b.program);
    assert_eq!(a.args.len(), b.args.len(), "{}\n--- vs ---\n{}", a.pretty(), b.pretty());
    (1..a.args.len())
        .filter(|&i| a.args[i] != b.args[i])
        .map(|i| (a.args[i - 1].clone(), a.args[i].clone(), b.args[i].clone()))
        .collect()
}

/// An aarch64 guest on this x86_64 Linux machine gets the Mac's command line with only the
/// accelerator and the CPU model changed (the accelerator as `auto` resolves it here: KVM
/// cannot run a foreign guest), so a boot here exercises every device, machine option, disk
/// and share option the Mac uses. docs/qemu-argv.md lists the two differences and why.
#[test]
fn aarch64_on_linux_x86_64_is_the_macs_argv_but_accelerator_and_cpu() {
    let here = crate::vm::accel::resolve(
        crate::settings::Accelerator::Auto,
        Host::LINUX_X86_64,
        crate::host::Arch::Aarch64,
        crate::vm::accel::AccelFacts { kvm_device: true, kvm_known_broken: false },
    )
    .unwrap();
    assert_eq!(here, Accel::Tcg);
    for image in [stock_aarch64(), builderbar_aarch64(), test_guest_aarch64()] {
        let mac = qemu_argv(Host::MACOS_AARCH64, &image, &settings(), Accel::Hvf, &files());
        let linux = qemu_argv(Host::LINUX_X86_64, &image, &settings(), here, &files());
        let cpu = tcg_cpu(Arch::Aarch64);
        assert_eq!(
            differences(&mac, &linux),
            [("-accel".into(), "hvf".into(), "tcg".into()), ("-cpu".into(), "host".into(), cpu.into())],
            "{}",
            image.name
        );
    }
}

/// The aarch64 test guest carries every kind of device the stock image has on a Mac.
#[test]
fn the_aarch64_test_guest_has_the_stock_images_kinds_of_devices() {
    let argv = qemu_argv(Host::MACOS_AARCH64, &test_guest_aarch64(), &settings(), Accel::Hvf, &files());
    let drives = values(&argv, "-drive", "if=none,");
    assert!(drives.iter().any(|d| d.ends_with("/usr.img,format=raw,readonly=on")), "{drives:?}");
    assert!(drives.iter().any(|d| d.contains("file=/data/vm/state.qcow2,format=qcow2,cache=writeback,werror=report")));
    let shares = values(&argv, "-virtfs", "local,");
    assert!(shares.iter().any(|s| s.ends_with("security_model=mapped-xattr,mount_tag=keys,readonly=on")), "{shares:?}");
    assert!(shares.iter().any(|s| s.ends_with("security_model=none,mount_tag=xchg")), "{shares:?}");
    assert!(values(&argv, "-fw_cfg", "").is_empty());
    assert!(values(&argv, "-append", "")[0].ends_with(" console=ttyAMA0"));
    assert_eq!(values(&argv, "-machine", ""), ["virt,gic-version=max"]);
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
    // -pidfile is a plain file name, not an option list.
    assert_eq!(values(&argv, "-pidfile", ""), ["/data/a,b/qemu.pid"]);
}

/// qemu takes -kernel and -initrd literally (checked with qemu 7.2: ",," names a file that
/// does not exist), so an image directory with a comma in its path must not be escaped there.
#[test]
fn kernel_and_initrd_paths_are_not_escaped() {
    let m =
        ImageManifest::parse(fixture("builderbar"), Path::new("/Users/me/images/a,b/builderbar-image.json")).unwrap();
    let m = ImageManifest {
        kernel: "/Users/me/images/a,b/kernel".into(),
        initrd: "/Users/me/images/a,b/initrd".into(),
        ..m
    };
    let argv = qemu_argv(Host::MACOS_AARCH64, &m, &settings(), Accel::Hvf, &files());
    assert_eq!(values(&argv, "-kernel", ""), ["/Users/me/images/a,b/kernel"]);
    assert_eq!(values(&argv, "-initrd", ""), ["/Users/me/images/a,b/initrd"]);
    assert!(values(&argv, "-drive", "").iter().any(|d| d.contains("file=/Users/me/images/a,,b/store.img,")));
}
