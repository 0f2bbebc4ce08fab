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
    /// `XDG_RUNTIME_DIR`, kept only when it is ours and private (see [`PathEnv::from_process`]).
    pub xdg_runtime_dir: Option<PathBuf>,
    /// macOS: the per-user temporary directory `confstr(_CS_DARWIN_USER_TEMP_DIR)` names (the
    /// one launchd gives the app as TMPDIR; a shell's TMPDIR may differ, this does not).
    pub darwin_user_temp_dir: Option<PathBuf>,
    /// `BUILDERBAR_RUNTIME_DIR`: the base of the socket directory instead of the default.
    pub runtime_dir_override: Option<PathBuf>,
    pub uid: u32,
    /// `BUILDERBAR_HOME`: one directory for data and logs (tests, portable installs).
    pub builderbar_home: Option<PathBuf>,
}

impl PathEnv {
    pub fn from_process() -> PathEnv {
        let uid = rustix::process::geteuid().as_raw();
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        PathEnv {
            home: var("HOME").unwrap_or_else(|| PathBuf::from("/")),
            xdg_data_home: var("XDG_DATA_HOME"),
            xdg_state_home: var("XDG_STATE_HOME"),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            // Another user's directory (a variable kept across `sudo`, a broken session) is
            // ignored here; the socket directory is checked again when it is opened.
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").filter(|d| is_ours_and_private(d, uid)),
            darwin_user_temp_dir: darwin_user_temp_dir(),
            runtime_dir_override: var("BUILDERBAR_RUNTIME_DIR"),
            uid,
            builderbar_home: var("BUILDERBAR_HOME"),
        }
    }
}

/// Whether `dir` is a directory (not a link) owned by `uid` that nobody else may enter.
fn is_ours_and_private(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}

/// The per-user temporary directory of macOS (`/var/folders/…/T/`), which does not change with
/// a shell's TMPDIR. `confstr` and `_CS_DARWIN_USER_TEMP_DIR` exist on macOS alone.
#[cfg(target_os = "macos")]
#[allow(unsafe_code)] // One libc call with no safe wrapper: a buffer we own and its length.
fn darwin_user_temp_dir() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut buf = vec![0u8; 1024];
    // SAFETY: confstr writes at most buf.len() bytes (NUL included) into buf.
    let n = unsafe { libc::confstr(libc::_CS_DARWIN_USER_TEMP_DIR, buf.as_mut_ptr().cast(), buf.len()) };
    if n == 0 || n > buf.len() {
        return None;
    }
    buf.truncate(n - 1);
    Some(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

#[cfg(not(target_os = "macos"))]
fn darwin_user_temp_dir() -> Option<PathBuf> {
    None
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
    /// Short directory for unix sockets (sun_path is 104 bytes on macOS). The one a running
    /// VM uses is recorded in its run record; this is where a new start puts them.
    pub runtime_dir: PathBuf,
}

/// The size of `sun_path` in a unix socket address, the NUL included: 104 bytes on macOS,
/// 108 on Linux. A socket path must be shorter.
pub fn sun_path_size(host: Host) -> usize {
    match host.os {
        Os::Macos => 104,
        Os::Linux => 108,
    }
}

/// The longest socket file name we put in the runtime directory (`serial.sock`).
const LONGEST_SOCKET: &str = "serial.sock";

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

/// One short socket directory per VM directory: `<base>/bb-<hash>`. The base does not depend
/// on the caller's TMPDIR, so every process of the user (the app, a CLI in a `nix develop`
/// shell or over SSH) finds the same one: `BUILDERBAR_RUNTIME_DIR` if set; on macOS the
/// per-user temporary directory (about 50 bytes); on Linux XDG_RUNTIME_DIR when it is ours
/// and the sockets fit; else `/tmp/builderbar-<uid>`. Whichever it is, it is opened and
/// checked before use (`vm::runtime_dir`), and its length at start.
fn runtime_dir_for(host: Host, env: &PathEnv, vm_dir: &Path) -> PathBuf {
    let leaf = format!("bb-{:08x}", fnv1a32(vm_dir.as_os_str().as_encoded_bytes()));
    let fits = |base: &PathBuf| base.join(&leaf).join(LONGEST_SOCKET).as_os_str().len() < sun_path_size(host);
    let per_user = match host.os {
        Os::Macos => env.darwin_user_temp_dir.clone(),
        Os::Linux => env.xdg_runtime_dir.clone(),
    };
    let base = env
        .runtime_dir_override
        .clone()
        .or(per_user.filter(fits))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/builderbar-{}", env.uid)));
    base.join(leaf)
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
        e.darwin_user_temp_dir = Some("/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/".into());
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
        e.darwin_user_temp_dir = Some("/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/".into());
        for host in [Host::MACOS_AARCH64, Host::LINUX_X86_64] {
            let p = AppPaths::for_host(host, &e);
            assert!(p.vm_dir.join("serial.sock").as_os_str().len() >= sun_path_size(host));
            let sock = p.runtime_dir.join("serial.sock");
            assert!(sock.as_os_str().len() < sun_path_size(host), "{}", sock.display());
        }
        assert_eq!((sun_path_size(Host::MACOS_AARCH64), sun_path_size(Host::LINUX_X86_64)), (104, 108));
    }

    #[test]
    fn the_socket_base_does_not_follow_tmpdir() {
        // The app (launchd's TMPDIR) and a CLI in another shell compute the same directory:
        // TMPDIR is not an input at all; the per-user temp dir is.
        let mut app = env("/Users/ada");
        app.darwin_user_temp_dir = Some("/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/".into());
        let shell = app.clone();
        assert_eq!(
            AppPaths::for_host(Host::MACOS_AARCH64, &app).runtime_dir,
            AppPaths::for_host(Host::MACOS_AARCH64, &shell).runtime_dir
        );
        // Without it (never on a Mac), the fixed per-uid base, as on Linux.
        app.darwin_user_temp_dir = None;
        assert!(AppPaths::for_host(Host::MACOS_AARCH64, &app).runtime_dir.starts_with("/tmp/builderbar-501/"));
    }

    #[test]
    fn an_override_wins_and_a_runtime_dir_too_long_for_sockets_is_passed_over() {
        let mut e = env("/home/ada");
        e.xdg_runtime_dir = Some(format!("/run/user/{}", "x".repeat(90)).into());
        assert!(AppPaths::for_host(Host::LINUX_X86_64, &e).runtime_dir.starts_with("/tmp/builderbar-501/"));
        e.runtime_dir_override = Some("/srv/bb".into());
        assert_eq!(AppPaths::for_host(Host::LINUX_X86_64, &e).runtime_dir.parent(), Some(Path::new("/srv/bb")));
    }

    #[test]
    fn an_xdg_runtime_dir_of_another_user_is_not_taken() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let me = rustix::process::geteuid().as_raw();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(is_ours_and_private(dir.path(), me));
        assert!(!is_ours_and_private(dir.path(), me + 1), "owned by someone else");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!is_ours_and_private(dir.path(), me), "others may enter it");
        let link = dir.path().join("link");
        let target = dir.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(!is_ours_and_private(&link, me), "a link");
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
