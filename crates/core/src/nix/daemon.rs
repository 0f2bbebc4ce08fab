//! `DaemonService`: what runs the nix-daemon on this host (and so how a Plan restarts it), and
//! whether a change needs a restart.
//!
//! Finding (docs/nix-wiring.md, measured with nix 2.8): the daemon reads nix.conf once, at
//! start, and each forked worker inherits those settings (a client does not forward the values
//! it read from the system nix.conf). The machines file named by `builders = @FILE` is read
//! again whenever a build needs builders, so a machines-file-only change takes effect without a
//! restart. ssh reads ssh_config on every connection. Hence: restart only when nix.conf's
//! meaning changes.

use std::path::{Path, PathBuf};

use super::conf::{ConfLine, NixConf};
use crate::host::{Host, Os};
use crate::privileged::{CommandRunner, CommandSpec, DaemonRestart};

/// launchd label of the upstream (and nix-darwin) daemon.
pub const LAUNCHD_NIX_DAEMON: &str = "org.nixos.nix-daemon";
/// launchd label of Determinate Nix's daemon.
pub const LAUNCHD_DETERMINATE_DAEMON: &str = "systems.determinate.nix-daemon";
/// The labels we know, in the order a tie is broken (Determinate's daemon owns the socket
/// when both are loaded).
pub const LAUNCHD_LABELS: [&str; 2] = [LAUNCHD_DETERMINATE_DAEMON, LAUNCHD_NIX_DAEMON];

/// What runs the daemon, and so how it is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonService {
    /// macOS, a job launchd has loaded: `launchctl kickstart -k system/<label>`; when that
    /// fails, `launchctl bootout` and `launchctl bootstrap` of its plist.
    Launchd { label: String, plist: PathBuf },
    /// Linux with systemd: `systemctl restart <unit>`.
    Systemd { unit: String },
    /// A daemon socket exists but no service manager we know runs it: the user restarts it.
    Manual { socket: PathBuf },
    /// Single-user Nix: no daemon, every nix command reads the config itself.
    NoDaemon,
    /// macOS: a daemon is installed (its plist is in /Library/LaunchDaemons) but launchd has
    /// none of our labels loaded, so nothing would read the new nix.conf and no build could
    /// reach the builder. `why` is what launchctl said.
    NotLoaded { plists: Vec<PathBuf>, why: String },
}

impl DaemonService {
    /// The restart a Plan runs (as root): [`DaemonService::argv`] and its fallback; `None` when
    /// there is nothing to run.
    pub fn restart(&self) -> Option<DaemonRestart> {
        self.argv().map(|argv| DaemonRestart { argv, fallback: self.fallback() })
    }

    /// The command to run (as root), as an argv vector; `None` when there is nothing to run.
    pub fn argv(&self) -> Option<Vec<String>> {
        match self {
            DaemonService::Launchd { label, .. } => {
                Some(vec!["launchctl".into(), "kickstart".into(), "-k".into(), format!("system/{label}")])
            }
            DaemonService::Systemd { unit } => Some(vec!["systemctl".into(), "restart".into(), unit.clone()]),
            DaemonService::Manual { .. } | DaemonService::NoDaemon | DaemonService::NotLoaded { .. } => None,
        }
    }

    /// What runs, in order, when [`DaemonService::argv`] fails. `kickstart -k` fails when the
    /// job is gone from launchd or wedged; unloading it (`bootout`, which fails harmlessly when
    /// it is already gone) and loading its plist again (`bootstrap`) starts it afresh, with the
    /// new nix.conf. The last command's exit status decides.
    pub fn fallback(&self) -> Vec<Vec<String>> {
        match self {
            DaemonService::Launchd { label, plist } => vec![
                vec!["launchctl".into(), "bootout".into(), format!("system/{label}")],
                vec!["launchctl".into(), "bootstrap".into(), "system".into(), plist.display().to_string()],
            ],
            _ => Vec::new(),
        }
    }

    /// What to tell the user when we cannot restart it ourselves.
    pub fn manual_hint(&self) -> Option<String> {
        match self {
            DaemonService::Manual { socket } => Some(format!(
                "A nix-daemon listens on {} but no launchd or systemd service for it was found: \
                 restart it yourself so it reads the new nix.conf.",
                socket.display()
            )),
            _ => None,
        }
    }
}

