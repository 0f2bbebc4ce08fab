//! The fetch report from Nix's events, and the words it is shown in.

use super::*;

#[test]
fn the_report_follows_the_phases_and_tells_the_time_left_from_the_rate() {
    let mut t = Tracker::new(ImageProgress::new("stock", "path:/f#packages.aarch64-darwin.builder-image-stock".into()));
    t.progress.phase = FetchPhase::Evaluating;
    let t0 = Instant::now();
    t.apply(NixEvent::Bytes { done: 20_000_000, expected: 45_000_000 }, t0);
    assert_eq!(t.progress.summary(), "evaluating the flake: downloading nixpkgs' source (20 MB of 45 MB)");
    assert!(t.apply(NixEvent::Realising, t0));
    assert_eq!(t.progress.phase, FetchPhase::Realising);
    assert_eq!(t.progress.bytes_done, 0, "the paths' bytes are counted from zero");
    t.apply(NixEvent::Steps { built: 1, to_build: 3, fetched: 100, to_fetch: 400 }, t0);
    t.apply(NixEvent::Bytes { done: 100_000_000, expected: 1_100_000_000 }, t0);
    assert_eq!(t.progress.eta_secs, None, "no rate yet");
    t.apply(NixEvent::Bytes { done: 300_000_000, expected: 1_100_000_000 }, t0 + Duration::from_secs(10));
    // 200 MB in 10 s: 20 MB/s, 800 MB left: 40 s.
    assert_eq!(t.progress.eta_secs, Some(40));
    assert_eq!(t.progress.summary(), "fetched 100 of 400 paths, 300 MB of 1.1 GB, built 1 of 3, about 40 s left");
    assert!(t.apply(NixEvent::Activity("copying path '/nix/store/x-linux' from 'https://cache.nixos.org'".into()), t0));
    assert_eq!(t.progress.fraction(), Some(300.0 / 1100.0));
    for i in 0..20 {
        t.apply(NixEvent::Log(format!("line {i}")), t0);
    }
    assert_eq!(t.progress.log.len(), LOG_LINES);
    assert_eq!(t.progress.log.last().unwrap(), "line 19");
}

#[test]
fn each_stage_says_why_it_matters() {
    assert!(stage_note(Some(Stage::Stock)).contains("public"));
    assert!(stage_note(Some(Stage::Stock)).contains("builderbar image harden"));
    assert!(stage_note(Some(Stage::Hardened)).contains("made for this install"));
    assert!(stage_note(None).contains("stage 1"));
}
