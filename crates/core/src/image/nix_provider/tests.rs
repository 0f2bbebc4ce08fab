//! The provider's argv and its reading of Nix's internal-json log, on lines recorded from
//! Debian's Nix 2.8 (the real runs are in crates/core/tests/nix_manifest.rs).

use super::*;

fn strings(args: &[OsString]) -> Vec<&str> {
    args.iter().map(|a| a.to_str().unwrap()).collect()
}

#[test]
fn flake_command_is_nix_build_json_with_flakes_switched_on() {
    let p = NixProvider::new().bin_dir("/nix/var/nix/profiles/default/bin");
    let cmd = p.command(&ImageSource::Flake("github:o/builderbar#builder-image-stock".into()));
    assert_eq!(cmd.program, PathBuf::from("/nix/var/nix/profiles/default/bin/nix"));
    assert_eq!(
        strings(&cmd.args),
        [
            "--extra-experimental-features",
            "nix-command flakes",
            "build",
            "--json",
            "--no-link",
            "--log-format",
            "internal-json",
            "github:o/builderbar#builder-image-stock"
        ]
    );
    let cmd = NixProvider::new()
        .enable_flakes(false)
        .extra_arg("--max-jobs")
        .extra_arg("0")
        .command(&ImageSource::Flake(".#builder-image".into()));
    assert_eq!(cmd.program, PathBuf::from("nix"));
    assert_eq!(
        strings(&cmd.args),
        ["build", "--json", "--no-link", "--log-format", "internal-json", "--max-jobs", "0", ".#builder-image"]
    );
}

#[test]
fn file_command_is_nix_build_with_attr_and_argstr_as_separate_words() {
    let cmd = NixProvider::new().command(&ImageSource::File {
        path: "/src/tests/nix/test-image.nix".into(),
        attr: Some("image".into()),
        args: vec![("guestDir".into(), "/tmp/a dir; rm -rf /".into())],
    });
    assert_eq!(cmd.program, PathBuf::from("nix-build"));
    assert_eq!(
        strings(&cmd.args),
        [
            "--no-out-link",
            "--log-format",
            "internal-json",
            "/src/tests/nix/test-image.nix",
            "-A",
            "image",
            "--argstr",
            "guestDir",
            "/tmp/a dir; rm -rf /"
        ]
    );
}

