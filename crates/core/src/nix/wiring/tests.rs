//! Tests of BuilderWiring: edge cases, snapshots, and the property test over generated configs.

use proptest::prelude::*;

use super::*;
use crate::nix::block::{BEGIN_MARKER, END_MARKER};
use crate::nix::daemon::{restart_needed, NixFiles};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd1xnRcx7hmBgnpxyLBlWvFnGKNDTJRkHUO0Wd79Pas builderbar-host";
const OURS: &str = "/etc/nix/machines";

fn wiring(trusted: Option<&str>) -> BuilderWiring {
    let key = "/etc/nix/builderbar_ed25519";
    let machine = MachinesLine::ssh_ng(
        "builder",
        "builderbar-linux",
        vec!["x86_64-linux".into()],
        key,
        2,
        1,
        vec!["kvm".into(), "big-parallel".into()],
        KEY,
    )
    .unwrap();
    let ssh = SshHostBlock::new("builderbar-linux", 31022, "builder", key).unwrap();
    BuilderWiring::new(machine, ssh, OURS, trusted).unwrap()
}

fn s(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn empty_config_gets_our_machines_file() {
    let w = wiring(None);
    let out = w.wire(b"", b"").unwrap();
    assert_eq!(out.machines_path, OURS);
    insta::assert_snapshot!("empty_nix_conf", s(&out.nix_conf));
    insta::assert_snapshot!("new_machines_file", s(&out.machines));
    assert_eq!(unwire_nix_conf(&out.nix_conf).unwrap(), b"");
    assert_eq!(unwire_machines(&out.machines).unwrap(), b"");
}

#[test]
fn users_machines_file_gets_our_line_and_keeps_theirs() {
    let w = wiring(None);
    let conf = b"builders = @/etc/nix/their-machines # mine\nbuilders-use-substitutes = true\n";
    assert_eq!(w.machines_target(conf).unwrap(), "/etc/nix/their-machines");
    let theirs = b"ssh://mac aarch64-darwin - 8\n# old one ; ssh://gone\n";
    let out = w.wire(conf, theirs).unwrap();
    // Everything is already right in nix.conf: it is not touched, so no daemon restart.
    assert_eq!(out.nix_conf, conf);
    assert!(out.machines.starts_with(theirs));
    assert!(s(&out.machines).contains(&w.machine.render()));
    assert_eq!(unwire_machines(&out.machines).unwrap(), theirs);
    let before = NixFiles { nix_conf: conf, machines: theirs, ssh_config: b"" };
    let after = NixFiles { nix_conf: &out.nix_conf, machines: &out.machines, ssh_config: out.ssh_config.as_bytes() };
    assert!(!restart_needed(&before, &after));
}

#[test]
fn inline_builders_are_kept_and_ours_added() {
    let w = wiring(None);
    let conf = b"builders = ssh://a x86_64-linux ;  ssh://b\nbuilders-use-substitutes = false\n";
    let out = w.wire(conf, b"").unwrap();
    assert_eq!(out.machines_path, OURS);
    let after = NixConf::parse(&out.nix_conf);
    assert_eq!(after.last_assignment("builders").unwrap(), "ssh://a x86_64-linux ; ssh://b ; @/etc/nix/machines");
    assert_eq!(after.effective("builders-use-substitutes").unwrap(), "true");
    insta::assert_snapshot!("inline_builders", s(&out.nix_conf));
    assert_eq!(unwire_nix_conf(&out.nix_conf).unwrap(), conf);
}

#[test]
fn our_file_already_listed_needs_no_builders_line() {
    let w = wiring(None);
    let conf = b"builders = ssh://a ; @/etc/nix/machines\n";
    let out = w.wire_nix_conf(conf).unwrap();
    assert_eq!(NixConf::parse(&out).last_assignment("builders").unwrap(), "ssh://a ; @/etc/nix/machines");
    assert_eq!(w.machines_target(conf).unwrap(), OURS);
}

#[test]
fn empty_builders_value_is_replaced_by_our_file() {
    let w = wiring(None);
    let out = w.wire_nix_conf(b"builders =\n").unwrap();
    assert_eq!(NixConf::parse(&out).last_assignment("builders").unwrap(), "@/etc/nix/machines");
}

#[test]
fn trusted_user_only_when_asked_and_missing() {
    let conf = b"trusted-users = root ada\n";
    assert_eq!(wiring(Some("ada")).wire_nix_conf(conf).unwrap().len(), wiring(None).wire_nix_conf(conf).unwrap().len());
    let out = wiring(Some("bob")).wire_nix_conf(conf).unwrap();
    assert_eq!(NixConf::parse(&out).effective("trusted-users").unwrap(), "root ada bob");
    // Nix's default is `root`.
    let out = wiring(Some("root")).wire_nix_conf(b"").unwrap();
    assert!(!s(&out).contains("trusted-users"));
    assert!(matches!(
        BuilderWiring::new(wiring(None).machine, wiring(None).ssh, OURS, Some("a b")),
        Err(WiringError::BadTrustedUser(_))
    ));
}

#[test]
fn crlf_and_missing_final_newline_survive() {
    let w = wiring(Some("ada"));
    let conf = "# ☃ config\r\nmax-jobs = 4\r\nsubstituters = https://cache.nixos.org".as_bytes();
    let out = w.wire_nix_conf(conf).unwrap();
    let text = s(&out);
    assert!(text.ends_with(END_MARKER), "{text:?}");
    assert!(text.contains(&format!("\r\n{BEGIN_MARKER}\r\n")));
    assert_eq!(w.wire_nix_conf(&out).unwrap(), out);
    assert_eq!(unwire_nix_conf(&out).unwrap(), conf);
}

#[test]
fn a_broken_block_is_an_error_not_a_guess() {
    let w = wiring(None);
    let conf = format!("a = b\n{BEGIN_MARKER}\nbuilders-use-substitutes = true\n");
    let e = w.wire_nix_conf(conf.as_bytes()).unwrap_err();
    assert!(matches!(e, WiringError::Block { .. }), "{e}");
    assert!(e.to_string().contains("nix.conf"));
    assert!(!e.hint().is_empty());
}

#[test]
fn mismatched_parts_are_rejected() {
    let mut ssh = wiring(None).ssh;
    ssh.alias = "other".into();
    let e = BuilderWiring::new(wiring(None).machine, ssh, OURS, None).unwrap_err();
    assert!(matches!(e, WiringError::Mismatch { what: "host", .. }));
    let e = BuilderWiring::new(wiring(None).machine, wiring(None).ssh, "/etc/nix/my machines", None).unwrap_err();
    assert!(matches!(e, WiringError::BadMachinesPath(_)));
}

#[test]
fn settings_from_included_files_count() {
    use crate::nix::conf::expanded_settings;
    use std::path::Path;
    let w = wiring(Some("ada"));
    let main = b"include /etc/nix/extra.conf\n".to_vec();
    let extra =
        b"builders = ssh://x aarch64-linux\nbuilders-use-substitutes = true\ntrusted-users = root ada\n".to_vec();
    let mut read = |p: &Path| match p.to_str().unwrap() {
        "/etc/nix/nix.conf" => Some(main.clone()),
        "/etc/nix/extra.conf" => Some(extra.clone()),
        _ => None,
    };
    let seen = expanded_settings(Path::new("/etc/nix/nix.conf"), &mut read);
    let out = w.wire_in_effect(&main, b"", Some(&seen)).unwrap();
    let body = crate::nix::block::block_body(&LineDoc::parse(&out.nix_conf)).unwrap().unwrap();
    assert_eq!(body, ["builders = ssh://x aarch64-linux ; @/etc/nix/machines"]);
    assert_eq!(out.machines_path, OURS);
    // Judged by the file alone, the included builder would have been overridden.
    let alone = w.wire_nix_conf(&main).unwrap();
    assert!(s(&alone).contains("builders = @/etc/nix/machines"));
    // Idempotent when the wired file is read back (our block is left out of the expansion).
    let wired = out.nix_conf.clone();
    let mut read = |p: &Path| match p.to_str().unwrap() {
        "/etc/nix/nix.conf" => Some(wired.clone()),
        "/etc/nix/extra.conf" => Some(extra.clone()),
        _ => None,
    };
    let seen = expanded_settings(Path::new("/etc/nix/nix.conf"), &mut read);
    assert_eq!(w.wire_nix_conf_in_effect(&out.nix_conf, Some(&seen)).unwrap(), out.nix_conf);
    assert_eq!(machines_target_in_effect(&seen, OURS), OURS);
}

#[test]
fn determinate_custom_conf_sees_nix_conf_settings() {
    use crate::nix::conf::expanded_settings;
    use std::path::Path;
    let w = wiring(Some("ada"));
    let nix_conf = b"trusted-users = root ada\nbuilders-use-substitutes = true\n!include nix.custom.conf\n".to_vec();
    let custom = b"# mine\n".to_vec();
    let mut read = |p: &Path| match p.to_str().unwrap() {
        "/etc/nix/nix.conf" => Some(nix_conf.clone()),
        "/etc/nix/nix.custom.conf" => Some(custom.clone()),
        _ => None,
    };
    let seen = expanded_settings(Path::new("/etc/nix/nix.conf"), &mut read);
    let out = w.wire_nix_conf_in_effect(&custom, Some(&seen)).unwrap();
    assert_eq!(s(&out), format!("# mine\n{BEGIN_MARKER}\nbuilders = @/etc/nix/machines\n{END_MARKER}\n"));
}

#[test]
fn is_wired_reports_our_state() {
    let w = wiring(None);
    let out = w.wire(b"max-jobs = 1\n", b"").unwrap();
    assert!(w.is_wired(&out.nix_conf, &out.machines).unwrap());
    assert!(!w.is_wired(b"max-jobs = 1\n", b"").unwrap());
}

// ---- property tests ----------------------------------------------------------------------

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// `len` characters drawn from `chars` (faster than regex strategies, which matters at 10k cases).
fn chars_from(chars: &'static [char], len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(chars), len).prop_map(|c| c.into_iter().collect())
}

fn ws0() -> impl Strategy<Value = String> {
    chars_from(&[' ', '\t'], 0..3)
}

fn ws1() -> impl Strategy<Value = String> {
    chars_from(&[' ', '\t'], 1..4)
}

const TOKEN_CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'Q', '0', '1', '9', '/', '.', '_', ':', ',', '@', '-', 'é', '☃', 'к', 'ю', '😀',
];
const TEXT_CHARS: &[char] = &[
    'a', 'b', 'z', 'Q', '0', '9', ' ', ' ', '\t', '#', '=', ';', '@', '/', '.', ':', ',', '-', 'é', '☃', 'к', '😀',
    '\r',
];

