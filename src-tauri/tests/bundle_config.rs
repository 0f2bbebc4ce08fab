//! The macOS bundle as Tauri builds it: tauri.conf.json with tauri.macos.conf.json merged over
//! it exactly as tauri-build merges them (tauri-utils' own parser, which also rejects unknown
//! keys), the Info.plist merged into the bundle's, and the CLI sidecar's path. `tauri build
//! --bundles app,dmg` needs a Mac, so this checks what we ship to one.

use std::path::{Path, PathBuf};

use builderbar_core::app_location::{APP_BUNDLE, CLI_NAME};
use tauri_utils::config::{BundleTarget, BundleType, Config, HookCommand};
use tauri_utils::platform::Target;

fn src_tauri() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config_for(target: Target) -> Config {
    let (merged, files) = tauri_utils::config::parse::read_from(target, &src_tauri()).unwrap();
    if target == Target::MacOS {
        assert_eq!(files, [src_tauri().join("tauri.conf.json"), src_tauri().join("tauri.macos.conf.json")]);
    }
    serde_json::from_value(merged).unwrap()
}

#[test]
fn the_mac_bundle_is_a_menu_bar_app_for_macos_11_signed_from_the_environment() {
    let c = config_for(Target::MacOS);
    assert_eq!(c.identifier, "dev.builderbar.Builderbar");
    assert!(!c.identifier.ends_with(".app"), "an identifier ending in .app clashes with the bundle extension");
    assert_eq!(format!("{}.app", c.product_name.as_deref().unwrap()), APP_BUNDLE);
    assert_eq!(c.main_binary_name.as_deref(), Some("builderbar-app"));
    // Tauri writes LSApplicationCategoryType = public.app-category.developer-tools from this.
    assert_eq!(c.bundle.category.as_deref(), Some("DeveloperTool"));
    assert!(c.bundle.active);
    assert_eq!(c.bundle.targets, BundleTarget::List(vec![BundleType::App, BundleType::Dmg]));

    let mac = &c.bundle.macos;
    assert_eq!(mac.minimum_system_version.as_deref(), Some("11.0"));
    assert!(mac.hardened_runtime);
    // Unset here on purpose: the bundler takes APPLE_SIGNING_IDENTITY, and notarizes with
    // APPLE_ID/APPLE_PASSWORD/APPLE_TEAM_ID or APPLE_API_KEY/APPLE_API_ISSUER/APPLE_API_KEY_PATH.
    assert_eq!(mac.signing_identity, None);
    assert_eq!(mac.provider_short_name, None);
    // Nothing needs an entitlement: no JIT in our process (WKWebView's runs in WebKit's own
    // processes), no library from another team, no sandbox; qemu carries its own.
    assert_eq!(mac.entitlements, None);
    assert_eq!(mac.info_plist.as_deref(), Some(Path::new("Info.plist")));
    assert_eq!((mac.dmg.window_size.width, mac.dmg.window_size.height), (540, 380));
    assert_eq!((mac.dmg.app_position.x, mac.dmg.app_position.y), (140, 190));
    assert_eq!((mac.dmg.application_folder_position.x, mac.dmg.application_folder_position.y), (400, 190));
}

#[test]
fn the_info_plist_makes_it_an_agent_app_with_no_dock_icon() {
    let c = config_for(Target::MacOS);
    let path = src_tauri().join(c.bundle.macos.info_plist.unwrap());
    let v: plist::Value = plist::from_file(&path).unwrap();
    let dict = v.as_dictionary().unwrap();
    assert_eq!(dict.get("LSUIElement").and_then(|v| v.as_boolean()), Some(true));
    // Only keys of our own: the generated ones (identifier, version, executable, minimum
    // system version, category) come from the config, once.
    assert_eq!(dict.keys().collect::<Vec<_>>(), ["LSUIElement"]);
}

#[test]
fn the_cli_ships_inside_the_bundle_under_the_sidecar_naming() {
    let c = config_for(Target::MacOS);
    assert_eq!(c.bundle.external_bin.as_deref(), Some(&["binaries/builderbar".to_string()][..]));
    // The bundler drops the `-<target triple>` suffix: Builderbar.app/Contents/MacOS/builderbar.
    assert_eq!(Path::new(&c.bundle.external_bin.unwrap()[0]).file_name().unwrap(), CLI_NAME);

    // `tauri build` makes it first: beforeBuildCommand runs the npm script, which runs the
    // script, which puts it where externalBin + `-<triple>` points.
    let Some(HookCommand::Script(before)) = &c.build.before_build_command else { panic!("no beforeBuildCommand") };
    assert!(before.contains("npm run --silent build:cli-sidecar"), "{before}");
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src_tauri().join("../package.json")).unwrap()).unwrap();
    assert_eq!(package["scripts"]["build:cli-sidecar"], "sh src-tauri/build-cli-sidecar.sh");
    for triple in ["aarch64-apple-darwin", "x86_64-apple-darwin", "universal-apple-darwin"] {
        let out = std::process::Command::new("sh")
            .arg(src_tauri().join("build-cli-sidecar.sh"))
            .args(["--dest", triple])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim_end()),
            src_tauri().join(format!("binaries/builderbar-{triple}"))
        );
    }
    // The copies are build output, never committed.
    let ignored = std::fs::read_to_string(src_tauri().join("../.gitignore")).unwrap();
    assert!(ignored.lines().any(|l| l == "/src-tauri/binaries"), "{ignored}");
}