// Recorded from `nix-build --log-format internal-json` (Nix 2.8.0) of a one-step derivation.
const BUILD_OK: &str = r#"@nix {"action":"msg","level":3,"msg":"this derivation will be built:"}
@nix {"action":"start","id":1,"level":0,"text":"","type":102}
@nix {"action":"start","id":2,"level":0,"text":"","type":104}
@nix {"action":"start","id":3,"level":0,"text":"","type":103}
@nix {"action":"result","fields":[0,1,0,0],"id":2,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":3,"type":105}
@nix {"action":"result","fields":[101,0],"id":1,"type":106}
@nix {"action":"start","fields":["/nix/store/j2sl-t.drv","",1,1],"id":4,"level":3,"text":"building '/nix/store/j2sl-t.drv'","type":105}
@nix {"action":"result","fields":[0,1,1,0],"id":2,"type":105}
@nix {"action":"result","fields":["hi"],"id":4,"type":101}
@nix {"action":"result","fields":[1,1,0,0],"id":2,"type":105}
@nix {"action":"stop","id":4}
@nix {"action":"stop","id":3}
@nix {"action":"stop","id":2}
@nix {"action":"stop","id":1}"#;

fn feed_all(parser: &mut ProgressParser, text: &str) -> Vec<NixEvent> {
    text.lines().flat_map(|l| parser.feed(l)).collect()
}

#[test]
fn a_build_reports_its_activity_steps_and_log() {
    let mut parser = ProgressParser::default();
    let events = feed_all(&mut parser, BUILD_OK);
    assert_eq!(
        events,
        vec![
            NixEvent::Log("this derivation will be built:".into()),
            NixEvent::Realising,
            NixEvent::Steps { built: 0, to_build: 1, fetched: 0, to_fetch: 0 },
            NixEvent::Activity("building '/nix/store/j2sl-t.drv'".into()),
            NixEvent::Log("hi".into()),
            NixEvent::Steps { built: 1, to_build: 1, fetched: 0, to_fetch: 0 },
        ]
    );
}

#[test]
fn substitution_reports_paths_and_downloaded_bytes() {
    // The shape Nix uses when it fetches from a binary cache: Realise announces the download
    // size, CopyPaths counts paths, each FileTransfer reports its bytes.
    let lines = r#"@nix {"action":"start","id":1,"level":0,"text":"","type":102}
@nix {"action":"start","id":3,"level":0,"text":"","type":103}
@nix {"action":"result","fields":[101,3000],"id":1,"type":106}
@nix {"action":"result","fields":[0,2,0,0],"id":3,"type":105}
@nix {"action":"start","id":7,"level":4,"text":"copying path '/nix/store/aaa-linux' from 'https://cache.nixos.org'","type":100}
@nix {"action":"start","id":8,"level":4,"text":"downloading 'https://cache.nixos.org/nar/x.nar.xz'","type":101}
@nix {"action":"result","fields":[1000,2000,0,0],"id":8,"type":105}
@nix {"action":"result","fields":[2000,2000,0,0],"id":8,"type":105}
@nix {"action":"stop","id":8}
@nix {"action":"result","fields":[1,2,1,0],"id":3,"type":105}"#;
    let mut parser = ProgressParser::default();
    let events = feed_all(&mut parser, lines);
    assert!(events.contains(&NixEvent::Steps { built: 0, to_build: 0, fetched: 0, to_fetch: 2 }), "{events:?}");
    assert!(events
        .contains(&NixEvent::Activity("copying path '/nix/store/aaa-linux' from 'https://cache.nixos.org'".into())));
    assert!(events.contains(&NixEvent::Bytes { done: 1000, expected: 3000 }), "{events:?}");
    assert!(events.contains(&NixEvent::Bytes { done: 2000, expected: 3000 }), "{events:?}");
    assert_eq!(events.last(), Some(&NixEvent::Steps { built: 0, to_build: 0, fetched: 1, to_fetch: 2 }));
}

#[test]
fn errors_are_classified_from_nix_messages() {
    // Each recorded from Nix 2.8 (ANSI codes included, as Nix sends them).
    let needs_builder = r#"@nix {"action":"start","id":2,"level":0,"text":"","type":104}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m a '\u001b[35;1maarch64-linux\u001b[0m' with features {\u001b[35;1m\u001b[0m} is required to build '\u001b[35;1m/nix/store/j3i2-lx.drv\u001b[0m', but I am a '\u001b[35;1mx86_64-linux\u001b[0m' with features {\u001b[35;1mbenchmark\u001b[0m}","raw_msg":"a '\u001b[35;1maarch64-linux\u001b[0m' with features {\u001b[35;1m\u001b[0m} is required to build '\u001b[35;1m/nix/store/j3i2-lx.drv\u001b[0m', but I am a '\u001b[35;1mx86_64-linux\u001b[0m' with features {\u001b[35;1mbenchmark\u001b[0m}"}"#;
    let mut p = ProgressParser::default();
    feed_all(&mut p, needs_builder);
    match p.error("exit status: 1") {
        NixError::NeedsLinuxBuilder { system, drv } => {
            assert_eq!(system, "aarch64-linux");
            assert_eq!(drv, "/nix/store/j3i2-lx.drv");
        }
        other => panic!("{other:?}"),
    }

    let build_failed = r#"@nix {"action":"start","id":2,"level":0,"text":"","type":104}
@nix {"action":"start","fields":["/nix/store/xkz9-bad.drv","",1,1],"id":5,"level":3,"text":"building '/nix/store/xkz9-bad.drv'","type":105}
@nix {"action":"result","fields":["oops"],"id":5,"type":101}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m builder for '\u001b[35;1m/nix/store/xkz9-bad.drv\u001b[0m' failed with exit code 3","raw_msg":"builder for '\u001b[35;1m/nix/store/xkz9-bad.drv\u001b[0m' failed with exit code 3"}"#;
    let mut p = ProgressParser::default();
    feed_all(&mut p, build_failed);
    let err = p.error("exit status: 100");
    match &err {
        NixError::BuildFailed { drv, log_tail, message } => {
            assert_eq!(drv, "/nix/store/xkz9-bad.drv");
            assert_eq!(log_tail, &vec!["oops".to_string()]);
            assert_eq!(message, "builder for '/nix/store/xkz9-bad.drv' failed with exit code 3");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.report().contains("hint: "));

    let no_flakes = r#"@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m experimental Nix feature '\u001b[35;1mflakes\u001b[0m' is disabled; use '--extra-experimental-features \u001b[35;1mflakes\u001b[0m' to override","raw_msg":"experimental Nix feature '\u001b[35;1mflakes\u001b[0m' is disabled; use '--extra-experimental-features \u001b[35;1mflakes\u001b[0m' to override"}"#;
    let mut p = ProgressParser::default();
    feed_all(&mut p, no_flakes);
    assert!(matches!(p.error("1"), NixError::FlakesDisabled { .. }));

    let eval = r#"@nix {"action":"msg","column":7,"file":"{ x = ; }","level":0,"line":1,"msg":"\u001b[31;1merror:\u001b[0m syntax error, unexpected ';'","raw_msg":"syntax error, unexpected ';'"}"#;
    let mut p = ProgressParser::default();
    feed_all(&mut p, eval);
    match p.error("1") {
        NixError::EvalFailed { message } => assert_eq!(message, "syntax error, unexpected ';'"),
        other => panic!("{other:?}"),
    }

    // A Nix without internal-json support (or a wrapper) prints plain text; it still counts.
    let mut p = ProgressParser::default();
    let events = p.feed("error: unrecognised flag '--log-format'");
    assert_eq!(events, vec![NixEvent::Log("error: unrecognised flag '--log-format'".into())]);
    assert!(matches!(p.error("1"), NixError::EvalFailed { .. }));
}

#[test]
fn every_error_has_a_message_and_a_hint() {
    let errors = [
        NixError::NotInstalled { program: "nix".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) },
        NixError::FlakesDisabled { message: "x".into() },
        NixError::NeedsLinuxBuilder { system: "aarch64-linux".into(), drv: "/nix/store/a.drv".into() },
        NixError::BuildFailed { drv: "/nix/store/a.drv".into(), message: "x".into(), log_tail: vec![] },
        NixError::EvalFailed { message: "x".into() },
        NixError::Failed { status: "1".into(), message: "x".into() },
        NixError::NoOutput { stdout: String::new() },
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
        assert!(e.hint().len() > 20, "{e}: {}", e.hint());
    }
}

#[test]
fn json_output_and_ansi_stripping() {
    let out = r#"[{"drvPath":"/nix/store/j2-t.drv","outputs":{"out":"/nix/store/f2-t"}}]"#;
    assert_eq!(output_from_json(out), Some(PathBuf::from("/nix/store/f2-t")));
    assert_eq!(output_from_json("[]"), None);
    assert_eq!(output_from_json("not json"), None);
    assert_eq!(strip_ansi("\u{1b}[31;1merror:\u{1b}[0m a '\u{1b}[35;1mx\u{1b}[0m'"), "error: a 'x'");
}

#[test]
fn nix_is_found_on_path_or_where_installers_put_it() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    assert_eq!(locate_nix_bin_dir(Some(bin.as_os_str()), Some(dir.path())), None);
    let nix_build = bin.join("nix-build");
    std::fs::write(&nix_build, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&nix_build, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(locate_nix_bin_dir(Some(bin.as_os_str()), None), Some(bin.clone()));
    // Not on PATH, but in the user's profile.
    let profile = dir.path().join(".nix-profile/bin");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::rename(&nix_build, profile.join("nix-build")).unwrap();
    assert_eq!(locate_nix_bin_dir(Some(std::ffi::OsStr::new("/nonexistent")), Some(dir.path())), Some(profile));
}

#[test]
fn bootstrap_images_are_flake_packages_of_the_mac() {
    let stock = ImageSource::flake_image("github:o/builderbar", Host::MACOS_AARCH64, Stage::Stock);
    assert_eq!(
        stock,
        Some(ImageSource::Flake("github:o/builderbar#packages.aarch64-darwin.builder-image-stock".into()))
    );
    let hardened = ImageSource::flake_image(".", Host::MACOS_X86_64, Stage::Hardened);
    assert_eq!(hardened, Some(ImageSource::Flake(".#packages.x86_64-darwin.builder-image".into())));
    assert_eq!(ImageSource::flake_image(".", Host::LINUX_X86_64, Stage::Stock), None);
}

/// A stand-in `nix-build` that floods stderr with non-UTF-8 lines (more than a pipe holds)
/// and then prints an image directory: the provider reads it all and returns the image.
#[tokio::test]
async fn any_stderr_bytes_are_read_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    std::fs::create_dir(&image).unwrap();
    let manifest = r#"{"schema": 1, "name": "fake", "system": "x86_64-linux", "kernel": "k", "initrd": "i",
        "console": "ttyS0", "ssh": {"user": "builder"}, "host_key": {"kind": "runtime"},
        "keys": {"channel": "fw_cfg", "prefix": "opt/builderbar"}}"#;
    std::fs::write(image.join(crate::image::MANIFEST_FILE), manifest).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\ni=0\nwhile [ $i -lt 3000 ]; do printf 'log line %s \\377\\376 with bytes that are not UTF-8\\n' $i >&2; \
         i=$((i+1)); done\necho {}\n",
        image.display()
    );
    let fake = bin.join("nix-build");
    std::fs::write(&fake, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut logs = 0;
    let source = ImageSource::File { path: "/unused.nix".into(), attr: None, args: vec![] };
    let built =
        NixProvider::new().bin_dir(&bin).build(&source, |e| logs += usize::from(matches!(e, NixEvent::Log(_)))).await;
    let built = built.unwrap();
    assert_eq!(built.dir, image);
    assert_eq!(built.manifest.name, "fake");
    assert_eq!(logs, 3000);
}