/// The failure to ask launchd at all (launchctl could not be run).
#[derive(Debug, thiserror::Error)]
#[error("cannot ask launchd which Nix daemon runs (`launchctl print system/{label}`): {source}")]
pub struct LaunchctlError {
    pub label: String,
    #[source]
    pub source: std::io::Error,
}

/// What `launchctl print system/<label>` said about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchdJob {
    pub label: String,
    /// The plist launchd loaded the job from (`path = ...`).
    pub plist: Option<PathBuf>,
    /// `running`, `not running`, `waiting`, ... (`state = ...`).
    pub state: Option<String>,
}

impl LaunchdJob {
    /// Reads the job's own top-level properties from `launchctl print` output; the same keys
    /// inside nested blocks (sockets, coalitions) are not the job's.
    pub fn parse(label: &str, stdout: &str) -> LaunchdJob {
        let mut job = LaunchdJob { label: label.into(), plist: None, state: None };
        let mut depth = 0usize;
        for line in stdout.lines() {
            let line = line.trim();
            if line == "}" {
                depth = depth.saturating_sub(1);
                continue;
            }
            if depth == 1 {
                if let Some((key, value)) = line.split_once(" = ") {
                    match key {
                        "path" if job.plist.is_none() => job.plist = Some(PathBuf::from(value)),
                        "state" if job.state.is_none() => job.state = Some(value.into()),
                        _ => {}
                    }
                }
            }
            if line.ends_with('{') {
                depth += 1;
            }
        }
        job
    }
}

/// Where to look. Every path is a parameter so tests use temporary trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonProbe {
    /// macOS: `/Library/LaunchDaemons`.
    pub launch_daemons_dir: PathBuf,
    /// Linux: exists when systemd is PID 1 (`/run/systemd/system`).
    pub systemd_run_dir: PathBuf,
    /// Linux: where unit files live.
    pub systemd_unit_dirs: Vec<PathBuf>,
    /// The daemon's socket (`/nix/var/nix/daemon-socket/socket`).
    pub daemon_socket: PathBuf,
}

impl Default for DaemonProbe {
    fn default() -> DaemonProbe {
        DaemonProbe::under(Path::new("/"))
    }
}

impl DaemonProbe {
    /// The standard locations under `root` (`/` for the real machine, a temp dir in tests).
    pub fn under(root: &Path) -> DaemonProbe {
        DaemonProbe {
            launch_daemons_dir: root.join("Library/LaunchDaemons"),
            systemd_run_dir: root.join("run/systemd/system"),
            systemd_unit_dirs: [
                "etc/systemd/system",
                "run/systemd/system",
                "lib/systemd/system",
                "usr/lib/systemd/system",
            ]
            .iter()
            .map(|d| root.join(d))
            .collect(),
            daemon_socket: root.join("nix/var/nix/daemon-socket/socket"),
        }
    }

