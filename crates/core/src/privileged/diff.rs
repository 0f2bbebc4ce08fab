//! Renders a Plan as a unified diff (old vs new per file, modes and owners named) for the user.

use std::fmt::Write as _;
use std::path::Path;

use similar::TextDiff;

use super::plan::{Contents, Existing, FileChange, Plan, PlannedFile};

impl Plan {
    /// The Plan as a unified diff for the user (see [`render`]).
    pub fn diff(&self) -> String {
        render(self)
    }
}

/// The whole Plan: one section per file, then the restart command if any.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    for file in &plan.files {
        render_file(&mut out, file);
    }
    if plan.files.iter().any(|f| f.before.is_some() && !f.change.is_dir()) {
        let _ = writeln!(out, "existing files are first backed up as <file>.builderbar-backup-<time>");
    }
    if let Some(r) = &plan.restart {
        let _ = writeln!(out, "then run: {}", r.describe());
    }
    out
}

/// A path printed on one line: control characters (a hostile newline) are escaped.
pub fn show_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    if s.chars().any(char::is_control) {
        s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
    } else {
        s.into_owned()
    }
}

fn meta(mode: u32, uid: u32, gid: u32) -> String {
    format!("mode {mode:04o}, owner {uid}:{gid}")
}

fn render_file(out: &mut String, file: &PlannedFile) {
    let path = show_path(&file.path);
    let _ = writeln!(out, "diff {path}");
    match (&file.change, &file.before) {
        (FileChange::Write { contents, mode, owner, secret }, before) => {
            let new_meta = meta(*mode, owner.uid, owner.gid);
            let (old_label, old_text) = match before {
                None => {
                    let _ = writeln!(out, "new file, {new_meta}");
                    ("/dev/null".to_string(), Some(Vec::new()))
                }
                Some(Existing { mode: m, owner: o, bytes }) => {
                    let old_meta = meta(*m, o.uid, o.gid);
                    if old_meta != new_meta {
                        let _ = writeln!(out, "{old_meta} -> {new_meta}");
                    } else {
                        let _ = writeln!(out, "{new_meta}");
                    }
                    (path.clone(), bytes.clone())
                }
            };
            let new_bytes = match contents {
                Contents::Bytes(b) => Some(b.as_slice()),
                Contents::CopyOf(src) => {
                    let _ = writeln!(out, "contents restored from {}", show_path(src));
                    None
                }
            };
            body(out, &old_label, &path, old_text.as_deref(), new_bytes, *secret);
        }
        (FileChange::MakeDir { mode, owner }, _) => {
            let _ = writeln!(out, "new directory, {}", meta(*mode, owner.uid, owner.gid));
        }
        (FileChange::RemoveDir, _) => {
            let _ = writeln!(out, "directory removed (it is kept if anything else is in it)");
        }
        (FileChange::Delete { backup }, before) => {
            let _ = writeln!(
                out,
                "deleted file{}",
                if *backup { " (a backup is kept)" } else { " (only Builderbar's lines were in it)" }
            );
            let old = before.as_ref().and_then(|b| b.bytes.clone());
            body(out, &path, "/dev/null", old.as_deref(), Some(&[]), false);
        }
    }
}

fn body(out: &mut String, old_label: &str, new_label: &str, old: Option<&[u8]>, new: Option<&[u8]>, secret: bool) {
    if secret {
        let size = new.map(|n| format!(", {} bytes", n.len())).unwrap_or_default();
        let _ = writeln!(out, "(secret contents not shown{size})");
        return;
    }
    let (Some(old), Some(new)) = (old, new) else {
        if old.is_none() {
            let _ =
                writeln!(out, "(current contents are not readable without administrator rights; they are backed up)");
        }
        return;
    };
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(o), Ok(n)) => {
            if o != n {
                let diff = TextDiff::from_lines(o, n);
                let _ = write!(out, "{}", diff.unified_diff().context_radius(3).header(old_label, new_label));
            }
        }
        _ => {
            if old != new {
                let _ = writeln!(out, "(binary contents: {} bytes -> {} bytes)", old.len(), new.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::plan::{DaemonRestart, Owner};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn shows_modified_new_deleted_secret_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let conf = root.join("nix.conf");
        fs::write(&conf, "a = 1\nb = 2\n").unwrap();
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).unwrap();
        let gone = root.join("old");
        fs::write(&gone, "bye\n").unwrap();
        let me = Owner { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() };
        let mut plan = Plan::new();
        plan.write(&conf, "a = 1\nb = 3\n", 0o644, me).unwrap();
        plan.write(root.join("machines"), "ssh-ng://builder@x\n", 0o644, Owner::ROOT).unwrap();
        plan.write_secret(root.join("key"), "PRIVATE KEY", 0o600, Owner::ROOT).unwrap();
        plan.delete(&gone).unwrap();
        let mut restart = DaemonRestart::launchctl_kickstart("system/org.nixos.nix-daemon");
        restart.fallback = vec![vec!["launchctl".into(), "bootout".into(), "system/org.nixos.nix-daemon".into()]];
        plan.restart(restart);
        let r = root.display().to_string();
        let (u, g) = (me.uid, me.gid);
        let expected = format!(
            "diff {r}/nix.conf\nmode 0644, owner {u}:{g}\n--- {r}/nix.conf\n+++ {r}/nix.conf\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n\
             diff {r}/machines\nnew file, mode 0644, owner 0:0\n--- /dev/null\n+++ {r}/machines\n@@ -0,0 +1 @@\n+ssh-ng://builder@x\n\
             diff {r}/key\nnew file, mode 0600, owner 0:0\n(secret contents not shown, 11 bytes)\n\
             diff {r}/old\ndeleted file (a backup is kept)\n--- {r}/old\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n\
             existing files are first backed up as <file>.builderbar-backup-<time>\n\
             then run: launchctl kickstart -k system/org.nixos.nix-daemon \
             (if that fails: launchctl bootout system/org.nixos.nix-daemon)\n"
        );
        assert_eq!(plan.diff(), expected);
        assert!(!plan.diff().contains("PRIVATE"));
    }

    #[test]
    fn mode_only_change_and_hostile_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a\nb");
        fs::write(&p, "same\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let me = Owner { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() };
        let mut plan = Plan::new();
        plan.write(&p, "same\n", 0o600, me).unwrap();
        let d = plan.diff();
        assert!(d.contains("a\\nb"), "{d}");
        assert!(d.contains(&format!("mode 0644, owner {}:{} -> mode 0600", me.uid, me.gid)), "{d}");
        assert!(!d.contains("@@"), "{d}");
    }
}
