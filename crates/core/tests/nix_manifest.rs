//! The Nix side of the image contract, run for real with the machine's Nix (Debian's 2.8 here):
//! (a) nix/manifest.nix, evaluated with nix-instantiate, is what the Rust parser accepts, for
//!     both images, so the two sides cannot drift apart;
//! (b) the `nix` provider builds tests/nix/test-image.nix with nix-build and, as a flake, with
//!     `nix build --json`, in a throwaway store, reporting progress, and loads the manifest;
//!     its failures are the classified errors.
//!
//! Without Nix these tests say so and pass, unless BUILDERBAR_REQUIRE_NIX=1 (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use builderbar_core::image::nix_provider::{ImageSource, NixError, NixEvent, NixProvider};
use builderbar_core::image::{DiskFormat, DiskSpec, DiskTemplate, HostKeySpec, ImageManifest, KeyChannel, ShareSource};
use builderbar_core::UserFacing;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// True when Nix is here; otherwise explains the skip (or fails when Nix is required).
fn have_nix() -> bool {
    let ok = Command::new("nix-instantiate").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("BUILDERBAR_REQUIRE_NIX").is_none(),
            "BUILDERBAR_REQUIRE_NIX is set but nix is missing"
        );
        eprintln!("skipped: nix-instantiate is not installed");
    }
    ok
}

