//! `DaemonService`: what runs the nix-daemon on this host (and so how it restarts), and whether
//! a change needs a restart.
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
use crate::privileged::DaemonRestart;

/// launchd label of the upstream (and nix-darwin) daemon.
pub const LAUNCHD_NIX_DAEMON: &str = "org.nixos.nix-daemon";
/// launchd label of Determinate Nix's daemon.
pub const LAUNCHD_DETERMINATE_DAEMON: &str = "systems.determinate.nix-daemon";

/// What runs the daemon, and so how it is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonService {
    /// macOS: `launchctl kickstart -k system/<label>`.
    Launchd { label: String },
    /// Linux with systemd: `systemctl restart <unit>`.
    Systemd { unit: String },
    /// A daemon socket exists but no service manager we know runs it: the user restarts it.
    Manual { socket: PathBuf },
    /// Single-user Nix: no daemon, every nix command reads the config itself.
    NoDaemon,
}

impl DaemonService {
    /// The restart a Plan runs (as root); `None` when there is nothing to run.
    pub fn restart(&self) -> Option<DaemonRestart> {
        match self {
            DaemonService::Launchd { label } => Some(DaemonRestart::launchctl_kickstart(label)),
            DaemonService::Systemd { unit } => Some(DaemonRestart::systemctl_restart(unit)),
            DaemonService::Manual { .. } | DaemonService::NoDaemon => None,
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

    /// What runs the daemon on `host`.
    pub fn detect(&self, host: Host) -> DaemonService {
        match host.os {
            Os::Macos => {
                for label in [LAUNCHD_DETERMINATE_DAEMON, LAUNCHD_NIX_DAEMON] {
                    if self.launch_daemons_dir.join(format!("{label}.plist")).exists() {
                        return DaemonService::Launchd { label: label.into() };
                    }
                }
            }
            Os::Linux => {
                let unit_known = self
                    .systemd_unit_dirs
                    .iter()
                    .any(|d| d.join("nix-daemon.service").exists() || d.join("nix-daemon.socket").exists());
                if self.systemd_run_dir.is_dir() && unit_known {
                    return DaemonService::Systemd { unit: "nix-daemon".into() };
                }
            }
        }
        if std::fs::symlink_metadata(&self.daemon_socket).is_ok() {
            DaemonService::Manual { socket: self.daemon_socket.clone() }
        } else {
            DaemonService::NoDaemon
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

    #[test]
    fn argv_per_kind() {
        let upstream = DaemonService::Launchd { label: LAUNCHD_NIX_DAEMON.into() };
        assert_eq!(upstream.restart().unwrap().argv, ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"]);
        let det = DaemonService::Launchd { label: LAUNCHD_DETERMINATE_DAEMON.into() };
        assert_eq!(
            det.restart().unwrap().argv,
            ["launchctl", "kickstart", "-k", "system/systems.determinate.nix-daemon"]
        );
        let sd = DaemonService::Systemd { unit: "nix-daemon".into() };
        assert_eq!(sd.restart().unwrap().argv, ["systemctl", "restart", "nix-daemon"]);
        assert_eq!(DaemonService::NoDaemon.restart(), None);
        assert!(DaemonService::Manual { socket: "/s".into() }.manual_hint().unwrap().contains("/s"));
    }

    #[test]
    fn macos_upstream_determinate_and_single_user() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        assert_eq!(p.detect(Host::MACOS_AARCH64), DaemonService::NoDaemon);
        touch(&p.launch_daemons_dir.join("org.nixos.nix-daemon.plist"));
        assert_eq!(p.detect(Host::MACOS_AARCH64), DaemonService::Launchd { label: "org.nixos.nix-daemon".into() });
        touch(&p.launch_daemons_dir.join("systems.determinate.nix-daemon.plist"));
        assert_eq!(
            p.detect(Host::MACOS_X86_64),
            DaemonService::Launchd { label: "systems.determinate.nix-daemon".into() }
        );
    }

    #[test]
    fn linux_systemd_needs_pid1_and_a_unit() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        assert_eq!(p.detect(Host::LINUX_X86_64), DaemonService::NoDaemon);
        touch(&t.path().join("lib/systemd/system/nix-daemon.service"));
        // Unit installed but systemd not running (a container): no systemctl.
        assert_eq!(p.detect(Host::LINUX_X86_64), DaemonService::NoDaemon);
        std::fs::create_dir_all(&p.systemd_run_dir).unwrap();
        assert_eq!(p.detect(Host::LINUX_X86_64), DaemonService::Systemd { unit: "nix-daemon".into() });
    }

    #[test]
    fn a_socket_without_a_service_manager_is_manual() {
        let t = tempfile::tempdir().unwrap();
        let p = DaemonProbe::under(t.path());
        touch(&p.daemon_socket);
        assert_eq!(p.detect(Host::LINUX_X86_64), DaemonService::Manual { socket: p.daemon_socket.clone() });
        // The launchd plist is ignored on Linux, the systemd unit on macOS.
        touch(&p.launch_daemons_dir.join("org.nixos.nix-daemon.plist"));
        assert!(matches!(p.detect(Host::LINUX_X86_64), DaemonService::Manual { .. }));
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
