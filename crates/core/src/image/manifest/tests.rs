//! The manifest contract: a good manifest loads; each bad one names its field.

use super::*;

pub(crate) const GOOD: &str = r#"{
  "schema": 1,
  "name": "test guest",
  "system": "x86_64-linux",
  "kernel": "vmlinux",
  "initrd": "initrd.cpio",
  "cmdline": "quiet panic=-1",
  "console": "ttyS0",
  "ready_marker": "BUILDERBAR-READY",
  "ssh": { "user": "builder", "port": 22 },
  "host_key": { "kind": "runtime" },
  "keys": { "channel": "fw_cfg", "prefix": "opt/builderbar" },
  "disks": [ { "kind": "state", "serial": "bb-state" } ],
  "shares": [ { "tag": "xchg", "source": { "kind": "state_dir", "name": "xchg" } } ]
}"#;

fn with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    edit(&mut v);
    v.to_string()
}

#[test]
fn good_manifest_resolves_relative_paths() {
    let m = ImageManifest::parse(GOOD, Path::new("/images/guest/builderbar-image.json")).unwrap();
    assert_eq!(m.kernel, PathBuf::from("/images/guest/vmlinux"));
    assert_eq!(m.initrd, PathBuf::from("/images/guest/initrd.cpio"));
    assert_eq!(m.ssh.user, "builder");
    assert_eq!(m.guest_arch(), crate::host::Arch::X86_64);
    assert_eq!(m.shares[0].security_model, "none");
}

#[test]
fn paths_in_the_image_directory_or_the_store_resolve() {
    let text = with(|v| {
        v["initrd"] = "/img/sub/initrd".into();
        v["shares"][0]["source"] = serde_json::json!({"kind":"host","path":"certs"});
    });
    let m = ImageManifest::parse(&text, Path::new("/img/builderbar-image.json")).unwrap();
    assert_eq!(m.initrd, PathBuf::from("/img/sub/initrd"));
    // A relative host share is the image's own directory, not qemu's working directory.
    assert!(matches!(&m.shares[0].source, ShareSource::Host { path } if path == Path::new("/img/certs")));
}

#[test]
fn absolute_paths_stay_absolute() {
    let text = with(|v| v["kernel"] = "/nix/store/abc-linux/bzImage".into());
    let m = ImageManifest::parse(&text, Path::new("/images/x/builderbar-image.json")).unwrap();
    assert_eq!(m.kernel, PathBuf::from("/nix/store/abc-linux/bzImage"));
}

