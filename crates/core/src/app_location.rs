//! Where the installed app and its bundled CLI live: the stable paths that login items and
//! the PATH advice name, rather than a /nix/store path a garbage collection can remove.

use std::path::{Path, PathBuf};

use crate::host::{Host, Os};

/// The bundle's directory name (tauri.conf.json `productName` + `.app`).
pub const APP_BUNDLE: &str = "Builderbar.app";
/// The CLI inside the bundle, beside the app's executable (`bundle.externalBin`).
pub const CLI_NAME: &str = "builderbar";

/// The Nix store: a path under it changes with every update and goes after a GC.
const NIX_STORE: &str = "/nix/store/";

/// What kind of path the app was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSource {
    /// Running from a bundle outside the Nix store (dragged to /Applications, say): stable.
    Bundle,
    /// Running from a bundle in the Nix store, and an installed bundle was found in one of the
    /// application folders (a copy, or nix-darwin's / home-manager's link): that one is used.
    Installed { store_bundle: PathBuf },
    /// Running from a bundle in the Nix store with no installed bundle found: the path works
    /// until the next update or garbage collection.
    NixStore,
    /// Not in a bundle (a development build, Linux): the executable itself.
    Plain,
}

/// The app to start at login, and the CLI that comes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLocation {
    pub executable: PathBuf,
    /// The bundled CLI (or the one beside a plain executable), when it exists.
    pub cli: Option<PathBuf>,
    pub source: AppSource,
}

impl AppLocation {
    /// True when the recorded path may vanish (a Nix store path with nothing installed).
    pub fn may_go_stale(&self) -> bool {
        self.source == AppSource::NixStore
    }
}

/// The application folders a Mac keeps bundles in, in the order they are preferred:
/// /Applications, ~/Applications, nix-darwin's `/Applications/Nix Apps`, home-manager's
/// `~/Applications/Home Manager Apps`. The last two hold links that each switch repoints at
/// the current generation, so their paths stay valid across updates.
pub fn application_folders(root: &Path, home: &Path) -> Vec<PathBuf> {
    vec![
        root.join("Applications"),
        home.join("Applications"),
        root.join("Applications/Nix Apps"),
        home.join("Applications/Home Manager Apps"),
    ]
}

/// The bundle `exe` runs in: `<bundle>.app` when `exe` is `<bundle>.app/Contents/MacOS/<name>`.
fn bundle_of(exe: &Path) -> Option<&Path> {
    let macos = exe.parent()?;
    let contents = macos.parent()?;
    let bundle = contents.parent()?;
    let is_bundle = macos.file_name()? == "MacOS"
        && contents.file_name()? == "Contents"
        && bundle.extension().is_some_and(|e| e == "app");
    is_bundle.then_some(bundle)
}

fn existing(p: PathBuf) -> Option<PathBuf> {
    p.exists().then_some(p)
}

