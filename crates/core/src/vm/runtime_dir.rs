//! The directory qemu's serial and QMP sockets live in, made safe before qemu binds them: ours,
//! 0700, not a link, in a parent nobody else can rename it out of; checked on the opened
//! directories (fstat), never by name. And the host's limit on a socket path's length.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{fchmod, fstat, mkdirat, openat, statat, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::host::Host;
use crate::paths::sun_path_size;
use crate::vm::error::VmError;

/// What to do when the directory is not safe: remove what is in the way, or choose another.
const HINT_OTHER: &str = "Another user may have made it to reach the builder's console (a root shell in the guest) \
     and control sockets. Do not use it: have it removed (it is not yours), or set BUILDERBAR_RUNTIME_DIR to a \
     directory only you can enter, then start again.";

/// Creates `dir` (the socket directory) and its parent (the base) if absent, and accepts them
/// only when each is a directory, not a symbolic link, owned by `uid`; they are left mode 0700.
/// The base's ancestors must belong to root or `uid`, and any that others may write to must be
/// sticky (like /tmp), so nobody else can rename the base away and put theirs in its place.
pub fn ensure_private(dir: &Path, uid: u32) -> Result<(), VmError> {
    let (Some(base), Some(leaf)) = (dir.parent(), dir.file_name()) else {
        return Err(refused(dir, "it has no parent directory".into(), HINT_OTHER));
    };
    let (Some(above), Some(base_name)) = (base.parent(), base.file_name()) else {
        return Err(refused(base, "it has no parent directory".into(), HINT_OTHER));
    };
    let above_fd = open_ancestors(above, uid)?;
    let base_fd = open_private(&above_fd, Path::new(base_name), base, uid)?;
    open_private(&base_fd, Path::new(leaf), dir, uid)?;
    Ok(())
}

/// Refuses a socket path that does not fit in the host's `sun_path` (qemu would fail to bind
/// it with a message about the path, not about what to do).
pub fn check_socket_path(host: Host, socket: &Path) -> Result<(), VmError> {
    let size = sun_path_size(host);
    let len = socket.as_os_str().len();
    if len >= size {
        return Err(VmError::SocketPathTooLong { path: socket.into(), len, max: size - 1, size });
    }
    Ok(())
}

/// Opens `dir` from the root down, one component at a time, checking each on its descriptor.
fn open_ancestors(dir: &Path, uid: u32) -> Result<OwnedFd, VmError> {
    // Links above the base (macOS: /tmp and /var lead into /private) are the system's own:
    // resolve them once, then walk what they resolve to without following anything else.
    let real = std::fs::canonicalize(dir)
        .map_err(|e| refused(dir, format!("it cannot be resolved ({e})"), "Create it, or choose another directory."))?;
    let mut fd = openat(CWD, "/", dir_flags(), Mode::empty()).map_err(|e| io_error(Path::new("/"), e))?;
    let mut at = PathBuf::from("/");
    check_ancestor(&fd, &at, uid)?;
    for c in real.components() {
        let Component::Normal(name) = c else { continue };
        at.push(name);
        fd = openat(&fd, name, dir_flags(), Mode::empty()).map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => refused(&at, "it was replaced while being checked".into(), HINT_OTHER),
            e => io_error(&at, e),
        })?;
        check_ancestor(&fd, &at, uid)?;
    }
    Ok(fd)
}

fn check_ancestor(fd: &OwnedFd, path: &Path, uid: u32) -> Result<(), VmError> {
    let st = fstat(fd).map_err(|e| io_error(path, e))?;
    let mode = st.st_mode as u32;
    if st.st_uid != 0 && st.st_uid != uid {
        let why = format!("a directory above it, {}, belongs to another user (uid {})", path.display(), st.st_uid);
        return Err(refused(path, why, HINT_OTHER));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        let why = format!("others may rename what is in it (mode {:04o}, not sticky)", mode & 0o7777);
        return Err(refused(path, why, HINT_OTHER));
    }
    Ok(())
}

