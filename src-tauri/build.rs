//! The app's own commands become permissions (`allow-<command>`), so each window's capability
//! file grants exactly the commands it uses.

include!("src/commands/names.rs");
fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