fn eval_manifest(variant: &str) -> String {
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--argstr", "variant", variant])
        .arg(repo().join("tests/nix/eval-manifest.nix"))
        .env("NIX_USER_CONF_FILES", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn stock_manifest_from_nix_parses_in_rust() {
    if !have_nix() {
        return;
    }
    let json = eval_manifest("stock");
    let m = ImageManifest::parse(&json, Path::new("/nix/store/x-image/builderbar-image.json")).unwrap();
    assert_eq!(m.system, "aarch64-linux");
    assert_eq!(m.console, "ttyAMA0");
    // qemu-vm.nix's -append, minus the console= the app adds itself.
    assert!(m.cmdline.starts_with("loglevel=4 init=/nix/store/"), "{}", m.cmdline);
    assert!(m.cmdline.contains(" regInfo=/nix/store/1yk0wkk7b3jgmr7h3p3vvn6b5l0k4z8g-closure-info/registration"));
    assert!(!m.cmdline.contains("console="));
    assert!(m.kernel.to_string_lossy().ends_with("-nixos-system-nixos-25.05.20250601.abcdef0/kernel"));
    assert!(matches!(&m.host_key, HostKeySpec::Fixed { public } if public.starts_with("ssh-ed25519 AAAAC3")));
    match &m.keys {
        KeyChannel::Share { tag, security_model, files } => {
            assert_eq!((tag.as_str(), security_model.as_str()), ("keys", "mapped-xattr"));
            assert_eq!(files.authorized_keys, "builder_ed25519.pub");
        }
        other => panic!("stock keys travel on a share, not {other:?}"),
    }
    assert_eq!(
        m.disks,
        vec![
            DiskSpec::Image {
                path: "/nix/store/x-image/store.img".into(),
                format: DiskFormat::Raw,
                read_only: true,
                serial: None
            },
            DiskSpec::State {
                serial: Some("root".into()),
                template: Some(DiskTemplate {
                    path: "/nix/store/x-image/state-template.qcow2".into(),
                    format: DiskFormat::Qcow2
                }),
            },
        ]
    );
    let tags: Vec<_> = m.shares.iter().map(|s| (s.tag.as_str(), s.security_model.as_str(), s.read_only)).collect();
    assert_eq!(tags, [("xchg", "none", false), ("shared", "none", false), ("certs", "none", true)]);
    assert!(
        matches!(&m.shares[2].source, ShareSource::Host { path } if path.to_string_lossy().ends_with("-builderbar-guest-certs"))
    );
    assert!(m.ready_marker.is_none());
    assert_eq!(
        m.qemu.as_deref(),
        Some(Path::new("/nix/store/4b0r5h5a4g5m8vq9k6m2cz9rwn0fj7x2-qemu-host-cpu-only-9.2.3/bin"))
    );
}

#[test]
fn builderbar_manifest_from_nix_parses_in_rust() {
    if !have_nix() {
        return;
    }
    let json = eval_manifest("builderbar");
    let m = ImageManifest::parse(&json, Path::new("/nix/store/y-image/builderbar-image.json")).unwrap();
    assert_eq!((m.system.as_str(), m.console.as_str()), ("x86_64-linux", "ttyS0"));
    assert_eq!(m.host_key, HostKeySpec::Runtime);
    assert!(matches!(&m.keys, KeyChannel::FwCfg { prefix, .. } if prefix == "opt/builderbar"));
    assert_eq!(m.keys.files().authorized_keys, "authorized_keys");
    assert_eq!(m.ready_marker.as_deref(), Some("BUILDERBAR-READY"));
    assert_eq!(m.disks[1], DiskSpec::State { serial: Some("root".into()), template: None });
    assert!(m.shares.is_empty());
    assert_eq!(m.ssh.user, "builder");
    assert_eq!(m.qemu, None);
}

/// With nixpkgs' lib at hand (BUILDERBAR_NIXPKGS_LIB), the manifests as flake.nix's images
/// assemble them from a darwin.linux-builder-shaped configuration parse too.
#[test]
fn flake_image_manifests_parse_in_rust() {
    let Some(lib) = std::env::var_os("BUILDERBAR_NIXPKGS_LIB") else {
        eprintln!("skipped: BUILDERBAR_NIXPKGS_LIB is not set");
        return;
    };
    if !have_nix() {
        return;
    }
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--arg", "lib"])
        .arg(format!("import {}", Path::new(&lib).display()))
        .arg(repo().join("tests/nix/eval-flake.nix"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let both: std::collections::BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
    let stock = ImageManifest::parse(&both["stock"], Path::new("/nix/store/s-image/builderbar-image.json")).unwrap();
    assert!(matches!(stock.host_key, HostKeySpec::Fixed { .. }));
    assert_eq!(stock.shares.len(), 3);
    let hardened =
        ImageManifest::parse(&both["builderbar"], Path::new("/nix/store/h-image/builderbar-image.json")).unwrap();
    assert_eq!(hardened.host_key, HostKeySpec::Runtime);
    assert_eq!(
        hardened.disks[0],
        DiskSpec::Image {
            path: "/nix/store/h-image/store.img".into(),
            format: DiskFormat::Raw,
            read_only: true,
            serial: None,
        }
    );
}

#[test]
fn manifest_nix_refuses_a_stock_image_without_its_host_key() {
    if !have_nix() {
        return;
    }
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--expr"])
        .arg(format!(
            "import {}/nix/manifest.nix {{ variant = \"stock\"; name = \"x\"; system = \"aarch64-linux\"; \
             toplevel = \"/t\"; regInfo = \"/r\"; }}",
            repo().display()
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("assertion"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A throwaway single-user Nix: its own store, state, logs, config and caches.
struct TempNix {
    dir: tempfile::TempDir,
}

impl TempNix {
    fn new(extra_conf: &str) -> TempNix {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        std::fs::write(
            dir.path().join("conf/nix.conf"),
            format!("sandbox = false\nsubstituters =\nbuild-users-group =\n{extra_conf}"),
        )
        .unwrap();
        TempNix { dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn provider(&self) -> NixProvider {
        let p = self.dir.path();
        NixProvider::new()
            .env("NIX_REMOTE", "")
            .env("NIX_STORE_DIR", p.join("store"))
            .env("NIX_STATE_DIR", p.join("var"))
            .env("NIX_LOG_DIR", p.join("log"))
            .env("NIX_CONF_DIR", p.join("conf"))
            .env("NIX_USER_CONF_FILES", "/dev/null")
            .env("XDG_CACHE_HOME", p.join("cache"))
    }
}

fn test_image() -> ImageSource {
    ImageSource::File { path: repo().join("tests/nix/test-image.nix"), attr: None, args: vec![] }
}

fn assert_built_image(image: &builderbar_core::image::nix_provider::BuiltImage, store: &Path, events: &[NixEvent]) {
    assert!(image.dir.starts_with(store), "{} not in {}", image.dir.display(), store.display());
    assert_eq!(image.manifest.name, "Builderbar nix provider test");
    assert_eq!(image.manifest.kernel, image.dir.join("vmlinuz"));
    assert!(image.manifest.kernel.is_file() && image.manifest.initrd.is_file());
    assert!(events.iter().any(|e| matches!(e, NixEvent::Activity(a) if a.starts_with("building '"))), "{events:?}");
    assert!(events.contains(&NixEvent::Log("assembling the test image".into())), "{events:?}");
    assert_eq!(
        events.iter().rev().find(|e| matches!(e, NixEvent::Steps { .. })),
        Some(&NixEvent::Steps { built: 1, to_build: 1, fetched: 0, to_fetch: 0 }),
        "{events:?}"
    );
}

#[tokio::test]
async fn nix_build_builds_the_test_image_and_loads_its_manifest() {
    if !have_nix() {
        return;
    }
    let nix = TempNix::new("");
    let mut events = Vec::new();
    let image = nix.provider().build(&test_image(), |e| events.push(e)).await.unwrap();
    assert_built_image(&image, &nix.store(), &events);

    // Built once, the second run only finds it: no build step, same directory.
    let mut again = Vec::new();
    let second = nix.provider().build(&test_image(), |e| again.push(e)).await.unwrap();
    assert_eq!(second.dir, image.dir);
    assert!(!again.iter().any(|e| matches!(e, NixEvent::Activity(_))), "{again:?}");
}

#[tokio::test]
async fn a_flake_output_builds_with_nix_build_json() {
    if !have_nix() {
        return;
    }
    let nix = TempNix::new("");
    // A flake without inputs that exposes the test image; nix/ and tests/nix/ as in the repo.
    let flake = tempfile::tempdir().unwrap();
    for rel in
        ["nix/manifest.nix", "tests/nix/test-image.nix", "tests/nix/fixtures/vmlinuz", "tests/nix/fixtures/initrd.img"]
    {
        let to = flake.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(rel), to).unwrap();
    }
    let system = String::from_utf8(
        Command::new("nix-instantiate")
            .args(["--eval", "--json", "--expr", "builtins.currentSystem"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(
        flake.path().join("flake.nix"),
        format!(
            "{{ outputs = {{ self }}: {{ packages.{system}.test-image = import ./tests/nix/test-image.nix {{ system = {system}; }}; }}; }}\n",
            system = system.trim()
        ),
    )
    .unwrap();
    let source = ImageSource::Flake(format!("path:{}#test-image", flake.path().display()));
    let mut events = Vec::new();
    let image = nix.provider().build(&source, |e| events.push(e)).await.unwrap();
    assert_built_image(&image, &nix.store(), &events);
}

#[tokio::test]
async fn failures_are_the_classified_errors() {
    if !have_nix() {
        return;
    }
    let nix = TempNix::new("");

    let failing = ImageSource::File {
        path: repo().join("tests/nix/test-image.nix"),
        attr: None,
        args: vec![("fail".into(), "yes".into())],
    };
    match nix.provider().build(&failing, |_| {}).await.unwrap_err() {
        NixError::BuildFailed { drv, log_tail, .. } => {
            assert!(drv.ends_with("-builderbar-test-image.drv"), "{drv}");
            assert_eq!(log_tail, vec!["the test image refuses to build".to_string()]);
        }
        other => panic!("{other:?}"),
    }

    let foreign = ImageSource::File { path: repo().join("tests/nix/foreign-system.nix"), attr: None, args: vec![] };
    let err = nix.provider().build(&foreign, |_| {}).await.unwrap_err();
    match &err {
        NixError::NeedsLinuxBuilder { system, drv } => {
            assert!(system.ends_with("-linux"), "{system}");
            assert!(drv.ends_with("-needs-a-linux-builder.drv"), "{drv}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.hint().contains("stock builder"));

    let no_attr =
        ImageSource::File { path: repo().join("tests/nix/test-image.nix"), attr: Some("nope".into()), args: vec![] };
    assert!(matches!(nix.provider().build(&no_attr, |_| {}).await.unwrap_err(), NixError::EvalFailed { .. }));

    let no_nix = NixProvider::new().bin_dir("/nonexistent/bin");
    let err = no_nix.build(&test_image(), |_| {}).await.unwrap_err();
    assert!(matches!(err, NixError::NotInstalled { .. }), "{err:?}");
    assert!(err.report().contains("Install Nix"));
}

#[tokio::test]
async fn a_nix_without_flakes_switched_on_says_so() {
    if !have_nix() {
        return;
    }
    let nix = TempNix::new("experimental-features =\n");
    let source = ImageSource::Flake("path:/nonexistent#image".into());
    let err = nix.provider().enable_flakes(false).build(&source, |_| {}).await.unwrap_err();
    assert!(matches!(err, NixError::FlakesDisabled { .. }), "{err:?}");
}