#[test]
fn other_platforms_bundle_as_before_and_build_without_the_sidecar() {
    let c = config_for(Target::Linux);
    assert_eq!(c.bundle.targets, BundleTarget::All);
    assert_eq!(c.bundle.external_bin, None, "a Linux cargo build needs no CLI copy");
    assert_eq!(c.identifier, "dev.builderbar.Builderbar");
}

/// Runs a copy of build-cli-sidecar.sh (so its `binaries/` is a temp dir) with stand-ins for
/// cargo, rustc and lipo first on PATH: the macOS link step cannot run here. The stand-in
/// cargo records its arguments and leaves a file where cargo would put the CLI.
fn run_sidecar_script(host: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Vec<String>, std::process::Output) {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("src-tauri");
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(src_tauri().join("build-cli-sidecar.sh"), dir.join("build-cli-sidecar.sh")).unwrap();
    let stand_ins = [
        (
            "cargo",
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >>\"$CARGO_TARGET_DIR/cargo.calls\"\n\
             profile=release; case \" $* \" in *' --release '*) ;; *) profile=debug ;; esac\n\
             out=\"$CARGO_TARGET_DIR/$profile\"\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --target ] && out=\"$CARGO_TARGET_DIR/$2/$profile\"; shift; done\n\
             mkdir -p \"$out\" && printf 'cli in %s\\n' \"$out\" >\"$out/builderbar\"\n",
        ),
        ("rustc", &format!("#!/bin/sh\nprintf 'rustc 1.95.0\\nhost: {host}\\n'\n")),
        ("lipo", "#!/bin/sh\n[ \"$1 $2\" = '-create -output' ] || exit 2\nout=$3; shift 3; cat \"$@\" >\"$out\"\n"),
    ];
    for (name, text) in stand_ins {
        std::fs::write(bin.join(name), text).unwrap();
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let target = t.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new("sh")
        .arg(dir.join("build-cli-sidecar.sh"))
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("TAURI_ENV_TARGET_TRIPLE")
        .env_remove("TAURI_ENV_DEBUG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(target.join("cargo.calls")).unwrap_or_default();
    (t, calls.lines().map(String::from).collect(), out)
}

#[test]
fn the_sidecar_script_builds_the_cli_for_the_target_and_names_it_by_the_triple() {
    use std::os::unix::fs::PermissionsExt;
    let linux = "x86_64-unknown-linux-gnu";
    // Cross-building for a Mac (what `tauri build --target aarch64-apple-darwin` asks).
    let (t, calls, out) = run_sidecar_script(linux, &[("TAURI_ENV_TARGET_TRIPLE", "aarch64-apple-darwin")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(calls, ["build --release --locked -p builderbar-cli --target aarch64-apple-darwin"]);
    let dest = t.path().join("src-tauri/binaries/builderbar-aarch64-apple-darwin");
    let target = t.path().join("target");
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        format!("cli in {}/aarch64-apple-darwin/release\n", target.display())
    );
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o755);

    // On the Mac itself, for its own CPU: no --target, so the app's build shares the
    // compiled dependencies; `tauri build --debug` builds a debug CLI.
    let mac = "aarch64-apple-darwin";
    let (t, calls, out) = run_sidecar_script(mac, &[("TAURI_ENV_TARGET_TRIPLE", mac), ("TAURI_ENV_DEBUG", "true")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(calls, ["build --locked -p builderbar-cli"]);
    let dest = t.path().join("src-tauri/binaries/builderbar-aarch64-apple-darwin");
    assert!(std::fs::read_to_string(dest).unwrap().ends_with("/target/debug\n"));

    // A universal bundle: both CPUs, joined with lipo.
    let (t, calls, out) = run_sidecar_script(mac, &[("TAURI_ENV_TARGET_TRIPLE", "universal-apple-darwin")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        calls,
        [
            "build --release --locked -p builderbar-cli",
            "build --release --locked -p builderbar-cli --target x86_64-apple-darwin"
        ]
    );
    let joined =
        std::fs::read_to_string(t.path().join("src-tauri/binaries/builderbar-universal-apple-darwin")).unwrap();
    assert_eq!(joined.lines().count(), 2, "{joined}");

    // Other targets ship no CLI in the bundle: nothing is built.
    let (t, calls, out) = run_sidecar_script(linux, &[]);
    assert!(out.status.success());
    assert!(calls.is_empty());
    assert!(!t.path().join("src-tauri/binaries").exists());
}