/// Free text without newlines: ASCII, unicode, tabs, a stray CR, `#`, `=`, `;`, `@`.
fn text() -> impl Strategy<Value = String> {
    chars_from(TEXT_CHARS, 0..17)
}

fn token() -> impl Strategy<Value = String> {
    chars_from(TOKEN_CHARS, 1..11)
}

fn setting_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("builders".to_string()),
        Just("builders-use-substitutes".to_string()),
        Just("trusted-users".to_string()),
        Just("extra-trusted-users".to_string()),
        Just("substituters".to_string()),
        Just("extra-substituters".to_string()),
        Just("max-jobs".to_string()),
        Just("extra-experimental-features".to_string()),
        Just("extra-builders".to_string()),
        Just("ключ".to_string()),
        chars_from(&['a', 'k', 'z', '-'], 1..10),
    ]
}

fn value_for(name: String) -> BoxedStrategy<(String, String)> {
    let v = match name.as_str() {
        "builders" => prop_oneof![
            Just(String::new()),
            Just("@/etc/nix/their-machines".to_string()),
            Just(format!("@{OURS}")),
            Just("ssh://a x86_64-linux ; ssh://b aarch64-linux".to_string()),
            Just("ssh://c ; @/etc/nix/other".to_string()),
            token(),
        ]
        .boxed(),
        "builders-use-substitutes" => prop_oneof![Just("true".to_string()), Just("false".to_string())].boxed(),
        "trusted-users" | "extra-trusted-users" => {
            prop_oneof![Just("root".to_string()), Just("ada".to_string()), Just("root @wheel".to_string())].boxed()
        }
        _ => proptest::collection::vec(token(), 0..4).prop_map(|t| t.join(" ")).boxed(),
    };
    v.prop_map(move |v| (name.clone(), v)).boxed()
}

