//! Writes `ui/src/lib/bindings/fixtures/WindowKind.ts`: the windows the app opens, as the UI's
//! type and list (its `open_window` argument, its routes), so the two cannot drift apart.
//! `scripts/test` fails when the file is stale.

use builderbar_app::windows::WindowKind;

#[test]
fn window_kinds_fixture_is_written_from_the_app() {
    let labels: Vec<String> = WindowKind::ALL.iter().map(|k| format!("{:?}", k.label())).collect();
    let text = format!(
        "// Written by src-tauri/tests/ui_fixtures.rs (`cargo test -p builderbar-app --test ui_fixtures`).\n\
         // Do not edit. The windows the app opens (`open_window {{kind}}`), each at `index.html#/<kind>`.\n\
         export type WindowKind = {};\n\nexport const WINDOW_KINDS: readonly WindowKind[] = [{}];\n",
        labels.join(" | "),
        labels.join(", ")
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/fixtures/WindowKind.ts");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&path, text).unwrap();
    }
    for k in WindowKind::ALL {
        assert_eq!(k.url(), format!("index.html#/{}", k.label()), "the UI routes by label");
    }
}
