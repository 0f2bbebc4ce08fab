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
