//! Issue 5: the `nix` image provider builds an image directory around the test guest with
//! Debian's real Nix, reports progress, and the supervisor boots what it built.

mod common;

use builderbar_core::image::nix_provider::{ImageSource, NixProvider};
use common::{serial, workspace_root, Install};

#[test]
fn the_nix_provider_builds_an_image_that_the_supervisor_boots() {
    let _g = serial();
    let i = Install::new();
    let source = ImageSource::File {
        path: workspace_root().join("tests/nix/test-image.nix"),
        attr: None,
        args: vec![("guestDir".into(), i.image.display().to_string())],
    };
    let mut events = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Root, single-user: the host's real store, like the setup test's remote build. The test
    // image's builder uses the host's /bin (it has no nixpkgs), which a sandbox would hide; and
    // this machine has no cache to ask. Said here, so the machine's own nix.conf does not decide.
    let provider = NixProvider::new().env("NIX_REMOTE", "").env("NIX_CONFIG", "sandbox = false\nsubstituters =");
    let built = rt.block_on(provider.build(&source, |e| events.push(format!("{e:?}")))).unwrap_or_else(|e| {
        panic!("nix provider: {e}\nevents: {events:#?}");
    });
    assert!(built.dir.starts_with("/nix/store/"), "{}", built.dir.display());
    assert!(!events.is_empty(), "no progress was reported");
    assert_eq!(built.manifest.system, "x86_64-linux");

    let dir = built.dir.display().to_string();
    i.ok(&["start", "--wait", "--image", &dir]);
    let s = i.status();
    assert_eq!(s["state"], "running", "{s}");
    assert_eq!(s["image"], built.manifest.name.as_str());
    assert!(i.ok(&["ssh", "--", "uname", "-n"]).contains("builderbar-guest"));
    i.ok(&["stop"]);
}