    /// What runs the daemon on `host`. On macOS the job is the one launchd has loaded,
    /// asked with `launchctl print system/<label>` through `runner` (reading the system
    /// domain needs no privileges); which plist files exist decides nothing, since a leftover
    /// plist of an uninstalled Nix (Determinate's, say) is not a loaded job.
    pub fn detect(&self, host: Host, runner: &dyn CommandRunner) -> Result<DaemonService, LaunchctlError> {
        match host.os {
            Os::Macos => {
                let mut loaded = Vec::new();
                let mut why = Vec::new();
                for label in LAUNCHD_LABELS {
                    let spec =
                        CommandSpec::new(vec!["launchctl".into(), "print".into(), format!("system/{label}").into()]);
                    let out = runner.run(&spec).map_err(|source| LaunchctlError { label: label.into(), source })?;
                    if out.success() {
                        loaded.push(LaunchdJob::parse(label, &String::from_utf8_lossy(&out.stdout)));
                    } else {
                        let said =
                            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().trim().to_string();
                        let code = out.code.map_or("a signal".to_string(), |c| format!("exit {c}"));
                        why.push(format!("system/{label}: {said} ({code})"));
                    }
                }
                // Both loaded would be two daemons racing for one socket: the running one serves.
                let running = loaded.iter().position(|j| j.state.as_deref() == Some("running"));
                if let Some(job) = running.or((!loaded.is_empty()).then_some(0)).map(|i| loaded.swap_remove(i)) {
                    let plist =
                        job.plist.unwrap_or_else(|| self.launch_daemons_dir.join(format!("{}.plist", job.label)));
                    return Ok(DaemonService::Launchd { label: job.label, plist });
                }
                let plists: Vec<PathBuf> = LAUNCHD_LABELS
                    .iter()
                    .map(|l| self.launch_daemons_dir.join(format!("{l}.plist")))
                    .filter(|p| p.exists())
                    .collect();
                if !plists.is_empty() {
                    return Ok(DaemonService::NotLoaded { plists, why: why.join("; ") });
                }
            }
            Os::Linux => {
                let unit_known = self
                    .systemd_unit_dirs
                    .iter()
                    .any(|d| d.join("nix-daemon.service").exists() || d.join("nix-daemon.socket").exists());
                if self.systemd_run_dir.is_dir() && unit_known {
                    return Ok(DaemonService::Systemd { unit: "nix-daemon".into() });
                }
            }
        }
        if std::fs::symlink_metadata(&self.daemon_socket).is_ok() {
            Ok(DaemonService::Manual { socket: self.daemon_socket.clone() })
        } else {
            Ok(DaemonService::NoDaemon)
        }
    }
}

/// The files our wiring writes, before or after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NixFiles<'a> {
    /// The nix.conf we edit (nix.custom.conf under Determinate).
    pub nix_conf: &'a [u8],
    pub machines: &'a [u8],
    pub ssh_config: &'a [u8],
}

/// What Nix sees in a nix.conf: its settings, includes and invalid lines, in order
/// (comments, blank lines, spacing and line endings do not count).
fn meaning(nix_conf: &[u8]) -> Vec<ConfLine> {
    NixConf::parse(nix_conf).lines().filter(|l| *l != ConfLine::Blank).collect()
}

