//! Tests of NixChanges: full wire/unwire cycles on temporary trees.

use std::path::Path;

use super::*;
use crate::nix::machines::MachinesLine;
use crate::nix::managed::{detect, DetectOptions};
use crate::nix::ssh_config::SshHostBlock;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd1xnRcx7hmBgnpxyLBlWvFnGKNDTJRkHUO0Wd79Pas builderbar-host";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nix");

struct Tree {
    _t: tempfile::TempDir,
    root: PathBuf,
    opts: DetectOptions,
    paths: ConfPaths,
    wiring: BuilderWiring,
}

fn tree() -> Tree {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    std::fs::create_dir_all(root.join("etc/nix")).unwrap();
    std::fs::create_dir_all(root.join("etc/ssh/ssh_config.d")).unwrap();
    let mut opts = DetectOptions::in_dir(root.join("etc/nix"));
    opts.generated_prefixes = vec![root.join("etc/static")];
    let paths =
        ConfPaths { conf_dir: root.join("etc/nix"), ssh_config: root.join("etc/ssh/ssh_config.d/builderbar.conf") };
    let key = "/etc/nix/builderbar_ed25519";
    let machine =
        MachinesLine::ssh_ng("builder", "builderbar-linux", vec!["x86_64-linux".into()], key, 2, 1, vec![], KEY)
            .unwrap();
    let ssh = SshHostBlock::new("builderbar-linux", 31022, "builder", key).unwrap();
    let machines = root.join("etc/nix/machines");
    let wiring = BuilderWiring::new(machine, ssh, machines.to_str().unwrap(), None).unwrap();
    Tree { _t: t, root, opts, paths, wiring }
}

/// Every file under `dir` with its bytes (symlinks as their targets), sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_symlink() {
                out.push((p.clone(), std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes()));
            } else if m.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn apply(c: &NixChanges) {
    for f in &c.files {
        match &f.after {
            Some(b) => std::fs::write(&f.path, b).unwrap(),
            None => std::fs::remove_file(&f.path).unwrap(),
        }
    }
}

fn wire(t: &Tree) -> NixChanges {
    let owner = detect(&t.opts).unwrap();
    NixChanges::wire(&t.wiring, &owner, &t.paths, &mut read_optional).unwrap()
}

fn unwire(t: &Tree) -> NixChanges {
    let owner = detect(&t.opts).unwrap();
    NixChanges::unwire(&owner, &t.paths, &t.wiring.machines_file, &mut read_optional).unwrap()
}

/// wire -> files as intended; wire again -> nothing; unwire -> the tree is as before.
fn full_cycle(t: &Tree) -> NixChanges {
    let before = snapshot(&t.root);
    let first = wire(t);
    apply(&first);
    let again = wire(t);
    assert!(again.files.is_empty(), "{again:?}");
    assert!(!again.restart_daemon);
    let undo = unwire(t);
    apply(&undo);
    assert_eq!(snapshot(&t.root), before);
    assert!(unwire(t).files.is_empty());
    first
}

#[test]
fn fresh_machine_gets_three_files_and_loses_them_again() {
    let t = tree();
    let c = full_cycle(&t);
    let paths: Vec<_> = c.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, [t.root.join("etc/nix/nix.conf"), t.root.join("etc/nix/machines"), t.paths.ssh_config.clone()]);
    assert!(c.files.iter().all(|f| f.before.is_none()));
    assert!(c.restart_daemon);
}

#[test]
fn users_own_machines_file_only_changes_that_file_and_needs_no_restart() {
    let t = tree();
    let theirs = t.root.join("etc/nix/their-machines");
    std::fs::write(&theirs, "ssh://mac aarch64-darwin\n").unwrap();
    let conf = format!("builders = @{}\nbuilders-use-substitutes = true\n", theirs.display());
    std::fs::write(t.root.join("etc/nix/nix.conf"), conf).unwrap();
    let c = full_cycle(&t);
    let paths: Vec<_> = c.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, [theirs, t.paths.ssh_config.clone()]);
    assert!(!c.restart_daemon);
}

#[test]
fn included_builders_are_kept() {
    let t = tree();
    std::fs::write(t.root.join("etc/nix/nix.conf"), "include extra.conf\r\n").unwrap();
    std::fs::write(t.root.join("etc/nix/extra.conf"), "builders = ssh://x\n").unwrap();
    let c = full_cycle(&t);
    let conf = String::from_utf8(c.files[0].after.clone().unwrap()).unwrap();
    assert!(conf.contains("\r\nbuilders = ssh://x ; @"), "{conf}");
}

#[test]
fn determinate_edits_nix_custom_conf_only() {
    let t = tree();
    for f in ["nix.conf", "nix.custom.conf"] {
        std::fs::copy(Path::new(FIXTURES).join("determinate").join(f), t.root.join("etc/nix").join(f)).unwrap();
    }
    let c = full_cycle(&t);
    assert_eq!(c.files[0].path, t.root.join("etc/nix/nix.custom.conf"));
    assert!(c.files.iter().all(|f| f.path != t.root.join("etc/nix/nix.conf")));
}

#[test]
fn nix_darwin_gets_the_snippet_and_no_edits() {
    let t = tree();
    std::fs::create_dir_all(t.root.join("etc/static/nix")).unwrap();
    std::fs::write(t.root.join("etc/static/nix/nix.conf"), "").unwrap();
    std::os::unix::fs::symlink(t.root.join("etc/static/nix/nix.conf"), t.root.join("etc/nix/nix.conf")).unwrap();
    let before = snapshot(&t.root);
    let c = wire(&t);
    assert!(c.files.is_empty());
    assert!(!c.restart_daemon);
    let snippet = c.darwin_snippet.unwrap();
    assert!(snippet.contains("environment.etc.\"ssh/ssh_config.d/builderbar.conf\".text"));
    assert!(unwire(&t).files.is_empty());
    assert_eq!(snapshot(&t.root), before);
}
