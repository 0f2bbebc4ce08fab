//! Settings validation: a table of bad values, each with its message; nothing saved when invalid.

use super::*;

fn limits(host: Host) -> HostLimits {
    HostLimits { host, cpus: 8, memory_mib: 16384, port_available: Box::new(|p| p != 40000) }
}

fn ok() -> Settings {
    Settings { cores: 2, memory_mib: 2048, ..Settings::default() }
}

#[test]
fn defaults_are_valid_here() {
    ok().validate(&limits(Host::LINUX_X86_64)).unwrap();
    ok().validate(&limits(Host::MACOS_AARCH64)).unwrap();
}

#[test]
fn each_invalid_value_is_rejected_with_its_message() {
    type Edit = fn(&mut Settings);
    let dir = tempfile::tempdir().unwrap();
    let no_image = dir.path().join("nowhere");
    let cases: Vec<(Host, Edit, &str, &str)> = vec![
        (Host::LINUX_X86_64, |s| s.cores = 0, "cores", "must be at least 1"),
        (Host::LINUX_X86_64, |s| s.cores = 9, "cores", "is 9, but this machine has 8 CPU cores"),
        (Host::LINUX_X86_64, |s| s.memory_mib = 100, "memory_mib", "needs at least 256 MiB"),
        (Host::LINUX_X86_64, |s| s.memory_mib = 20000, "memory_mib", "more than this machine's 16384 MiB"),
        (Host::LINUX_X86_64, |s| s.disk_gib = 0, "disk_gib", "choose 1 to 4096"),
        (Host::LINUX_X86_64, |s| s.port = 22, "port", "ports below 1024 need root"),
        (Host::LINUX_X86_64, |s| s.port = 40000, "port", "127.0.0.1:40000 is already in use"),
        (Host::LINUX_X86_64, |s| s.accelerator = Accelerator::Hvf, "accelerator", "hvf exists only on macOS"),
        (Host::MACOS_AARCH64, |s| s.accelerator = Accelerator::Kvm, "accelerator", "kvm exists only on Linux"),
        (
            Host::LINUX_X86_64,
            |s| {
                s.on_demand = true;
                s.idle_minutes = 0
            },
            "idle_minutes",
            "choose 1 to 1440",
        ),
        (Host::LINUX_X86_64, |s| s.stop_timeout_secs = 0, "stop_timeout_secs", "choose 1 to 600"),
    ];
    for (host, edit, field, message) in cases {
        let mut s = ok();
        edit(&mut s);
        let Err(SettingsError::Invalid(errs)) = s.validate(&limits(host)) else { panic!("{field} accepted") };
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, field);
        assert!(errs[0].message.contains(message), "{field}: «{}» lacks «{message}»", errs[0].message);
    }
    let mut s = ok();
    s.image = Some(no_image);
    let Err(SettingsError::Invalid(errs)) = s.validate(&limits(Host::LINUX_X86_64)) else { panic!() };
    assert_eq!(errs[0].field, "image");
    assert!(errs[0].message.contains("no image manifest at"), "{}", errs[0].message);
}

#[test]
fn unknown_accelerator_and_unknown_keys_are_named() {
    let e = Settings::from_json(r#"{"accelerator":"whpx"}"#).unwrap_err();
    assert_eq!(e, "accelerator: unknown accelerator \"whpx\"; choose auto, hvf, kvm or tcg");
    let e = Settings::from_json(r#"{"cpus":4}"#).unwrap_err();
    assert!(e.contains("unknown field `cpus`"), "{e}");
    assert_eq!("kvm".parse::<Accelerator>(), Ok(Accelerator::Kvm));
    assert!("bogus".parse::<Accelerator>().unwrap_err().contains("unknown accelerator"));
}

#[test]
fn invalid_settings_change_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    ok().save(&path, &limits(Host::LINUX_X86_64)).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut bad = ok();
    bad.cores = 0;
    assert!(bad.save(&path, &limits(Host::LINUX_X86_64)).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(Settings::load(&path).unwrap(), ok());
}

#[test]
fn missing_file_is_defaults_and_a_corrupt_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Settings::load(&dir.path().join("none.json")).unwrap(), Settings::default());
    let p = dir.path().join("bad.json");
    std::fs::write(&p, "{").unwrap();
    let e = Settings::load(&p).unwrap_err();
    assert!(e.to_string().contains("cannot read settings file"), "{e}");
}

#[test]
fn restart_is_needed_only_for_vm_shape_changes() {
    let a = ok();
    let mut b = ok();
    b.idle_minutes = 5;
    b.notifications = true;
    assert!(!b.needs_vm_restart(&a));
    b.cores = 3;
    assert!(b.needs_vm_restart(&a));
}

#[test]
fn on_demand_moves_qemus_forward_to_the_next_port() {
    let mut s = ok();
    s.port = 31022;
    assert_eq!(s.forward_port(), 31022);
    let old = s.clone();
    s.on_demand = true;
    assert_eq!(s.forward_port(), 31023);
    assert!(s.needs_vm_restart(&old), "the forward moves, so a running VM must restart");
    s.validate(&limits(Host::LINUX_X86_64)).unwrap();
    s.port = 39999; // its forward port, 40000, is taken
    let Err(SettingsError::Invalid(errs)) = s.validate(&limits(Host::LINUX_X86_64)) else { panic!("accepted") };
    assert!(errs[0].message.contains("127.0.0.1:40000"), "{errs:?}");
    s.port = u16::MAX;
    let Err(SettingsError::Invalid(errs)) = s.validate(&limits(Host::LINUX_X86_64)) else { panic!("accepted") };
    assert!(errs[0].message.contains("choose 1024 to 65534"), "{errs:?}");
}

#[test]
fn a_start_checks_ranges_but_not_the_port_or_the_image() {
    let path = Path::new("/home/ada/.local/share/builderbar/settings.json");
    // A port taken now is the start's to report (PortInUse); an image it may not even use.
    // Within any machine's means: the start checks against the real one.
    let s = Settings { image: Some("/nowhere".into()), cores: 1, memory_mib: 512, ..ok() };
    s.validate_for_start(Host::LINUX_X86_64, path).unwrap();
    let bad = Settings { cores: 0, port: 0, memory_mib: 512, ..ok() };
    let e = bad.validate_for_start(Host::LINUX_X86_64, path).unwrap_err();
    let SettingsError::Stored { fields, .. } = &e else { panic!("{e:?}") };
    let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["cores", "port"]);
    assert!(e.to_string().starts_with(&format!("the settings in {} are not valid: cores:", path.display())), "{e}");
    assert!(e.hint().contains("builderbar settings set"), "{}", e.hint());
}

#[test]
fn relative_paths_are_refused_naming_the_setting() {
    for field in ["image", "nix_conf_dir", "ssh_config_dir"] {
        let mut v = serde_json::to_value(ok()).unwrap();
        v[field] = "relative/dir".into();
        let s: Settings = serde_json::from_value(v).unwrap();
        let Err(SettingsError::Invalid(errs)) = s.validate(&limits(Host::LINUX_X86_64)) else { panic!("{field}") };
        assert_eq!(errs[0].field, field);
        assert!(errs[0].message.contains("relative path"), "{}", errs[0].message);
    }
}

#[test]
fn a_mistyped_value_names_its_setting() {
    let e = Settings::from_json(r#"{"port": 31022, "cores": "four"}"#).unwrap_err();
    assert!(e.starts_with("cores: invalid type: string \"four\""), "{e}");
    let e = Settings::from_json(r#"{"on_demand": 1}"#).unwrap_err();
    assert!(e.starts_with("on_demand: "), "{e}");
}
