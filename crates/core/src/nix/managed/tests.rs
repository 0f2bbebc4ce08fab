//! Tests of ConfigOwner detection on temporary fixture trees (symlinks built per test).

use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nix");

/// Options for a temp tree whose "/etc/static" is `<root>/etc/static`.
fn opts(root: &Path) -> DetectOptions {
    let mut o = DetectOptions::in_dir(root.join("etc/nix"));
    o.generated_prefixes = vec![root.join("etc/static"), root.join("nix/store")];
    o
}

fn tree() -> (tempfile::TempDir, DetectOptions) {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("etc/nix")).unwrap();
    let o = opts(t.path());
    (t, o)
}

fn copy_fixture(name: &str, o: &DetectOptions) {
    for entry in std::fs::read_dir(Path::new(FIXTURES).join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), o.conf_dir.join(entry.file_name())).unwrap();
    }
}

#[test]
fn missing_nix_conf_is_plain_and_gets_created() {
    let (_t, o) = tree();
    assert_eq!(detect(&o).unwrap(), ConfigOwner::Plain { nix_conf: o.conf_dir.join("nix.conf") });
}

#[test]
fn plain_file_is_edited_in_place() {
    let (_t, o) = tree();
    copy_fixture("plain", &o);
    let owner = detect(&o).unwrap();
    assert_eq!(owner.edit_path(), Some(o.conf_dir.join("nix.conf").as_path()));
    assert_eq!(owner.label(), "plain");
}

#[test]
fn nix_darwin_link_into_etc_static_is_not_edited() {
    let (t, o) = tree();
    let store = t.path().join("nix/store/abc-nix.conf");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, "builders = \n").unwrap();
    std::fs::create_dir_all(t.path().join("etc/static/nix")).unwrap();
    symlink(&store, t.path().join("etc/static/nix/nix.conf")).unwrap();
    symlink(t.path().join("etc/static/nix/nix.conf"), o.conf_dir.join("nix.conf")).unwrap();
    let owner = detect(&o).unwrap();
    assert_eq!(
        owner,
        ConfigOwner::NixDarwin {
            file: o.conf_dir.join("nix.conf"),
            link_target: t.path().join("etc/static/nix/nix.conf")
        }
    );
    assert_eq!(owner.edit_path(), None);
}

#[test]
fn nix_darwin_relative_link_is_recognised() {
    let (t, o) = tree();
    std::fs::create_dir_all(t.path().join("etc/static/nix")).unwrap();
    std::fs::write(t.path().join("etc/static/nix/nix.conf"), "").unwrap();
    symlink("../static/nix/nix.conf", o.conf_dir.join("nix.conf")).unwrap();
    assert!(matches!(detect(&o).unwrap(), ConfigOwner::NixDarwin { .. }));
}

#[test]
fn determinate_edits_nix_custom_conf() {
    let (_t, o) = tree();
    copy_fixture("determinate", &o);
    let owner = detect(&o).unwrap();
    assert_eq!(
        owner,
        ConfigOwner::Determinate {
            nix_conf: o.conf_dir.join("nix.conf"),
            custom_conf: o.conf_dir.join("nix.custom.conf")
        }
    );
    assert_eq!(owner.edit_path(), Some(o.conf_dir.join("nix.custom.conf").as_path()));
}

#[test]
fn determinate_without_custom_conf_yet() {
    let (_t, o) = tree();
    std::fs::copy(Path::new(FIXTURES).join("determinate/nix.conf"), o.conf_dir.join("nix.conf")).unwrap();
    assert_eq!(detect(&o).unwrap().edit_path(), Some(o.conf_dir.join("nix.custom.conf").as_path()));
}

#[test]
fn determinate_with_custom_conf_from_nix_darwin_is_not_edited() {
    let (t, o) = tree();
    std::fs::copy(Path::new(FIXTURES).join("determinate/nix.conf"), o.conf_dir.join("nix.conf")).unwrap();
    std::fs::create_dir_all(t.path().join("etc/static/nix")).unwrap();
    std::fs::write(t.path().join("etc/static/nix/nix.custom.conf"), "").unwrap();
    symlink(t.path().join("etc/static/nix/nix.custom.conf"), o.conf_dir.join("nix.custom.conf")).unwrap();
    assert_eq!(
        detect(&o).unwrap(),
        ConfigOwner::NixDarwin {
            file: o.conf_dir.join("nix.custom.conf"),
            link_target: t.path().join("etc/static/nix/nix.custom.conf")
        }
    );
}

#[test]
fn a_users_own_symlink_is_followed_to_the_real_file() {
    let (t, o) = tree();
    let real = t.path().join("dotfiles/nix.conf");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "max-jobs = 2\n").unwrap();
    symlink(&real, o.conf_dir.join("nix.conf")).unwrap();
    assert_eq!(detect(&o).unwrap(), ConfigOwner::Plain { nix_conf: real });
}

#[test]
fn symlink_loops_are_errors() {
    let (_t, o) = tree();
    symlink(o.conf_dir.join("b"), o.conf_dir.join("nix.conf")).unwrap();
    symlink(o.conf_dir.join("nix.conf"), o.conf_dir.join("b")).unwrap();
    let e = detect(&o).unwrap_err();
    assert!(matches!(e, DetectError::LinkLoop { .. }), "{e}");
    assert!(!e.hint().is_empty());
}
