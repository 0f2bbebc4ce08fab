//! The core's layering, checked on its source: the domain below `api` never names the API
//! layer or the UI's error shape, and every module opens with a line saying what it owns.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn core_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} files under {}", files.len(), src.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(&src).unwrap().display().to_string(), text)
        })
        .collect()
}

/// The code of a file, without its comments (a doc line may name the layer above).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

#[test]
fn nothing_below_the_api_layer_names_it_or_the_uis_error_shape() {
    let mut offenders = Vec::new();
    for (name, text) in core_sources() {
        if name.starts_with("api/") || name == "lib.rs" {
            continue;
        }
        let code = code(&text);
        for word in ["crate::api", "ErrorReport", "SetupStep", "SetupPlanView", "TestBuildResult", "BuilderInfo"] {
            if code.contains(word) {
                offenders.push(format!("{name} names {word}"));
            }
        }
    }
    assert!(offenders.is_empty(), "the domain must return typed errors and data, not UI shapes:\n{offenders:#?}");
}

#[test]
fn every_module_opens_with_what_it_owns() {
    let missing: Vec<String> = core_sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//! "))
        .map(|(name, text)| format!("{name}: {:?}", text.lines().next().unwrap_or("")))
        .collect();
    assert!(missing.is_empty(), "modules without a `//!` first line:\n{missing:#?}");
}
