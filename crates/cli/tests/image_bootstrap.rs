//! Issue 12 on Linux, for real: a fresh home with no image; `builderbar setup` builds stage 1
//! (the test guest with a fixed, public host key) through the `nix` provider from an image
//! file, shows its progress, wires Nix, boots it for the test build, then builds stage 2 (the
//! guest with the per-install host key) and switches to it in one Plan; the state disk is
//! renewed. A fetch cancelled half way leaves nothing: no link, no GC root, no setting.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, guest_image, serial, workspace_root};

/// A home of its own, Nix wired in temp dirs, images from a Nix file.
struct Fresh {
    home: tempfile::TempDir,
    etc: tempfile::TempDir,
}

impl Fresh {
    fn new(image_source: &Path) -> Fresh {
        let f = Fresh { home: tempfile::tempdir().unwrap(), etc: tempfile::tempdir().unwrap() };
        std::fs::create_dir_all(f.nix()).unwrap();
        std::fs::create_dir_all(f.ssh()).unwrap();
        let port = free_port().to_string();
        let source = image_source.display().to_string();
        for (k, v) in [
            ("port", port.as_str()),
            ("accelerator", "tcg"),
            ("memory_mib", "768"),
            ("cores", "1"),
            ("image_source", &source),
        ] {
            f.ok(&["settings", "set", k, v]);
        }
        f
    }

    fn nix(&self) -> PathBuf {
        self.etc.path().join("nix")
    }

    fn ssh(&self) -> PathBuf {
        self.etc.path().join("ssh")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_builderbar"));
        c.args(args)
            .env("BUILDERBAR_HOME", self.home.path())
            .env_remove("XDG_RUNTIME_DIR")
            .env("BUILDERBAR_LOG", "info")
            // The caches (images, the flake copy) are this home's too, not the machine's.
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("BUILDERBAR_TEST_GUEST", guest_image())
            // Root, single-user, the host's real store; the test images use the host's /bin,
            // which a sandbox would hide, and there is no cache to ask (crates/cli/tests/nix_image.rs).
            .env("NIX_REMOTE", "")
            .env("NIX_CONFIG", "sandbox = false\nsubstituters =")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let (so, se) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(
            out.status.success(),
            "builderbar {args:?} failed ({:?}):\nstdout: {so}\nstderr: {se}",
            out.status.code()
        );
        (so, se)
    }

    fn dirs(&self) -> Vec<String> {
        [
            "--nix-conf-dir",
            self.nix().to_str().unwrap(),
            "--ssh-config-dir",
            self.ssh().to_str().unwrap(),
            "--elevation",
            "none",
        ]
        .map(String::from)
        .to_vec()
    }

    fn with_dirs<'a>(&'a self, args: &[&'a str], dirs: &'a [String]) -> Vec<&'a str> {
        args.iter().copied().chain(dirs.iter().map(String::as_str)).collect()
    }

    fn image_status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["image", "status", "--json"]).0).unwrap()
    }

    fn images_dir(&self) -> PathBuf {
        self.home.path().join("cache/builderbar/images")
    }

    fn vm_dir(&self) -> PathBuf {
        self.home.path().join("data/vm")
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let _ = self.cmd(&["stop", "--timeout", "5"]).output();
    }
}

/// The GC roots Nix records for links under `dir` (`/nix/var/nix/gcroots/auto/*` → our link).
fn gc_roots_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/nix/var/nix/gcroots/auto") else { return Vec::new() };
    entries.flatten().filter_map(|e| std::fs::read_link(e.path()).ok()).filter(|t| t.starts_with(dir)).collect()
}

