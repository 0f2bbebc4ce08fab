//! The app's own commands become permissions (`allow-<command>`), so each window's capability
//! file grants exactly the commands it uses.

include!("src/commands/names.rs");

fn main() {
    sidecar_or_leave_it_out();
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}

/// The macOS bundle ships the CLI (tauri.macos.conf.json `bundle.externalBin`), and
/// tauri-build copies `binaries/builderbar-<target>` at every build for macOS. `tauri build`
/// makes it first (beforeBuildCommand runs build-cli-sidecar.sh); a plain `cargo build` or
/// `tauri dev` on a Mac may not have it yet. A debug build then goes on without it, saying
/// so; a release build stops and says what to run.
fn sidecar_or_leave_it_out() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    if !target.ends_with("-apple-darwin") {
        return;
    }
    let sidecar = format!("binaries/builderbar-{target}");
    println!("cargo:rerun-if-changed={sidecar}");
    if std::path::Path::new(&sidecar).exists() {
        return;
    }
    let make = format!("sh src-tauri/build-cli-sidecar.sh {target}");
    if !tauri_build::is_dev() {
        panic!(
            "{sidecar} is missing: the bundle ships the CLI from there. Run `{make}` (tauri build runs it for you)."
        );
    }
    println!("cargo:warning={sidecar} is missing: this debug build leaves the bundled CLI out (`{make}` makes it)");
    // tauri-build merges TAURI_CONFIG over the config files (a JSON merge patch: null removes).
    let mut patch: serde_json::Value = std::env::var("TAURI_CONFIG")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    patch["bundle"]["externalBin"] = serde_json::Value::Null;
    std::env::set_var("TAURI_CONFIG", patch.to_string());
}
