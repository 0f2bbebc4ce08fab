//! Start at login follows `Settings.start_at_login` (off by default, opt-in). The login item
//! (a LaunchAgent on macOS, an XDG autostart entry on Linux, written by the `auto-launch`
//! crate) names the app's stable path from `core::app_location`: the installed bundle, not
//! the /nix/store path the running executable may have, which an update or a GC removes.
//! (tauri-plugin-autostart wraps the same crate but always records the canonical current
//! executable, so it is not used.)

use std::path::{Path, PathBuf};

use auto_launch::{AutoLaunchBuilder, MacOSLaunchMode};
use builderbar_core::app_location::{application_folders, locate_app, AppLocation};
use builderbar_core::host::{Host, Os};
use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

/// Managed by the real app: the login item is written only there (tests under the mock
/// runtime leave the user's login items alone).
pub struct LoginItems;

/// The login item's name: the LaunchAgent's label and file (`Builderbar.plist`), as
/// tauri-plugin-autostart named it, so an item written by an older version is replaced.
pub const LOGIN_ITEM: &str = "Builderbar";

/// Start only in the user's GUI session, as an app the user interacts with.
const AGENT_EXTRA: &str = "<key>LimitLoadToSessionType</key>\n  <string>Aqua</string>\n  \
                           <key>ProcessType</key>\n  <string>Interactive</string>";

/// Where the running app is, as a path worth recording.
pub fn app_location(host: Host, home: &Path) -> Option<AppLocation> {
    let exe = std::env::current_exe().ok()?;
    let folders = application_folders(Path::new("/"), home);
    let appimage = std::env::var_os("APPIMAGE").map(PathBuf::from);
    Some(locate_app(host, &exe, &folders, appimage.as_deref()))
}

/// The file auto-launch 0.6 writes the login item to (its `get_file` and
/// `get_xdg_desktop_file`: `$HOME/Library/LaunchAgents`, `$HOME/.config/autostart`).
pub fn login_item_file(host: Host, home: &Path) -> PathBuf {
    match host.os {
        Os::Macos => home.join("Library/LaunchAgents").join(format!("{LOGIN_ITEM}.plist")),
        Os::Linux => home.join(".config/autostart").join(format!("{LOGIN_ITEM}.desktop")),
    }
}

/// The program an existing login item starts, as it was written.
pub fn recorded_program(host: Host, item: &[u8]) -> Option<String> {
    match host.os {
        Os::Macos => {
            let v: plist::Value = plist::from_bytes(item).ok()?;
            v.as_dictionary()?.get("ProgramArguments")?.as_array()?.first()?.as_string().map(String::from)
        }
        // auto-launch writes `Exec=<path> <args>`; we pass no arguments.
        Os::Linux => String::from_utf8_lossy(item)
            .lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .map(|rest| rest.trim_end().to_string()),
    }
}

/// Makes the login item match `on`: written (or rewritten, when it names another path, such
/// as a store path from an earlier version) or removed.
pub fn follow<R: Runtime>(app: &AppHandle<R>, on: bool) {
    if app.try_state::<LoginItems>().is_none() {
        return;
    }
    let host = app.state::<AppState>().ctx().host;
    set_login_item(host, &app.config().identifier, on);
}

fn set_login_item(host: Host, identifier: &str, on: bool) {
    let home = builderbar_core::paths::PathEnv::from_process().home;
    let file = login_item_file(host, &home);
    if !on {
        if file.exists() {
            if let Err(e) = std::fs::remove_file(&file) {
                tracing::warn!("cannot remove the login item {}: {e}", file.display());
            }
        }
        return;
    }
    let Some(app) = app_location(host, &home) else {
        tracing::warn!("cannot tell where the app runs from; start at login is not set up");
        return;
    };
    let program = app.executable.to_string_lossy().into_owned();
    if std::fs::read(&file).ok().and_then(|b| recorded_program(host, &b)).as_deref() == Some(program.as_str()) {
        return;
    }
    if app.may_go_stale() {
        tracing::warn!(
            "start at login records {program}, a Nix store path that goes away after an update or garbage \
             collection; install Builderbar.app in /Applications (or let nix-darwin or home-manager link it) \
             and it records that path instead"
        );
    }
    let mut builder = AutoLaunchBuilder::new();
    builder
        .set_app_name(LOGIN_ITEM)
        .set_app_path(&program)
        .set_macos_launch_mode(MacOSLaunchMode::LaunchAgent)
        .set_bundle_identifiers(&[identifier])
        .set_agent_extra_config(AGENT_EXTRA);
    match builder.build().map(|l| l.enable()) {
        Ok(Ok(())) => tracing::info!(program, "start at login set"),
        Ok(Err(e)) | Err(e) => tracing::warn!("cannot set start at login: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A LaunchAgent as auto-launch 0.6 writes it (`build_launch_agent_plist`), for a bundle
    /// that lived in the Nix store.
    const STALE_AGENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <dict>
  <key>Label</key>
  <string>Builderbar</string>
  <key>AssociatedBundleIdentifiers</key>
  <array><string>dev.builderbar.Builderbar</string></array>
  <key>ProgramArguments</key>
  <array><string>/nix/store/0123abcd-builderbar-0.1.0/Applications/Builderbar.app/Contents/MacOS/builderbar-app</string></array>
  <key>RunAtLoad</key>
  <true/>
  <key>LimitLoadToSessionType</key>
  <string>Aqua</string>
  </dict>
</plist>"#;

    #[test]
    fn reads_back_the_program_a_login_item_starts() {
        assert_eq!(
            recorded_program(Host::MACOS_AARCH64, STALE_AGENT.as_bytes()).as_deref(),
            Some("/nix/store/0123abcd-builderbar-0.1.0/Applications/Builderbar.app/Contents/MacOS/builderbar-app")
        );
        let desktop = "[Desktop Entry]\nType=Application\nVersion=1.0\nName=Builderbar\n\
                       Comment=Builderbar startup script\nExec=/opt/builderbar/builderbar-app \n";
        assert_eq!(
            recorded_program(Host::LINUX_X86_64, desktop.as_bytes()).as_deref(),
            Some("/opt/builderbar/builderbar-app")
        );
        assert_eq!(recorded_program(Host::MACOS_AARCH64, b"not a plist"), None);
    }

    #[test]
    fn the_login_item_lives_where_auto_launch_writes_it() {
        let home = Path::new("/Users/alice");
        assert_eq!(
            login_item_file(Host::MACOS_AARCH64, home),
            Path::new("/Users/alice/Library/LaunchAgents/Builderbar.plist")
        );
        assert_eq!(
            login_item_file(Host::LINUX_X86_64, Path::new("/home/alice")),
            Path::new("/home/alice/.config/autostart/Builderbar.desktop")
        );
    }

    #[test]
    fn the_extra_agent_keys_are_valid_plist() {
        let text = STALE_AGENT
            .replace("<key>LimitLoadToSessionType</key>\n  <string>Aqua</string>\n", &format!("{AGENT_EXTRA}\n"));
        let v: plist::Value = plist::from_bytes(text.as_bytes()).unwrap();
        let d = v.as_dictionary().unwrap();
        assert_eq!(d.get("LimitLoadToSessionType").and_then(|v| v.as_string()), Some("Aqua"));
        assert_eq!(d.get("ProcessType").and_then(|v| v.as_string()), Some("Interactive"));
    }
}