/// Where the running app is, as a path worth recording. `exe` is the running executable as
/// the OS reports it (not canonicalized: a path through a link is kept); `folders` are where
/// installed bundles are looked for ([`application_folders`]); `appimage` is `$APPIMAGE` on
/// Linux (an AppImage's executable is a temporary mount).
pub fn locate_app(host: Host, exe: &Path, folders: &[PathBuf], appimage: Option<&Path>) -> AppLocation {
    let beside = |dir: &Path| existing(dir.join(CLI_NAME));
    if host.os == Os::Linux {
        let executable = appimage.map_or_else(|| exe.to_path_buf(), Path::to_path_buf);
        let cli = exe.parent().and_then(beside);
        return AppLocation { executable, cli, source: AppSource::Plain };
    }
    let Some(bundle) = bundle_of(exe) else {
        return AppLocation { executable: exe.into(), cli: exe.parent().and_then(beside), source: AppSource::Plain };
    };
    let name = exe.file_name().unwrap_or_default();
    if !bundle.starts_with(NIX_STORE) {
        let cli = beside(&bundle.join("Contents/MacOS"));
        return AppLocation { executable: exe.into(), cli, source: AppSource::Bundle };
    }
    for folder in folders {
        let macos = folder.join(APP_BUNDLE).join("Contents/MacOS");
        if let Some(executable) = existing(macos.join(name)) {
            let source = AppSource::Installed { store_bundle: bundle.into() };
            return AppLocation { executable, cli: beside(&macos), source };
        }
    }
    AppLocation { executable: exe.into(), cli: beside(&bundle.join("Contents/MacOS")), source: AppSource::NixStore }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    struct Mac {
        _t: tempfile::TempDir,
        root: PathBuf,
        home: PathBuf,
    }

    impl Mac {
        fn new() -> Mac {
            let t = tempfile::tempdir().unwrap();
            let root = t.path().to_path_buf();
            let home = root.join("Users/alice");
            Mac { _t: t, root, home }
        }
        fn folders(&self) -> Vec<PathBuf> {
            application_folders(&self.root, &self.home)
        }
        /// A bundle with the app and the CLI in `Contents/MacOS`; returns the app's executable.
        fn bundle(&self, at: &Path) -> PathBuf {
            let macos = at.join("Contents/MacOS");
            touch(&macos.join(CLI_NAME));
            touch(&macos.join("builderbar-app"));
            macos.join("builderbar-app")
        }
    }

    const STORE_EXE: &str =
        "/nix/store/0123abcd-builderbar-0.1.0/Applications/Builderbar.app/Contents/MacOS/builderbar-app";

    #[test]
    fn a_bundle_outside_the_store_is_recorded_as_it_is() {
        let mac = Mac::new();
        let exe = mac.bundle(&mac.root.join("Applications/Builderbar.app"));
        let got = locate_app(Host::MACOS_AARCH64, &exe, &mac.folders(), None);
        assert_eq!(got.executable, exe);
        assert_eq!(got.cli, Some(mac.root.join("Applications/Builderbar.app/Contents/MacOS/builderbar")));
        assert_eq!(got.source, AppSource::Bundle);
        assert!(!got.may_go_stale());
    }

    #[test]
    fn from_the_store_an_installed_bundle_is_preferred_in_folder_order() {
        let mac = Mac::new();
        let hm = mac.bundle(&mac.home.join("Applications/Home Manager Apps/Builderbar.app"));
        let store_bundle = PathBuf::from(STORE_EXE).ancestors().nth(3).unwrap().to_path_buf();
        let got = locate_app(Host::MACOS_AARCH64, Path::new(STORE_EXE), &mac.folders(), None);
        assert_eq!(got.executable, hm);
        assert_eq!(got.source, AppSource::Installed { store_bundle: store_bundle.clone() });
        assert_eq!(got.cli, Some(hm.with_file_name("builderbar")));

        let nix_darwin = mac.bundle(&mac.root.join("Applications/Nix Apps/Builderbar.app"));
        assert_eq!(locate_app(Host::MACOS_AARCH64, Path::new(STORE_EXE), &mac.folders(), None).executable, nix_darwin);
        let copied = mac.bundle(&mac.root.join("Applications/Builderbar.app"));
        let got = locate_app(Host::MACOS_AARCH64, Path::new(STORE_EXE), &mac.folders(), None);
        assert_eq!(got.executable, copied);
        assert_eq!(got.source, AppSource::Installed { store_bundle });
    }

    #[test]
    fn from_the_store_with_nothing_installed_the_path_may_go_stale() {
        let mac = Mac::new();
        let got = locate_app(Host::MACOS_X86_64, Path::new(STORE_EXE), &mac.folders(), None);
        assert_eq!(got.executable, Path::new(STORE_EXE));
        assert_eq!(got.source, AppSource::NixStore);
        assert!(got.may_go_stale());
        assert_eq!(got.cli, None, "the store path does not exist here");
    }

    #[test]
    fn outside_a_bundle_and_on_linux_the_executable_itself() {
        let mac = Mac::new();
        let exe = mac.root.join("target/debug/builderbar-app");
        touch(&exe);
        touch(&exe.with_file_name("builderbar"));
        let got = locate_app(Host::MACOS_AARCH64, &exe, &mac.folders(), None);
        assert_eq!((got.executable.clone(), got.source), (exe.clone(), AppSource::Plain));
        assert_eq!(got.cli, Some(exe.with_file_name("builderbar")));
        let got = locate_app(Host::LINUX_X86_64, &exe, &[], None);
        assert_eq!(got.executable, exe);
        let image = Path::new("/home/alice/Builderbar.AppImage");
        assert_eq!(locate_app(Host::LINUX_X86_64, &exe, &[], Some(image)).executable, image);
        // A directory merely named like a bundle part is not a bundle.
        let odd = mac.root.join("Contents/MacOS/builderbar-app");
        assert_eq!(locate_app(Host::MACOS_AARCH64, &odd, &mac.folders(), None).source, AppSource::Plain);
    }
}