#[test]
fn bad_manifests_name_their_field() {
    type Edit = fn(&mut serde_json::Value);
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("no schema", |v| drop(v.as_object_mut().unwrap().remove("schema")), "field `schema` is missing"),
        ("future schema", |v| v["schema"] = 2.into(), "field `schema` is 2; this Builderbar reads schema 1"),
        ("no kernel", |v| drop(v.as_object_mut().unwrap().remove("kernel")), "field `kernel` is missing"),
        ("empty kernel", |v| v["kernel"] = "".into(), "field `kernel` is empty"),
        ("bad system", |v| v["system"] = "riscv64-linux".into(), "field `system` is \"riscv64-linux\""),
        ("bad console", |v| v["console"] = "tty S0".into(), "field `console` is \"tty S0\""),
        ("console in cmdline", |v| v["cmdline"] = "console=ttyS0".into(), "field `cmdline` must not set console="),
        ("bad user", |v| v["ssh"]["user"] = "root;rm".into(), "field `ssh.user` is \"root;rm\""),
        ("port 0", |v| v["ssh"]["port"] = 0.into(), "field `ssh.port` is 0"),
        ("unknown field", |v| v["colour"] = "red".into(), "field `colour` is not a known field"),
        (
            "bad host key",
            |v| v["host_key"] = serde_json::json!({"kind":"fixed","public":"nope"}),
            "field `host_key.public` is not an OpenSSH public key",
        ),
        ("prefix with comma", |v| v["keys"]["prefix"] = "opt/a,b".into(), "field `keys.prefix` is \"opt/a,b\""),
        (
            "two state disks",
            |v| v["disks"] = serde_json::json!([{"kind":"state"},{"kind":"state"}]),
            "field `disks` names more than one state disk",
        ),
        ("bad share tag", |v| v["shares"][0]["tag"] = "a b".into(), "field `shares[0].tag` is \"a b\""),
        (
            "bad security model",
            |v| v["shares"][0]["security_model"] = "yolo".into(),
            "field `shares[0].security_model` is \"yolo\"",
        ),
        (
            "bad key share model",
            |v| v["keys"] = serde_json::json!({"channel":"share","tag":"keys","security_model":"yolo"}),
            "field `keys.security_model` is \"yolo\"",
        ),
        (
            "key file with slash",
            |v| v["keys"]["files"] = serde_json::json!({"authorized_keys":"../etc/passwd"}),
            "field `keys.files.authorized_keys` is \"../etc/passwd\"",
        ),
        (
            "unknown key file role",
            |v| v["keys"]["files"] = serde_json::json!({"client": "x"}),
            "field `client` is not a known field",
        ),
        (
            "template without format",
            |v| v["disks"] = serde_json::json!([{"kind":"state","template":{"path":"t.qcow2"}}]),
            "field `format` is missing",
        ),
        (
            "empty template path",
            |v| v["disks"] = serde_json::json!([{"kind":"state","template":{"path":"","format":"qcow2"}}]),
            "field `disks[0].template.path` is empty",
        ),
        ("tiny memory", |v| v["min_memory_mib"] = 16.into(), "field `min_memory_mib` is 16; at least 128"),
        // Issue 10: a share named `..` shared the VM directory read-write with the guest.
        (
            "share named ..",
            |v| v["shares"][0]["source"]["name"] = "..".into(),
            "field `shares[0].source.name` is \"..\"",
        ),
        ("share named .", |v| v["shares"][0]["source"]["name"] = ".".into(), "field `shares[0].source.name`"),
        ("key file ..", |v| v["keys"]["files"] = serde_json::json!({"host_key":".."}), "field `keys.files.host_key`"),
        ("prefix with ..", |v| v["keys"]["prefix"] = "opt/../x".into(), "field `keys.prefix`"),
        // A path with `..`, or outside the image directory and the store.
        (
            "kernel out of the image",
            |v| v["kernel"] = "../other/vmlinux".into(),
            "field `kernel` is \"../other/vmlinux\"",
        ),
        ("initrd via ..", |v| v["initrd"] = "sub/../../x".into(), "field `initrd` is \"sub/../../x\""),
        ("kernel elsewhere", |v| v["kernel"] = "/etc/passwd".into(), "field `kernel` is \"/etc/passwd\""),
        ("store path with ..", |v| v["kernel"] = "/nix/store/../../etc/x".into(), "field `kernel`"),
        (
            "disk out of the image",
            |v| v["disks"] = serde_json::json!([{"kind":"image","path":"/var/x.img","format":"raw"}]),
            "field `disks[0].path`",
        ),
        (
            "host share of /",
            |v| v["shares"][0]["source"] = serde_json::json!({"kind":"host","path":"/"}),
            "field `shares[0].source.path` is \"/\"",
        ),
        ("qemu elsewhere", |v| v["qemu"] = "/usr/bin".into(), "field `qemu` is \"/usr/bin\""),
    ];
    for (what, edit, expected) in cases {
        let text = with(edit);
        let err = ImageManifest::parse(&text, Path::new("/img/builderbar-image.json")).expect_err(what);
        let msg = err.to_string();
        assert!(msg.contains("/img/builderbar-image.json"), "{what}: {msg}");
        assert!(msg.contains(expected), "{what}: expected «{expected}» in «{msg}»");
        assert!(!err.hint().is_empty());
    }
}