fn nix_available() -> bool {
    Command::new("nix-build").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn from_no_image_to_stage_two_in_one_plan() {
    if !nix_available() {
        assert!(
            std::env::var_os("BUILDERBAR_REQUIRE_NIX").is_none(),
            "BUILDERBAR_REQUIRE_NIX is set but nix is missing"
        );
        eprintln!("skipped: nix-build is not installed");
        return;
    }
    let _g = serial();
    let f = Fresh::new(&workspace_root().join("tests/nix/test-image.nix"));
    let dirs = f.dirs();
    let status = f.image_status();
    assert_eq!(status["image"], serde_json::Value::Null, "{status}");
    assert!(status["stage_note"].as_str().unwrap().contains("No image yet"));

    let (out, err) = f.ok(&f.with_dirs(&["setup", "--yes"], &dirs));
    // Stage 1 through the provider, with its phases.
    assert!(err.contains("[ .. ] Builder image (stock): evaluating"), "{err}");
    assert!(err.contains("[ok  ] Builder image (stock): ready: "), "{err}");
    // The test build started the builder and showed its boot.
    assert!(err.contains("Test build: starting the builder"), "{err}");
    assert!(out.contains("Test build ran on the builder:") && out.contains("builderbar-guest"), "{out}");
    // Offered stage 2 with the reason, and (with --yes) did it: built, switched in one Plan.
    assert!(out.contains("its SSH host key is public"), "{out}");
    assert!(err.contains("Builder image (builderbar)"), "{err}");
    assert!(err.contains("stopping the builder") && err.contains("starting the new image"), "{err}");
    assert!(out.contains("The builder now runs") && out.matches("builderbar-guest").count() >= 2, "{out}");

    let status = f.image_status();
    assert_eq!(status["stage"], "builderbar", "{status}");
    let installed = status["installed"].as_array().unwrap();
    let names: Vec<&str> = installed.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("stock-")) && names.iter().any(|n| n.starts_with("builderbar-")),
        "{names:?}"
    );
    for i in installed {
        let target = i["target"].as_str().unwrap();
        assert!(target.starts_with("/nix/store/"), "{i}");
    }
    let roots = gc_roots_under(&f.images_dir());
    assert_eq!(roots.len(), 2, "each image is a GC root: {roots:?}");
    // The machines line pins the per-install host key now, not stage 1's public one.
    let host_pub = std::fs::read_to_string(f.home.path().join("data/keys/host_ed25519.pub")).unwrap();
    let machines = std::fs::read_to_string(f.nix().join("machines")).unwrap();
    let line = machines.lines().find(|l| l.starts_with("ssh-ng://")).expect("our machines line");
    let b64 = line.split_whitespace().last().unwrap();
    use base64_check::decode;
    assert!(decode(b64).contains(host_pub.split_whitespace().nth(1).unwrap()), "{machines}");
    // The state disk belongs to stage 2 now; stage 1's was kept until stage 2 worked, then removed.
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.vm_dir().join("state.json")).unwrap()).unwrap();
    let stage2 = installed.iter().find(|i| i["stage"] == "builderbar").unwrap();
    assert_eq!(record["image"], stage2["target"], "{record}");
    assert!(err.contains("previous image's state disk was removed"), "{err}");
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(f.vm_dir().join("run.json")).unwrap()).unwrap();
    assert!(run["notice"].as_str().unwrap_or("").contains("got a new state disk"), "{run}");

    // Going back to stage 1 is one command (its disk is new: stage 2 worked, so the old went).
    let stock = installed.iter().find(|i| i["stage"] == "stock").unwrap()["name"].as_str().unwrap().to_string();
    let (out, _) = f.ok(&f.with_dirs(&["image", "use", &stock, "--yes"], &dirs));
    assert!(out.contains("Test build ran on it"), "{out}");
    assert_eq!(f.image_status()["stage"], "stock");
    f.ok(&["stop"]);
}

mod base64_check {
    /// Decodes standard base64 (the machines line's host key) to text.
    pub fn decode(s: &str) -> String {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes().filter(|c| *c != b'=') {
            let v = T.iter().position(|x| *x == c).unwrap() as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[test]
fn a_fetch_cancelled_half_way_leaves_nothing() {
    if !nix_available() {
        eprintln!("skipped: nix-build is not installed");
        return;
    }
    let f = Fresh::new(&workspace_root().join("tests/nix/slow-image.nix"));
    let settings_before = std::fs::read(f.home.path().join("data/settings.json")).unwrap();
    let mut child = f.cmd(&["image", "fetch"]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    use std::io::BufRead;
    while !seen.contains("building '/nix/store/") {
        assert!(Instant::now() < deadline, "the build never started: {seen}");
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("fetch ended before the build started: {seen}");
        }
        seen.push_str(&line);
    }
    // Ctrl-C, as a terminal sends it.
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::INT).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("cancelled; nothing was changed"), "{rest}");
    // Nothing half done: no link, no GC root, the settings as they were, no Nix left building.
    let links: Vec<_> = std::fs::read_dir(f.images_dir()).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(links.is_empty(), "{links:?}");
    assert!(gc_roots_under(&f.images_dir()).is_empty());
    assert_eq!(std::fs::read(f.home.path().join("data/settings.json")).unwrap(), settings_before);
    let sleeping = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
            c.windows(19).any(|w| w == b"a long build begins") || c.windows(14).any(|w| w == b"/bin/sleep\x00600\x00")
        })
    });
    assert!(!sleeping, "a Nix process of the cancelled fetch is still running");
}
