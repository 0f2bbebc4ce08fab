//! Where Builderbar keeps its files on each OS, computed from data (Host + environment).

use std::path::{Path, PathBuf};

use crate::host::{Host, Os};

/// The environment values the paths depend on, captured once so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct PathEnv {
    pub home: PathBuf,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
    pub xdg_cache_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub tmpdir: Option<PathBuf>,
    pub uid: u32,
    /// `BUILDERBAR_HOME`: one directory for data and logs (tests, portable installs).
    pub builderbar_home: Option<PathBuf>,
}

impl PathEnv {
    pub fn from_process() -> PathEnv {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        PathEnv {
            home: var("HOME").unwrap_or_else(|| PathBuf::from("/")),
            xdg_data_home: var("XDG_DATA_HOME"),
            xdg_state_home: var("XDG_STATE_HOME"),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            tmpdir: var("TMPDIR"),
            uid: rustix::process::getuid().as_raw(),
            builderbar_home: var("BUILDERBAR_HOME"),
        }
    }
}

/// All of Builderbar's per-user locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPaths {
    /// Settings and keys.
    pub data_dir: PathBuf,
    /// The VM's state directory: state disk, pidfile, console log, lock.
    pub vm_dir: PathBuf,
    /// Rotated application log.
    pub log_dir: PathBuf,
    /// Built images and other re-creatable things.
    pub cache_dir: PathBuf,
    /// Short directory for unix sockets (sun_path is 104 bytes on macOS).
    pub runtime_dir: PathBuf,
}

/// macOS limits a unix socket path to 104 bytes including the NUL.
pub const SUN_PATH_MAX: usize = 103;

impl AppPaths {
    pub fn for_host(host: Host, env: &PathEnv) -> AppPaths {
        let home = &env.home;
        let (data_dir, log_dir, cache_dir) = if let Some(root) = &env.builderbar_home {
            (root.join("data"), root.join("logs"), cache_for(host, env))
        } else {
            match host.os {
                Os::Macos => (
                    home.join("Library/Application Support/Builderbar"),
                    home.join("Library/Logs/Builderbar"),
                    cache_for(host, env),
                ),
                Os::Linux => (
                    env.xdg_data_home.clone().unwrap_or_else(|| home.join(".local/share")).join("builderbar"),
                    env.xdg_state_home.clone().unwrap_or_else(|| home.join(".local/state")).join("builderbar/logs"),
                    cache_for(host, env),
                ),
            }
        };
        let vm_dir = data_dir.join("vm");
        let runtime_dir = runtime_dir_for(host, env, &vm_dir);
        AppPaths { data_dir, vm_dir, log_dir, cache_dir, runtime_dir }
    }

    pub fn detect(host: Host) -> AppPaths {
        AppPaths::for_host(host, &PathEnv::from_process())
    }

    pub fn settings_file(&self) -> PathBuf {
        self.data_dir.join("settings.json")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }
}

fn cache_for(host: Host, env: &PathEnv) -> PathBuf {
    match host.os {
        Os::Macos => env.home.join("Library/Caches/Builderbar"),
        Os::Linux => env.xdg_cache_home.clone().unwrap_or_else(|| env.home.join(".cache")).join("builderbar"),
    }
}

/// One short socket directory per VM directory: `<base>/bb-<hash>`.
fn runtime_dir_for(host: Host, env: &PathEnv, vm_dir: &Path) -> PathBuf {
    let base = match host.os {
        // $TMPDIR on macOS is per-user (/var/folders/../T/), about 50 bytes.
        Os::Macos => env.tmpdir.clone().unwrap_or_else(|| PathBuf::from("/tmp")),
        Os::Linux => {
            env.xdg_runtime_dir.clone().unwrap_or_else(|| PathBuf::from(format!("/tmp/builderbar-{}", env.uid)))
        }
    };
    base.join(format!("bb-{:08x}", fnv1a32(vm_dir.as_os_str().as_encoded_bytes())))
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x01000193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: &str) -> PathEnv {
        PathEnv { home: home.into(), uid: 501, ..Default::default() }
    }

    #[test]
    fn macos_paths_live_under_library() {
        let mut e = env("/Users/ada");
        e.tmpdir = Some("/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/".into());
        let p = AppPaths::for_host(Host::MACOS_AARCH64, &e);
        assert_eq!(p.data_dir, PathBuf::from("/Users/ada/Library/Application Support/Builderbar"));
        assert_eq!(p.log_dir, PathBuf::from("/Users/ada/Library/Logs/Builderbar"));
        assert_eq!(p.cache_dir, PathBuf::from("/Users/ada/Library/Caches/Builderbar"));
        assert!(p.runtime_dir.starts_with("/var/folders/zz/"));
    }

    #[test]
    fn linux_paths_follow_xdg() {
        let mut e = env("/home/ada");
        let p = AppPaths::for_host(Host::LINUX_X86_64, &e);
        assert_eq!(p.data_dir, PathBuf::from("/home/ada/.local/share/builderbar"));
        assert_eq!(p.log_dir, PathBuf::from("/home/ada/.local/state/builderbar/logs"));
        assert!(p.runtime_dir.starts_with("/tmp/builderbar-501/"));
        e.xdg_runtime_dir = Some("/run/user/501".into());
        let p = AppPaths::for_host(Host::LINUX_X86_64, &e);
        assert!(p.runtime_dir.starts_with("/run/user/501/"));
    }

    #[test]
    fn sockets_fit_sun_path_even_with_a_very_long_home() {
        let long_home = format!("/Users/{}", "a-very-long-user-name-".repeat(12));
        let mut e = env(&long_home);
        e.tmpdir = Some("/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/".into());
        for host in [Host::MACOS_AARCH64, Host::LINUX_X86_64] {
            let p = AppPaths::for_host(host, &e);
            assert!(p.vm_dir.join("serial.sock").as_os_str().len() > SUN_PATH_MAX);
            let sock = p.runtime_dir.join("serial.sock");
            assert!(sock.as_os_str().len() <= SUN_PATH_MAX, "{}", sock.display());
        }
    }

    #[test]
    fn different_vm_dirs_get_different_socket_dirs() {
        let mut a = env("/home/a");
        let b = env("/home/b");
        assert_ne!(
            AppPaths::for_host(Host::LINUX_X86_64, &a).runtime_dir,
            AppPaths::for_host(Host::LINUX_X86_64, &b).runtime_dir
        );
        a.builderbar_home = Some("/tmp/t1".into());
        assert_eq!(AppPaths::for_host(Host::LINUX_X86_64, &a).data_dir, PathBuf::from("/tmp/t1/data"));
    }
}
