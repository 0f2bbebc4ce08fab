//! Everything a start needs before qemu runs: settings a start can use, the image, the keys,
//! the accelerator, a free port, qemu itself, the private VM and socket directories, free
//! space, shares, the state disk, a fresh console log, the pinned host key and the guest's
//! keys; then the qemu argv from all of it.

use std::path::{Path, PathBuf};

use crate::host::{Host, Os};
use crate::image::{DiskSpec, HostKeySpec, ImageManifest, KeyChannel, ShareSource};
use crate::keys::{openssh, InstallKeys};
use crate::settings::port_is_free;
use crate::ssh::write_known_hosts;
use crate::vm::accel::{resolve, Accel, AccelFacts};
use crate::vm::argv::{qemu_argv, qemu_program, QemuArgv};
use crate::vm::console::rotate_log;
use crate::vm::disk::{ensure_state_disk_for, DiskIdentity};
use crate::vm::error::VmError;
use crate::vm::runtime_dir;
use crate::vm::state::FileId;

use super::health::check_free_space;
use super::{StartRequest, VmContext};

/// Console logs kept across boots (the current one included).
const KEEP_CONSOLE_LOGS: usize = 5;

/// A start made ready: what qemu runs with.
pub(super) struct Prepared {
    pub image: ImageManifest,
    pub accel: Accel,
    /// The loopback port qemu forwards to the guest's sshd.
    pub port: u16,
    pub argv: QemuArgv,
    /// The state disk qemu is given, to notice it deleted or replaced while it runs.
    pub state_disk: Option<FileId>,
    /// What to tell the user about the state disk (a new one for a new image, say).
    pub disk_notice: Option<String>,
}

pub(super) async fn prepare(ctx: &VmContext, req: &StartRequest) -> Result<Prepared, VmError> {
    let files = &ctx.files;
    // The settings file may have been edited by hand: what `settings set` refuses, a start does too.
    req.settings.validate_for_start(ctx.host, &ctx.paths.settings_file())?;
    let image = ImageManifest::load(&req.image_dir)?;
    let keys = InstallKeys::ensure(&ctx.paths.keys_dir())?;
    let facts = AccelFacts::probe(&files.kvm_broken_marker());
    let accel = resolve(req.settings.accelerator, ctx.host, image.guest_arch(), facts)?;
    // On demand, the gateway holds settings.port and qemu forwards the port after it.
    let port = req.settings.forward_port();
    if !port_is_free(port) {
        return Err(VmError::PortInUse { port });
    }
    let program = qemu_program(&image);
    if which(&program).is_none() {
        return Err(VmError::QemuMissing { program: program.clone(), hint: qemu_install_hint(ctx.host, &program) });
    }
    private_vm_dir(&files.vm_dir)?;
    check_free_space(&files.vm_dir)?;
    // qemu binds its sockets by name: the names must fit, the directory must be ours alone.
    for socket in [files.qmp_socket(), files.serial_socket()] {
        runtime_dir::check_socket_path(ctx.host, &socket)?;
    }
    runtime_dir::ensure_private(&files.runtime_dir, rustix::process::geteuid().as_raw())?;
    for share in &image.shares {
        if let ShareSource::StateDir { name } = &share.source {
            let d = files.share_dir(name);
            std::fs::create_dir_all(&d).map_err(VmError::io(format!("cannot create {}", d.display())))?;
        }
    }
    let mut state_disk = None;
    let mut disk_notice = None;
    if let Some(DiskSpec::State { template, .. }) = image.disks.iter().find(|d| matches!(d, DiskSpec::State { .. })) {
        let qemu_img = image.qemu.as_ref().map(|d| d.join("qemu-img")).unwrap_or_else(|| "qemu-img".into());
        let identity = DiskIdentity::of(&req.image_dir);
        let outcome = ensure_state_disk_for(
            ctx.host,
            &qemu_img,
            &files.state_disk(),
            &identity,
            req.settings.disk_gib,
            template.as_ref(),
        )
        .await?;
        disk_notice = outcome.notice();
        if let Some(n) = &disk_notice {
            tracing::info!("{n}");
        }
        state_disk = FileId::of(&files.state_disk());
    }
    rotate_log(&files.console_log(), KEEP_CONSOLE_LOGS);
    // qemu appends to the log it finds and keeps its mode: the guest's console is the user's alone.
    private_file(&files.console_log())?;
    let pinned = match &image.host_key {
        HostKeySpec::Runtime => openssh(&keys.host_public()?),
        HostKeySpec::Fixed { public } => public.trim().to_string(),
    };
    write_known_hosts(&files.known_hosts(), &pinned).map_err(VmError::io("cannot write known_hosts"))?;
    guest_keys(ctx, &image, &keys)?;
    let argv = qemu_argv(ctx.host, &image, &req.settings, accel, files);
    Ok(Prepared { image, accel, port, argv, state_disk, disk_notice })
}

/// Exactly what the guest may see through the image's key channel.
fn guest_keys(ctx: &VmContext, image: &ImageManifest, keys: &InstallKeys) -> Result<(), VmError> {
    let files = &ctx.files;
    let names = image.keys.files();
    let host_key_name = (image.host_key == HostKeySpec::Runtime).then_some(names.host_key.as_str());
    let written = keys.write_guest_channel(&files.guest_keys_dir(), &names.authorized_keys, host_key_name)?;
    if let KeyChannel::Share { security_model, .. } = &image.keys {
        // sshd reads authorized_keys as the builder user, who must be able to enter the
        // share (fw_cfg needs no directory, so there it stays 0700). Secret files stay 0600.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(files.guest_keys_dir(), std::fs::Permissions::from_mode(0o755))
            .map_err(VmError::io("cannot open the guest key share to the guest"))?;
        if security_model.starts_with("mapped") {
            // The guest's sshd (StrictModes) wants root-owned key files; mapped 9p reads
            // ownership from these attributes instead of the host's uid.
            for p in std::iter::once(files.guest_keys_dir()).chain(written) {
                for attr in ["user.virtfs.uid", "user.virtfs.gid"] {
                    xattr::set(&p, attr, &0u32.to_le_bytes())
                        .map_err(VmError::io(format!("cannot set {attr} on {}", p.display())))?;
                }
            }
        }
    }
    Ok(())
}

/// The VM directory (console log, records, keys for the guest) is the user's alone: 0700.
fn private_vm_dir(dir: &Path) -> Result<(), VmError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(VmError::io(format!("cannot create {}", dir.display())))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(VmError::io(format!("cannot protect {}", dir.display())))
}

/// An empty file only the user can read (0600), for qemu to write into.
fn private_file(path: &Path) -> Result<(), VmError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(VmError::io(format!("cannot create {}", path.display())))
}

/// `name` as found on PATH (or as given, when it is a path).
fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn qemu_install_hint(host: Host, program: &str) -> String {
    match host.os {
        Os::Macos => format!(
            "Builderbar's image normally brings its own qemu; otherwise install it with `nix profile install \
             nixpkgs#qemu` so {program} is on PATH."
        ),
        Os::Linux => {
            let pkg = if program.ends_with("aarch64") { "qemu-system-arm" } else { "qemu-system-x86" };
            format!("Install it: `sudo apt-get install {pkg}` (Debian/Ubuntu) or your distribution's qemu package.")
        }
    }
}