fn setting_line() -> impl Strategy<Value = String> {
    (ws0(), setting_name().prop_flat_map(value_for), ws1(), ws0(), proptest::option::of(text())).prop_map(
        |(lead, (name, value), sp, trail, comment)| {
            let mut l = format!("{lead}{name}{sp}={sp}{value}{trail}");
            if let Some(c) = comment {
                l.push_str(&format!(" #{c}"));
            }
            l
        },
    )
}

fn conf_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => setting_line(),
        2 => text().prop_map(|t| format!("#{t}")),
        2 => ws0(),
        1 => (ws0(), prop_oneof![Just("include"), Just("!include")], ws1(), token())
            .prop_map(|(a, kw, b, p)| format!("{a}{kw}{b}{p}")),
        1 => (token(), token()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => text(),
    ]
}

fn machines_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (token(), token()).prop_map(|(h, sys)| format!("ssh://{h} {sys} - 1 1 - - -")),
        1 => text().prop_map(|t| format!("#{t}")),
        1 => ws0(),
        1 => text(),
    ]
}

/// Lines joined with LF, CRLF or a mix, with or without a final newline.
fn document(lines: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec((lines, any::<bool>()), 0..14), 0..3u8, any::<bool>()).prop_map(
        |(lines, style, final_newline)| {
            let mut out = String::new();
            let n = lines.len();
            for (i, (l, coin)) in lines.into_iter().enumerate() {
                out.push_str(&l);
                if i + 1 < n || final_newline {
                    let crlf = match style {
                        0 => false,
                        1 => true,
                        _ => coin,
                    };
                    out.push_str(if crlf { "\r\n" } else { "\n" });
                }
            }
            out.into_bytes()
        },
    )
}

