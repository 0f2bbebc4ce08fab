//! How the script gets root: osascript in a macOS GUI session, sudo in a terminal (macOS over
//! SSH, Linux without a desktop), pkexec in a Linux desktop session, nothing when root.

use std::ffi::OsString;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::runner::{CommandRunner, CommandSpec, SystemRunner};
use super::PrivilegedError;
use crate::host::{Host, Os};

/// The way to run the script as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Elevation {
    /// macOS GUI session: `osascript` with `do shell script ... with administrator privileges`.
    Osascript,
    /// Linux desktop session: polkit's `pkexec`.
    Pkexec,
    /// A terminal: Linux without a desktop, or macOS over SSH (no dialog can appear there).
    Sudo,
    /// Already root: run the script directly.
    None,
}

/// The facts the choice depends on, captured once so tests can supply their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElevationEnv {
    pub euid: u32,
    /// DISPLAY or WAYLAND_DISPLAY is set: a desktop session, where a polkit agent can prompt.
    pub graphical: bool,
    pub has_pkexec: bool,
    pub has_sudo: bool,
    /// SSH_CONNECTION, SSH_CLIENT or SSH_TTY is set: this process runs in a login over SSH.
    pub ssh: bool,
    /// macOS: the launchd session this process belongs to, as `launchctl managername` names it:
    /// `Aqua` in a GUI login (Terminal.app, the app), `Background` over SSH. `None` when not
    /// asked (Linux) or launchctl did not answer.
    pub launchd_session: Option<String>,
}

/// The session type of a GUI login (launchd.plist(5), `LimitLoadToSessionType`).
pub const AQUA_SESSION: &str = "Aqua";

impl ElevationEnv {
    pub fn from_process(host: Host) -> ElevationEnv {
        let euid = rustix::process::geteuid().as_raw();
        ElevationEnv::capture(host, euid, &|k| std::env::var_os(k), &SystemRunner::default())
    }

    /// The facts for `host`, from environment variables (`var`) and, on macOS, the answer of
    /// `launchctl managername` through `runner`.
    pub fn capture(
        host: Host,
        euid: u32,
        var: &dyn Fn(&str) -> Option<OsString>,
        runner: &dyn CommandRunner,
    ) -> ElevationEnv {
        let set = |k: &str| var(k).is_some_and(|v| !v.is_empty());
        let path = var("PATH").unwrap_or_default();
        let on_path = |name: &str| std::env::split_paths(&path).any(|d| is_executable(&d.join(name)));
        let launchd_session = match host.os {
            Os::Macos => runner
                .run(&CommandSpec::new(vec!["launchctl".into(), "managername".into()]))
                .ok()
                .filter(|o| o.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|s| !s.is_empty()),
            Os::Linux => None,
        };
        ElevationEnv {
            euid,
            graphical: set("DISPLAY") || set("WAYLAND_DISPLAY"),
            has_pkexec: on_path("pkexec"),
            has_sudo: on_path("sudo"),
            ssh: ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"].iter().any(|k| set(k)),
            launchd_session,
        }
    }