#[test]
fn key_files_default_and_can_be_named() {
    let m = ImageManifest::parse(GOOD, Path::new("/img/builderbar-image.json")).unwrap();
    assert_eq!(m.keys.files(), &KeyFiles::default());
    assert_eq!(m.keys.files().authorized_keys, "authorized_keys");
    assert_eq!(m.keys.files().host_key, "ssh_host_ed25519_key");
    // nixpkgs' darwin builder: a 9p share, mapped-xattr, sshd reads /var/keys/builder_ed25519.pub.
    let text = with(|v| {
        v["keys"] = serde_json::json!({
            "channel": "share", "tag": "keys", "security_model": "mapped-xattr",
            "files": { "authorized_keys": "builder_ed25519.pub" }
        })
    });
    let m = ImageManifest::parse(&text, Path::new("/img/builderbar-image.json")).unwrap();
    match &m.keys {
        KeyChannel::Share { tag, security_model, files } => {
            assert_eq!(tag, "keys");
            assert_eq!(security_model, "mapped-xattr");
            assert_eq!(files.authorized_keys, "builder_ed25519.pub");
            assert_eq!(files.host_key, "ssh_host_ed25519_key");
        }
        other => panic!("expected a share, got {other:?}"),
    }
    // Without a security model a key share uses `none`, like other shares.
    let text = with(|v| v["keys"] = serde_json::json!({"channel": "share", "tag": "keys"}));
    let m = ImageManifest::parse(&text, Path::new("/img/builderbar-image.json")).unwrap();
    assert!(matches!(&m.keys, KeyChannel::Share { security_model, .. } if security_model == "none"));
}

#[test]
fn state_disk_template_resolves_against_the_manifest() {
    let text = with(|v| {
        v["disks"] = serde_json::json!([
            { "kind": "image", "path": "store.img", "format": "raw", "read_only": true },
            { "kind": "state", "serial": "root", "template": { "path": "state.qcow2", "format": "qcow2" } }
        ])
    });
    let m = ImageManifest::parse(&text, Path::new("/images/stock/builderbar-image.json")).unwrap();
    assert_eq!(
        m.disks[1],
        DiskSpec::State {
            serial: Some("root".into()),
            template: Some(DiskTemplate {
                path: PathBuf::from("/images/stock/state.qcow2"),
                format: DiskFormat::Qcow2
            }),
        }
    );
    // A manifest without a template keeps meaning "an empty disk".
    let m = ImageManifest::parse(GOOD, Path::new("/img/builderbar-image.json")).unwrap();
    assert_eq!(m.disks[0], DiskSpec::State { serial: Some("bb-state".into()), template: None });
    // Round trip: serializing leaves no `template: null` behind.
    let json = serde_json::to_value(&m.disks[0]).unwrap();
    assert!(json.get("template").is_none(), "{json}");
}

#[test]
fn qemu_directory_is_optional_and_resolves() {
    let m = ImageManifest::parse(GOOD, Path::new("/img/builderbar-image.json")).unwrap();
    assert_eq!(m.qemu, None);
    let text = with(|v| v["qemu"] = "qemu/bin".into());
    let m = ImageManifest::parse(&text, Path::new("/img/builderbar-image.json")).unwrap();
    assert_eq!(m.qemu, Some(PathBuf::from("/img/qemu/bin")));
    let text = with(|v| v["qemu"] = "".into());
    let err = ImageManifest::parse(&text, Path::new("/img/builderbar-image.json")).unwrap_err();
    assert!(err.to_string().contains("field `qemu` is empty"), "{err}");
}

#[test]
fn not_json_and_missing_file_are_clear() {
    let err = ImageManifest::parse("{ nope", Path::new("/img/builderbar-image.json")).unwrap_err();
    assert!(err.to_string().starts_with("image manifest /img/builderbar-image.json is not valid"));
    let dir = tempfile::tempdir().unwrap();
    let err = ImageManifest::load(dir.path()).unwrap_err();
    assert!(err.to_string().starts_with("no image manifest at"), "{err}");
    assert!(err.hint().contains("builderbar-image.json"));
}