const OUR_SETTINGS: [&str; 3] = ["builders", "builders-use-substitutes", "trusted-users"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn wiring_properties(
        conf in document(conf_line()),
        machines in document(machines_line()),
        trusted in prop_oneof![Just(None), Just(Some("ada")), Just(Some("root"))],
    ) {
        let w = wiring(trusted);

        // Lossless parsing.
        prop_assert_eq!(NixConf::parse(&conf).render(), conf.clone());

        let target = w.machines_target(&conf).unwrap();
        let out = w.wire(&conf, &machines).unwrap();
        prop_assert_eq!(&out.machines_path, &target);

        // apply -> parse is stable, and what we wrote reads back.
        let after = NixConf::parse(&out.nix_conf);
        prop_assert_eq!(after.render(), out.nix_conf.clone());
        prop_assert_eq!(w.machines_target(&out.nix_conf).unwrap(), target.clone());

        // Applying twice = applying once.
        prop_assert_eq!(w.wire_nix_conf(&out.nix_conf).unwrap(), out.nix_conf.clone());
        prop_assert_eq!(w.wire_machines(&out.machines).unwrap(), out.machines.clone());
        prop_assert!(w.is_wired(&out.nix_conf, &out.machines).unwrap());

        // Removing restores the original bytes.
        prop_assert_eq!(unwire_nix_conf(&out.nix_conf).unwrap(), conf.clone());
        prop_assert_eq!(unwire_machines(&out.machines).unwrap(), machines.clone());

        // Our settings are in effect.
        let before = NixConf::parse(&conf);
        prop_assert_eq!(after.effective("builders-use-substitutes"), Some("true".to_string()));
        let items_after = machines_items(&after.last_assignment("builders").unwrap_or_default());
        prop_assert!(items_after.contains(&MachinesItem::File(target.clone())), "{:?}", items_after);
        for item in machines_items(&before.last_assignment("builders").unwrap_or_default()) {
            prop_assert!(items_after.contains(&item), "lost the user's builder {:?}", item);
        }
        let ours = MachinesItem::Entry(w.machine.render());
        prop_assert!(machines_items(&String::from_utf8_lossy(&out.machines)).contains(&ours));
        let trusted_after = after.effective("trusted-users").unwrap_or_else(|| "root".into());
        match trusted {
            Some(u) => prop_assert!(trusted_after.split_whitespace().any(|t| t == u)),
            None => prop_assert_eq!(after.effective("trusted-users"), before.effective("trusted-users")),
        }

        // Every other setting keeps its effective value.
        for (name, _) in before.settings().chain(after.settings()) {
            let base = name.strip_prefix("extra-").unwrap_or(&name);
            if OUR_SETTINGS.contains(&base) {
                continue;
            }
            prop_assert_eq!(before.effective(&name), after.effective(&name), "setting {}", name);
        }
    }
}