#[test]
fn a_flakes_input_download_is_counted_before_realising_and_apart_from_the_paths() {
    // `nix build` of a flake: the nixpkgs tarball is a file transfer during evaluation; the
    // paths' downloads after Realise begins are measured against the announced size alone.
    let lines = r#"@nix {"action":"start","id":5,"level":4,"text":"downloading 'https://github.com/NixOS/nixpkgs/archive/abc.tar.gz'","type":101}
@nix {"action":"result","fields":[30000000,45000000,0,0],"id":5,"type":105}
@nix {"action":"stop","id":5}
@nix {"action":"start","id":6,"level":0,"text":"","type":102}
@nix {"action":"result","fields":[101,800],"id":6,"type":106}
@nix {"action":"start","id":8,"level":4,"text":"downloading 'https://cache.nixos.org/nar/x.nar.xz'","type":101}
@nix {"action":"result","fields":[200,800,0,0],"id":8,"type":105}"#;
    let mut parser = ProgressParser::default();
    let events = feed_all(&mut parser, lines);
    let realising = events.iter().position(|e| *e == NixEvent::Realising).expect("realising");
    assert!(events[..realising].contains(&NixEvent::Bytes { done: 30_000_000, expected: 45_000_000 }), "{events:?}");
    assert_eq!(events.last(), Some(&NixEvent::Bytes { done: 200, expected: 800 }), "{events:?}");
}