    /// macOS: whether the administrator dialog can appear, i.e. this process is in the user's
    /// GUI (Aqua) session. launchd's answer decides; without one, a login over SSH has none.
    pub fn gui_session(&self) -> bool {
        match &self.launchd_session {
            Some(s) => s == AQUA_SESSION,
            None => !self.ssh,
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
    /// Root needs nothing; macOS asks through osascript's dialog in a GUI session and through
    /// sudo in the terminal otherwise (over SSH no dialog can appear: osascript would fail or
    /// wait on a screen nobody sees); Linux uses pkexec in a desktop session and sudo otherwise
    /// (falling back to whichever exists).
    pub fn choose(host: Host, env: &ElevationEnv) -> Result<Elevation, PrivilegedError> {
        if env.euid == 0 {
            return Ok(Elevation::None);
        }
        match host.os {
            Os::Macos if env.gui_session() => Ok(Elevation::Osascript),
            Os::Macos if env.has_sudo => Ok(Elevation::Sudo),
            Os::Macos => Err(PrivilegedError::NoElevation),
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
                // Ends osascript's options: the prompt and the script's arguments are `argv` of
                // the run handler even when one starts with `-`.
                v.push("--".into());
                v.push(prompt.into());
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
                "--",
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
    fn a_prompt_or_argument_starting_with_a_dash_stays_an_argument() {
        let args: Vec<OsString> = vec!["-e".into(), "--version".into()];
        let v = strings(&Elevation::Osascript.command("-l JavaScript", &args));
        let after = v.iter().rposition(|a| a == "--").unwrap();
        assert_eq!(v[after - 1], "end run", "`--` follows the last statement");
        assert_eq!(v[after + 1..], ["-l JavaScript", "-e", "--version"]);
    }

    #[test]
    fn choice_follows_host_and_environment() {
        let env = |euid, graphical, has_pkexec, has_sudo| ElevationEnv {
            euid,
            graphical,
            has_pkexec,
            has_sudo,
            ..ElevationEnv::default()
        };
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

    /// `var` for `capture` from fixed pairs, with PATH holding an executable `sudo`.
    fn vars(pairs: &[(&str, &str)], bin: &Path) -> impl Fn(&str) -> Option<OsString> {
        let mut all: Vec<(String, OsString)> = pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        all.push(("PATH".into(), bin.as_os_str().to_owned()));
        move |k| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn sudo_in(dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.join("sudo"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join("sudo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    // What `launchctl managername` prints: "Aqua" in Terminal.app, "Background" in a login
    // over SSH (the same user, another launchd session).
    const MANAGERNAME_AQUA: &str = "Aqua\n";
    const MANAGERNAME_SSH: &str = "Background\n";
    const SSH_VARS: [(&str, &str); 3] = [
        ("SSH_CONNECTION", "192.0.2.7 50022 192.0.2.1 22"),
        ("SSH_CLIENT", "192.0.2.7 50022 22"),
        ("SSH_TTY", "/dev/ttys003"),
    ];

    #[test]
    fn over_ssh_a_mac_asks_for_the_password_with_sudo_in_the_terminal() {
        use crate::privileged::runner::{CommandOutput, RecordingRunner};
        let bin = tempfile::tempdir().unwrap();
        sudo_in(bin.path());
        let mac = Host::MACOS_AARCH64;

        let r = RecordingRunner::new();
        r.reply(Ok(CommandOutput::ok(MANAGERNAME_SSH)));
        let env = ElevationEnv::capture(mac, 501, &vars(&SSH_VARS, bin.path()), &r);
        assert_eq!(r.calls().iter().map(|c| c.argv_lossy()).collect::<Vec<_>>(), [["launchctl", "managername"]]);
        assert_eq!(
            env,
            ElevationEnv {
                euid: 501,
                graphical: false,
                has_pkexec: false,
                has_sudo: true,
                ssh: true,
                launchd_session: Some("Background".into())
            }
        );
        let e = Elevation::choose(mac, &env).unwrap();
        assert_eq!(e, Elevation::Sudo);
        assert_eq!(
            strings(&e.command("Builderbar wants to connect Nix", &argv())),
            [
                "sudo",
                "-p",
                "Builderbar wants to connect Nix: ",
                "--",
                "/bin/sh",
                "-c",
                "SCRIPT",
                "builderbar-apply",
                "/tmp/s t"
            ]
        );

        // Terminal.app on the Mac itself: the dialog.
        let r = RecordingRunner::new();
        r.reply(Ok(CommandOutput::ok(MANAGERNAME_AQUA)));
        let env = ElevationEnv::capture(mac, 501, &vars(&[], bin.path()), &r);
        assert_eq!(Elevation::choose(mac, &env).unwrap(), Elevation::Osascript);
        // SSH variables left over in a GUI session (say, a tmux server started over SSH,
        // attached in Terminal.app): launchd's answer decides.
        let r = RecordingRunner::new();
        r.reply(Ok(CommandOutput::ok(MANAGERNAME_AQUA)));
        let env = ElevationEnv::capture(mac, 501, &vars(&SSH_VARS, bin.path()), &r);
        assert_eq!(Elevation::choose(mac, &env).unwrap(), Elevation::Osascript);
        // No answer from launchctl: the SSH variables decide.
        let r = RecordingRunner::new();
        r.reply(Ok(CommandOutput::failed(1, "")));
        let env = ElevationEnv::capture(mac, 501, &vars(&SSH_VARS[..1], bin.path()), &r);
        assert_eq!((env.launchd_session.clone(), Elevation::choose(mac, &env).unwrap()), (None, Elevation::Sudo));
        let r = RecordingRunner::new();
        r.reply(Err(std::io::ErrorKind::NotFound.into()));
        let env = ElevationEnv::capture(mac, 501, &vars(&[], bin.path()), &r);
        assert_eq!(Elevation::choose(mac, &env).unwrap(), Elevation::Osascript);
        // Over SSH without sudo there is no way to ask.
        let empty = tempfile::tempdir().unwrap();
        let r = RecordingRunner::new();
        r.reply(Ok(CommandOutput::ok(MANAGERNAME_SSH)));
        let env = ElevationEnv::capture(mac, 501, &vars(&SSH_VARS, empty.path()), &r);
        assert!(matches!(Elevation::choose(mac, &env), Err(PrivilegedError::NoElevation)));
        // Root over SSH needs nothing.
        assert_eq!(Elevation::choose(mac, &ElevationEnv { euid: 0, ..env }).unwrap(), Elevation::None);
    }

    #[test]
    fn linux_does_not_ask_launchd() {
        use crate::privileged::runner::RecordingRunner;
        let bin = tempfile::tempdir().unwrap();
        sudo_in(bin.path());
        let r = RecordingRunner::new();
        let env = ElevationEnv::capture(Host::LINUX_X86_64, 1000, &vars(&SSH_VARS, bin.path()), &r);
        assert!(r.calls().is_empty());
        assert!(env.ssh && env.launchd_session.is_none());
        assert_eq!(Elevation::choose(Host::LINUX_X86_64, &env).unwrap(), Elevation::Sudo);
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