/// Whether going from `old` to `new` needs a daemon restart: only when nix.conf's meaning
/// changes. The machines file is re-read per build and ssh_config per connection.
pub fn restart_needed(old: &NixFiles<'_>, new: &NixFiles<'_>) -> bool {
    meaning(old.nix_conf) != meaning(new.nix_conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    use crate::privileged::{CommandOutput, RecordingRunner};

    // Recorded outputs of `launchctl print` (see tests/fixtures/launchctl/README.md).
    const PRINT_UPSTREAM: &str = include_str!("../../tests/fixtures/launchctl/print-org.nixos.nix-daemon.txt");
    const PRINT_DETERMINATE: &str =
        include_str!("../../tests/fixtures/launchctl/print-systems.determinate.nix-daemon.txt");
    const NOT_LOADED: &str = include_str!("../../tests/fixtures/launchctl/print-not-loaded.stderr");

    fn loaded(stdout: &str) -> std::io::Result<CommandOutput> {
        Ok(CommandOutput::ok(stdout))
    }

    fn not_loaded(label: &str) -> std::io::Result<CommandOutput> {
        Ok(CommandOutput::failed(113, &NOT_LOADED.replace("LABEL", label)))
    }

    fn asked(r: &RecordingRunner) -> Vec<Vec<String>> {
        r.calls().iter().map(|c| c.argv_lossy()).collect()
    }

    const PRINTS: [[&str; 3]; 2] = [
        ["launchctl", "print", "system/systems.determinate.nix-daemon"],
        ["launchctl", "print", "system/org.nixos.nix-daemon"],
    ];

    #[test]
    fn argv_and_fallback_per_kind() {
        let upstream = DaemonService::Launchd {
            label: LAUNCHD_NIX_DAEMON.into(),
            plist: "/Library/LaunchDaemons/org.nixos.nix-daemon.plist".into(),
        };
        assert_eq!(upstream.argv().unwrap(), ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"]);
        assert_eq!(
            upstream.fallback(),
            [
                vec!["launchctl", "bootout", "system/org.nixos.nix-daemon"],
                vec!["launchctl", "bootstrap", "system", "/Library/LaunchDaemons/org.nixos.nix-daemon.plist"],
            ]
        );
        let sd = DaemonService::Systemd { unit: "nix-daemon".into() };
        assert_eq!(sd.argv().unwrap(), ["systemctl", "restart", "nix-daemon"]);
        assert!(sd.fallback().is_empty());
        assert_eq!(DaemonService::NoDaemon.argv(), None);
        assert_eq!(DaemonService::NotLoaded { plists: vec![], why: String::new() }.argv(), None);
        assert!(DaemonService::Manual { socket: "/s".into() }.manual_hint().unwrap().contains("/s"));
    }

    #[test]
    fn print_output_gives_the_jobs_own_plist_and_state() {
        let up = LaunchdJob::parse(LAUNCHD_NIX_DAEMON, PRINT_UPSTREAM);
        assert_eq!(up.plist.as_deref(), Some(Path::new("/Library/LaunchDaemons/org.nixos.nix-daemon.plist")));
        assert_eq!(up.state.as_deref(), Some("running"));
        // Determinate's sockets block has `path =` lines of its own, one level deeper.
        let det = LaunchdJob::parse(LAUNCHD_DETERMINATE_DAEMON, PRINT_DETERMINATE);
        assert_eq!(
            det.plist.as_deref(),
            Some(Path::new("/Library/LaunchDaemons/systems.determinate.nix-daemon.plist"))
        );
        assert_eq!(det.state.as_deref(), Some("running"));
        assert_eq!(LaunchdJob::parse("x", "").plist, None);
    }

    #[test]
    fn macos_picks_the_job_launchd_has_loaded() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        let r = RecordingRunner::new();
        r.reply(not_loaded(LAUNCHD_DETERMINATE_DAEMON)).reply(loaded(PRINT_UPSTREAM));
        assert_eq!(
            p.detect(Host::MACOS_AARCH64, &r).unwrap(),
            DaemonService::Launchd {
                label: LAUNCHD_NIX_DAEMON.into(),
                plist: "/Library/LaunchDaemons/org.nixos.nix-daemon.plist".into()
            }
        );
        assert_eq!(asked(&r), PRINTS);

        let r = RecordingRunner::new();
        r.reply(loaded(PRINT_DETERMINATE)).reply(not_loaded(LAUNCHD_NIX_DAEMON));
        assert_eq!(
            p.detect(Host::MACOS_X86_64, &r).unwrap(),
            DaemonService::Launchd {
                label: LAUNCHD_DETERMINATE_DAEMON.into(),
                plist: "/Library/LaunchDaemons/systems.determinate.nix-daemon.plist".into()
            }
        );
        assert_eq!(asked(&r), PRINTS);
    }

    #[test]
    fn a_leftover_determinate_plist_does_not_choose_the_label() {
        // The fault this probe fixes: Determinate's plist is still on disk after a switch to
        // the upstream installer, so picking by file kickstarted a job launchd does not know
        // (exit 113, after the files were written).
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        for label in LAUNCHD_LABELS {
            touch(&p.launch_daemons_dir.join(format!("{label}.plist")));
        }
        let r = RecordingRunner::new();
        r.reply(not_loaded(LAUNCHD_DETERMINATE_DAEMON)).reply(loaded(PRINT_UPSTREAM));
        let got = p.detect(Host::MACOS_AARCH64, &r).unwrap();
        assert_eq!(got.argv().unwrap(), ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"]);
    }

    #[test]
    fn both_loaded_the_running_one_wins_else_determinate() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        let waiting = PRINT_DETERMINATE.replacen("state = running", "state = not running", 1);
        let r = RecordingRunner::new();
        r.reply(loaded(&waiting)).reply(loaded(PRINT_UPSTREAM));
        assert!(
            matches!(p.detect(Host::MACOS_AARCH64, &r).unwrap(), DaemonService::Launchd { label, .. } if label == LAUNCHD_NIX_DAEMON)
        );
        let r = RecordingRunner::new();
        let upstream_waiting = PRINT_UPSTREAM.replacen("state = running", "state = not running", 1);
        r.reply(loaded(&waiting)).reply(loaded(&upstream_waiting));
        assert!(
            matches!(p.detect(Host::MACOS_AARCH64, &r).unwrap(), DaemonService::Launchd { label, .. } if label == LAUNCHD_DETERMINATE_DAEMON)
        );
    }

    #[test]
    fn a_plist_with_no_loaded_job_is_not_loaded_and_says_what_launchctl_said() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        let plist = p.launch_daemons_dir.join("org.nixos.nix-daemon.plist");
        touch(&plist);
        let r = RecordingRunner::new();
        r.reply(not_loaded(LAUNCHD_DETERMINATE_DAEMON)).reply(not_loaded(LAUNCHD_NIX_DAEMON));
        let got = p.detect(Host::MACOS_AARCH64, &r).unwrap();
        let DaemonService::NotLoaded { plists, why } = &got else { panic!("{got:?}") };
        assert_eq!(plists, &[plist]);
        assert_eq!(
            why,
            "system/systems.determinate.nix-daemon: Could not find service \"systems.determinate.nix-daemon\" \
             in domain for system (exit 113); system/org.nixos.nix-daemon: Could not find service \
             \"org.nixos.nix-daemon\" in domain for system (exit 113)"
        );
        assert_eq!(got.argv(), None);
        assert_eq!(asked(&r), PRINTS);
    }

    #[test]
    fn macos_without_a_daemon_is_single_user_and_launchctl_missing_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        let r = RecordingRunner::new();
        r.reply(not_loaded(LAUNCHD_DETERMINATE_DAEMON)).reply(not_loaded(LAUNCHD_NIX_DAEMON));
        assert_eq!(p.detect(Host::MACOS_AARCH64, &r).unwrap(), DaemonService::NoDaemon);
        let r = RecordingRunner::new();
        r.reply(Err(std::io::Error::from(std::io::ErrorKind::NotFound)));
        let e = p.detect(Host::MACOS_AARCH64, &r).unwrap_err();
        assert!(e.to_string().starts_with("cannot ask launchd which Nix daemon runs"), "{e}");
    }

    #[test]
    fn linux_systemd_needs_pid1_and_a_unit() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        assert_eq!(p.detect(Host::LINUX_X86_64, &RecordingRunner::new()).unwrap(), DaemonService::NoDaemon);
        touch(&t.path().join("lib/systemd/system/nix-daemon.service"));
        // Unit installed but systemd not running (a container): no systemctl.
        assert_eq!(p.detect(Host::LINUX_X86_64, &RecordingRunner::new()).unwrap(), DaemonService::NoDaemon);
        std::fs::create_dir_all(&p.systemd_run_dir).unwrap();
        assert_eq!(
            p.detect(Host::LINUX_X86_64, &RecordingRunner::new()).unwrap(),
            DaemonService::Systemd { unit: "nix-daemon".into() }
        );
    }

    #[test]
    fn a_socket_without_a_service_manager_is_manual() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        touch(&p.daemon_socket);
        assert_eq!(
            p.detect(Host::LINUX_X86_64, &RecordingRunner::new()).unwrap(),
            DaemonService::Manual { socket: p.daemon_socket.clone() }
        );
        // The launchd plist is ignored on Linux, the systemd unit on macOS.
        touch(&p.launch_daemons_dir.join("org.nixos.nix-daemon.plist"));
        assert!(matches!(p.detect(Host::LINUX_X86_64, &RecordingRunner::new()).unwrap(), DaemonService::Manual { .. }));
    }

    #[test]
    fn only_nix_conf_meaning_needs_a_restart() {
        let old = NixFiles { nix_conf: b"builders = @/etc/nix/machines\n", machines: b"", ssh_config: b"" };
        let machines_only = NixFiles { machines: b"ssh-ng://b@x x86_64-linux\n", ssh_config: b"Host x\n", ..old };
        assert!(!restart_needed(&old, &machines_only));
        let cosmetic = NixFiles { nix_conf: b"# hi\r\nbuilders   =  @/etc/nix/machines  # ours\r\n\n", ..old };
        assert!(!restart_needed(&old, &cosmetic));
        let changed = NixFiles { nix_conf: b"builders = @/etc/nix/machines\nbuilders-use-substitutes = true\n", ..old };
        assert!(restart_needed(&old, &changed));
        let include = NixFiles { nix_conf: b"builders = @/etc/nix/machines\n!include x.conf\n", ..old };
        assert!(restart_needed(&old, &include));
    }
}