/// Creates `name` under `parent` (0700) unless it exists, opens it without following a link,
/// and accepts it only if it is ours; tightens it to 0700 through the descriptor.
fn open_private(parent: &OwnedFd, name: &Path, path: &Path, uid: u32) -> Result<OwnedFd, VmError> {
    match mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(io_error(path, e)),
    }
    let fd = openat(parent, name, dir_flags(), Mode::empty()).map_err(|e| match e {
        // Linux says ENOTDIR for a link opened with O_DIRECTORY | O_NOFOLLOW; tell them apart
        // for the message only (what is refused is whatever did not open as a directory).
        Errno::LOOP | Errno::NOTDIR => {
            let link = statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
            let why = if link { "it is a symbolic link" } else { "it is not a directory" };
            refused(path, why.into(), HINT_OTHER)
        }
        e => io_error(path, e),
    })?;
    let st = fstat(&fd).map_err(|e| io_error(path, e))?;
    if st.st_uid != uid {
        return Err(refused(path, format!("it belongs to another user (uid {})", st.st_uid), HINT_OTHER));
    }
    if st.st_mode as u32 & 0o7777 != 0o700 {
        tracing::info!(path = %path.display(), mode = format!("{:04o}", st.st_mode as u32 & 0o7777), "made private (0700)");
        fchmod(fd.as_fd(), Mode::from_raw_mode(0o700)).map_err(|e| io_error(path, e))?;
    }
    Ok(fd)
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn refused(path: &Path, why: String, hint: &str) -> VmError {
    VmError::RuntimeDir { path: path.into(), why, hint: hint.into() }
}

fn io_error(path: &Path, e: Errno) -> VmError {
    VmError::Io { what: format!("cannot open {}", path.display()), source: e.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn me() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_base_and_leaf_private() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("base/bb-1");
        ensure_private(&dir, me()).unwrap();
        assert_eq!((mode(&dir), mode(dir.parent().unwrap())), (0o700, 0o700));
        // Again: accepted as it is.
        ensure_private(&dir, me()).unwrap();
    }

    #[test]
    fn a_base_of_ours_left_open_is_made_private() {
        // What earlier versions left: /tmp/builderbar-<uid> at 0755.
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("base");
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private(&base.join("bb-1"), me()).unwrap();
        assert_eq!(mode(&base), 0o700);
    }

    #[test]
    fn a_base_of_another_uid_or_a_link_or_a_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("base");
        std::fs::create_dir(&base).unwrap();
        let owner = std::fs::metadata(&base).unwrap().uid();
        // The same directory seen as another user's: what matters is the owner on the descriptor.
        let e = ensure_private(&base.join("bb-1"), owner + 1).unwrap_err();
        assert!(e.to_string().contains("belongs to another user"), "{e}");

        let link = t.path().join("link");
        std::os::unix::fs::symlink(&base, &link).unwrap();
        let e = ensure_private(&link.join("bb-1"), me()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!base.join("bb-1").exists(), "nothing was made through the link");

        let file = t.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = ensure_private(&file.join("bb-1"), me()).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }

    #[test]
    fn a_parent_others_may_write_without_the_sticky_bit_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_private(&open.join("base/bb-1"), me()).unwrap_err();
        assert!(e.to_string().contains("not sticky"), "{e}");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_private(&open.join("base/bb-1"), me()).unwrap();
    }

    #[test]
    fn socket_paths_are_held_to_the_hosts_sun_path() {
        let p = |n: usize| PathBuf::from(format!("/{}", "s".repeat(n - 1)));
        check_socket_path(Host::LINUX_X86_64, &p(107)).unwrap();
        let e = check_socket_path(Host::LINUX_X86_64, &p(108)).unwrap_err();
        assert!(e.to_string().contains("108 bytes"), "{e}");
        check_socket_path(Host::MACOS_AARCH64, &p(103)).unwrap();
        let e = check_socket_path(Host::MACOS_AARCH64, &p(104)).unwrap_err();
        assert!(e.to_string().contains("104 bytes"), "{e}");
    }
}
