//! How the script gets root: osascript on macOS, pkexec or sudo on Linux, nothing when root.

use std::ffi::OsString;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::runner::CommandSpec;
use super::PrivilegedError;
use crate::host::{Host, Os};

/// The way to run the script as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Elevation {
    /// macOS: `osascript` with `do shell script ... with administrator privileges`.
    Osascript,
    /// Linux desktop session: polkit's `pkexec`.
    Pkexec,
    /// Linux terminal: `sudo`.
    Sudo,
    /// Already root: run the script directly.
    None,
}

/// The facts the choice depends on, captured once so tests can supply their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevationEnv {
    pub euid: u32,
    /// DISPLAY or WAYLAND_DISPLAY is set: a desktop session, where a polkit agent can prompt.
    pub graphical: bool,
    pub has_pkexec: bool,
    pub has_sudo: bool,
}

impl ElevationEnv {
    pub fn from_process() -> ElevationEnv {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        let path = std::env::var_os("PATH").unwrap_or_default();
        let on_path = |name: &str| std::env::split_paths(&path).any(|d| is_executable(&d.join(name)));
        ElevationEnv {
            euid: rustix::process::geteuid().as_raw(),
            graphical: set("DISPLAY") || set("WAYLAND_DISPLAY"),
            has_pkexec: on_path("pkexec"),
            has_sudo: on_path("sudo"),
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The AppleScript, one `-e` per line. It holds no data: the prompt is `item 1 of argv` and
/// the command is built from the remaining items with `quoted form of`, so no value is ever
/// spliced into AppleScript or shell source.
pub const APPLESCRIPT: [&str; 7] = [
    "on run argv",
    "set theCommand to \"\"",
    "repeat with i from 2 to count of argv",
    "set theCommand to theCommand & quoted form of (item i of argv) & \" \"",
    "end repeat",
    "do shell script theCommand with administrator privileges with prompt (item 1 of argv)",
    "end run",
];

impl Elevation {
    /// Root needs nothing; macOS asks through osascript; Linux uses pkexec in a desktop session
    /// and sudo otherwise (falling back to whichever exists).
    pub fn choose(host: Host, env: &ElevationEnv) -> Result<Elevation, PrivilegedError> {
        if env.euid == 0 {
            return Ok(Elevation::None);
        }
        match host.os {
            Os::Macos => Ok(Elevation::Osascript),
            Os::Linux => match (env.graphical, env.has_pkexec, env.has_sudo) {
                (true, true, _) => Ok(Elevation::Pkexec),
                (_, _, true) => Ok(Elevation::Sudo),
                (_, true, false) => Ok(Elevation::Pkexec),
                (_, false, false) => Err(PrivilegedError::NoElevation),
            },
        }
    }

    /// `osascript`, `pkexec`, `sudo`, `none` (for a flag or a setting).
    pub fn parse(s: &str) -> Option<Elevation> {
        match s {
            "osascript" => Some(Elevation::Osascript),
            "pkexec" => Some(Elevation::Pkexec),
            "sudo" => Some(Elevation::Sudo),
            "none" => Some(Elevation::None),
            _ => None,
        }
    }

    /// The tool's name, for messages.
    pub fn tool(self) -> &'static str {
        match self {
            Elevation::Osascript => "osascript",
            Elevation::Pkexec => "pkexec",
            Elevation::Sudo => "sudo",
            Elevation::None => "sh",
        }
    }

    /// The command that runs `argv` as root, asking with `prompt` where the tool can show one.
    pub fn command(self, prompt: &str, argv: &[OsString]) -> CommandSpec {
        let mut v: Vec<OsString> = Vec::new();
        match self {
            Elevation::Osascript => {
                v.push("osascript".into());
                for line in APPLESCRIPT {
                    v.push("-e".into());
                    v.push(line.into());
                }
                // The first argument after the statements; a leading `-` would read as an option.
                v.push(prompt.trim_start_matches('-').into());
            }
            Elevation::Pkexec => v.push("pkexec".into()),
            Elevation::Sudo => {
                v.extend(["sudo".into(), "-p".into(), format!("{}: ", prompt.replace('%', "%%")).into(), "--".into()]);
            }
            Elevation::None => {}
        }
        v.extend(argv.iter().cloned());
        CommandSpec::new(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv() -> Vec<OsString> {
        vec!["/bin/sh".into(), "-c".into(), "SCRIPT".into(), "builderbar-apply".into(), "/tmp/s t".into()]
    }

    fn strings(c: &CommandSpec) -> Vec<String> {
        assert!(c.env.is_empty());
        c.argv_lossy()
    }

    #[test]
    fn osascript_command_line_is_exact() {
        let c = Elevation::Osascript.command("Builderbar wants to \"update\" /etc/nix.", &argv());
        assert_eq!(
            strings(&c),
            [
                "osascript",
                "-e",
                "on run argv",
                "-e",
                "set theCommand to \"\"",
                "-e",
                "repeat with i from 2 to count of argv",
                "-e",
                "set theCommand to theCommand & quoted form of (item i of argv) & \" \"",
                "-e",
                "end repeat",
                "-e",
                "do shell script theCommand with administrator privileges with prompt (item 1 of argv)",
                "-e",
                "end run",
                "Builderbar wants to \"update\" /etc/nix.",
                "/bin/sh",
                "-c",
                "SCRIPT",
                "builderbar-apply",
                "/tmp/s t",
            ]
        );
    }

    #[test]
    fn pkexec_sudo_and_none_argv_are_exact() {
        assert_eq!(
            strings(&Elevation::Pkexec.command("p", &argv())),
            ["pkexec", "/bin/sh", "-c", "SCRIPT", "builderbar-apply", "/tmp/s t"]
        );
        assert_eq!(
            strings(&Elevation::Sudo.command("Builderbar needs 100% of your password", &argv())),
            [
                "sudo",
                "-p",
                "Builderbar needs 100%% of your password: ",
                "--",
                "/bin/sh",
                "-c",
                "SCRIPT",
                "builderbar-apply",
                "/tmp/s t"
            ]
        );
        assert_eq!(
            strings(&Elevation::None.command("p", &argv())),
            ["/bin/sh", "-c", "SCRIPT", "builderbar-apply", "/tmp/s t"]
        );
    }

    #[test]
    fn choice_follows_host_and_environment() {
        let env = |euid, graphical, has_pkexec, has_sudo| ElevationEnv { euid, graphical, has_pkexec, has_sudo };
        let mac = Host::MACOS_AARCH64;
        let linux = Host::LINUX_X86_64;
        assert_eq!(Elevation::choose(mac, &env(501, false, false, true)).unwrap(), Elevation::Osascript);
        assert_eq!(Elevation::choose(mac, &env(0, false, false, false)).unwrap(), Elevation::None);
        assert_eq!(Elevation::choose(linux, &env(0, true, true, true)).unwrap(), Elevation::None);
        assert_eq!(Elevation::choose(linux, &env(1000, true, true, true)).unwrap(), Elevation::Pkexec);
        assert_eq!(Elevation::choose(linux, &env(1000, false, true, true)).unwrap(), Elevation::Sudo);
        assert_eq!(Elevation::choose(linux, &env(1000, true, false, true)).unwrap(), Elevation::Sudo);
        assert_eq!(Elevation::choose(linux, &env(1000, false, true, false)).unwrap(), Elevation::Pkexec);
        assert!(matches!(Elevation::choose(linux, &env(1000, false, false, false)), Err(PrivilegedError::NoElevation)));
    }

    #[test]
    fn parses_names() {
        for e in [Elevation::Osascript, Elevation::Pkexec, Elevation::Sudo] {
            assert_eq!(Elevation::parse(e.tool()), Some(e));
        }
        assert_eq!(Elevation::parse("none"), Some(Elevation::None));
        assert_eq!(Elevation::parse("doas"), None);
    }
}
