//! Every `builderbar <verb> [<subverb>]` that a hint, a doc or the README names exists in the CLI.
//!
//! A mention is `builderbar` followed by a word at the start of a code span (after a backtick),
//! at the start of a line (a shell block) or after `$ `. Each verb is checked by asking the
//! real binary for its help; a second word is checked against the verb's subcommands when it
//! has any.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::workspace_root;

/// Files whose words reach users: docs, the README, hints in Rust, the UI, scripts, Nix.
const EXTENSIONS: &[&str] = &["md", "rs", "ts", "svelte", "sh", "nix", "py", "json"];

/// `(verb, next word)` for every mention in `text`.
fn mentions(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let mut starts: Vec<usize> = line.match_indices("`builderbar ").map(|(i, _)| i + 1).collect();
        starts.extend(line.match_indices("$ builderbar ").map(|(i, _)| i + 2));
        if trimmed.starts_with("builderbar ") {
            starts.push(line.len() - trimmed.len());
        }
        for at in starts {
            let rest = &line[at + "builderbar ".len()..];
            let span = rest.split('`').next().unwrap_or(rest);
            let mut words = span.split_whitespace();
            let word = |w: &&str| {
                w.starts_with(|c: char| c.is_ascii_lowercase()) && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            };
            let Some(verb) = words.next().filter(word) else {
                continue;
            };
            let next = words.next().filter(word).map(String::from);
            out.push((verb.to_string(), next));
        }
    }
    out
}

fn help(args: &[&str]) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_builderbar")).args(args).arg("--help").output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The subcommand names listed under "Commands:" in a clap help text.
fn subcommands(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn every_named_verb_exists() {
    let root = workspace_root();
    let files = Command::new("git").arg("ls-files").current_dir(&root).output().expect("git ls-files");
    let mut found: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
    for file in String::from_utf8(files.stdout).unwrap().lines() {
        if !EXTENSIONS.iter().any(|e| file.ends_with(&format!(".{e}"))) || file.ends_with("verbs.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
        for m in mentions(&text) {
            found.entry(m).or_default().push(file.to_string());
        }
    }
    assert!(found.keys().any(|(v, _)| v == "setup"), "the scan found no mention of `builderbar setup`");

    let mut helps: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut missing = Vec::new();
    for ((verb, next), files) in &found {
        let h = helps.entry(verb.clone()).or_insert_with(|| help(&[verb])).clone();
        let Some(h) = h else {
            missing.push(format!("`builderbar {verb}` (in {})", files.join(", ")));
            continue;
        };
        let subs = subcommands(&h);
        if let (Some(next), false) = (next, subs.is_empty()) {
            if !subs.contains(next) {
                missing.push(format!("`builderbar {verb} {next}` (in {})", files.join(", ")));
            }
        }
    }
    assert!(missing.is_empty(), "named but not commands of the CLI:\n{}", missing.join("\n"));
}

#[test]
fn mentions_are_found_where_users_read_them() {
    let text = "Run `builderbar keys rotate --yes`.\n$ builderbar start --wait\nbuilderbar ssh -- uname\n\
                the builderbar binary; \"builderbar dev shell\"; `builderbar-image.json`";
    let m = mentions(text);
    assert_eq!(m, [("keys".into(), Some("rotate".into())), ("start".into(), None), ("ssh".into(), None),]);
}