#[test]
fn the_gc_root_command_is_nix_store_add_root() {
    let cmd = NixProvider::new().bin_dir("/nix/var/nix/profiles/default/bin").add_root_command(
        Path::new("/nix/store/abc-image"),
        Path::new("/Users/a b/Library/Caches/Builderbar/images/x"),
    );
    assert_eq!(cmd.program, PathBuf::from("/nix/var/nix/profiles/default/bin/nix-store"));
    assert_eq!(
        strings(&cmd.args),
        ["--realise", "/nix/store/abc-image", "--add-root", "/Users/a b/Library/Caches/Builderbar/images/x"]
    );
}

/// A stand-in `nix-build` that starts a child (as Nix forks builders) and waits: a cancel
/// interrupts both, and the build reports Cancelled.
#[tokio::test]
async fn a_cancel_interrupts_nix_and_what_it_forked() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let child_pid = dir.path().join("child.pid");
    let script = format!(
        "#!/bin/sh\nsleep 300 &\necho $! > {}\necho '@nix {{\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":102}}' >&2\nwait\n",
        child_pid.display()
    );
    let fake = bin.join("nix-build");
    std::fs::write(&fake, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (handle, cancel) = Cancel::new();
    let source = ImageSource::File { path: "/unused.nix".into(), attr: None, args: vec![] };
    let provider = NixProvider::new().bin_dir(&bin);
    let build = provider.build_cancellable(
        &source,
        move |e| {
            if e == NixEvent::Realising {
                handle.cancel();
            }
        },
        cancel,
    );
    let err = tokio::time::timeout(std::time::Duration::from_secs(60), build).await.expect("stopped").unwrap_err();
    assert!(matches!(err, NixError::Cancelled), "{err:?}");
    let pid: i32 = std::fs::read_to_string(&child_pid).unwrap().trim().parse().unwrap();
    // The forked child got the interrupt too (sleep dies of SIGINT); reap-free check via /proc.
    let mut gone = false;
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(gone, "the build's child {pid} survived the cancel");
}
