//! qemu's command line, composed from image manifest + settings + host: never hard-coded.

use crate::host::{Arch, Host};
use crate::image::{DiskSpec, HostKeySpec, ImageManifest, KeyChannel, ShareSource};
use crate::settings::Settings;
use crate::vm::accel::Accel;
use crate::vm::files::VmFiles;

/// A full qemu invocation: binary name (looked up on PATH) and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QemuArgv {
    pub program: String,
    pub args: Vec<String>,
}

impl QemuArgv {
    /// One argument per line, `-opt value` pairs kept together: for snapshots and logs.
    pub fn pretty(&self) -> String {
        let mut out = self.program.clone();
        for a in &self.args {
            if a.starts_with('-') {
                out.push_str(" \\\n  ");
            } else {
                out.push(' ');
            }
            out.push_str(a);
        }
        out
    }
}

/// The qemu binary: the one the image brings (macOS: signed for HVF), else from PATH.
pub fn qemu_program(image: &ImageManifest) -> String {
    let name = format!("qemu-system-{}", image.guest_arch().qemu_name());
    match &image.qemu {
        Some(dir) => dir.join(name).display().to_string(),
        None => name,
    }
}

/// qemu option values are comma-separated; a literal comma is written as two. Only for values
/// qemu parses as an option list (-drive, -virtfs, -chardev, -qmp, -fw_cfg); -kernel, -initrd,
/// -append and -pidfile take their argument literally.
fn q(p: &std::path::Path) -> String {
    path(p).replace(',', ",,")
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// The CPU model under TCG, where `host` does not exist (docs/qemu-argv.md, "aarch64 under TCG").
pub fn tcg_cpu(guest: Arch) -> &'static str {
    match guest {
        // A plain model boots markedly faster than `max` (FACTS.md).
        Arch::X86_64 => "qemu64",
        Arch::Aarch64 => "max",
    }
}

/// Builds the argv. The accelerator is already resolved for this host.
pub fn qemu_argv(host: Host, image: &ImageManifest, settings: &Settings, accel: Accel, files: &VmFiles) -> QemuArgv {
    let guest = image.guest_arch();
    let program = qemu_program(image);
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));

    push(&["-name", "builderbar", "-nodefaults", "-no-user-config", "-display", "none"]);
    // A guest reboot or panic ends qemu, so the supervisor sees it instead of a boot loop.
    push(&["-no-reboot"]);
    // The host decides the accelerator (resolved by the caller); the guest decides the board.
    let _ = host;
    let machine = match guest {
        // The virt board with the highest GIC the accelerator offers. nixpkgs' runner does this
        // on Linux hosts but pins gic-version=2 on aarch64-darwin; Apple's hypervisor has a
        // GICv3, and newer qemu refuses GICv2 under HVF (docs/qemu-argv.md).
        Arch::Aarch64 => "virt,gic-version=max",
        Arch::X86_64 => "q35",
    };
    push(&["-machine", machine, "-accel", accel.as_str()]);
    let cpu = match accel {
        Accel::Hvf | Accel::Kvm => "host",
        Accel::Tcg => tcg_cpu(guest),
    };
    push(&["-cpu", cpu]);
    a.extend(["-smp".into(), settings.cores.to_string(), "-m".into(), format!("{}M", settings.memory_mib)]);

    // Literal paths: qemu does not split these on commas, so ",," would name another file.
    a.extend(["-kernel".into(), path(&image.kernel), "-initrd".into(), path(&image.initrd)]);
    let cmdline = [image.cmdline.trim(), &format!("console={}", image.console)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    a.extend(["-append".into(), cmdline]);

    // Console: a socket any process can attach to at any time, and a log qemu writes itself,
    // so history survives the app quitting.
    a.extend([
        "-chardev".into(),
        format!(
            "socket,id=ser0,path={},server=on,wait=off,logfile={},logappend=on",
            q(&files.serial_socket()),
            q(&files.console_log())
        ),
        "-serial".into(),
        "chardev:ser0".into(),
    ]);
    a.extend(["-qmp".into(), format!("unix:{},server=on,wait=off", q(&files.qmp_socket()))]);
    a.extend(["-pidfile".into(), path(&files.pidfile())]);

    // Entropy at boot, so the guest's sshd does not wait for it.
    a.extend(["-device".into(), "virtio-rng-pci".into()]);
    // Loopback only: the builder is never reachable from the network.
    a.extend([
        "-netdev".into(),
        format!("user,id=net0,hostfwd=tcp:127.0.0.1:{}-:{}", settings.forward_port(), image.ssh.port),
        "-device".into(),
        "virtio-net-pci,netdev=net0".into(),
    ]);

    // As nixpkgs' runner does for its root disk: a host write error (e.g. the Mac's disk is
    // full) reaches the guest as an I/O error instead of qemu pausing the VM (the default,
    // werror=enospc), which would leave the builder hanging with nothing on its console.
    const WRITABLE: &str = ",cache=writeback,werror=report";
    for (i, disk) in image.disks.iter().enumerate() {
        let id = format!("disk{i}");
        let (drive, serial) = match disk {
            DiskSpec::Image { path, format, read_only, serial } => (
                format!(
                    "if=none,id={id},file={},format={}{}",
                    q(path),
                    format.as_str(),
                    if *read_only { ",readonly=on" } else { WRITABLE }
                ),
                serial,
            ),
            DiskSpec::State { serial, .. } => (
                format!("if=none,id={id},file={},format=qcow2{WRITABLE},discard=unmap", q(&files.state_disk())),
                serial,
            ),
        };
        let mut device = format!("virtio-blk-pci,drive={id}");
        if let Some(s) = serial {
            device.push_str(&format!(",serial={s}"));
        }
        a.extend(["-drive".into(), drive, "-device".into(), device]);
    }

    let keys_dir = files.guest_keys_dir();
    match &image.keys {
        KeyChannel::FwCfg { prefix, files: names } => {
            let mut names = vec![&names.authorized_keys];
            if image.host_key == HostKeySpec::Runtime {
                names.insert(0, &image.keys.files().host_key);
            }
            for name in names {
                a.extend(["-fw_cfg".into(), format!("name={prefix}/{name},file={}", q(&keys_dir.join(name)))]);
            }
        }
        KeyChannel::Share { tag, security_model, .. } => {
            a.extend([
                "-virtfs".into(),
                format!("local,path={},security_model={security_model},mount_tag={tag},readonly=on", q(&keys_dir)),
            ]);
        }
    }
    for share in &image.shares {
        let path = match &share.source {
            ShareSource::Host { path } => path.clone(),
            ShareSource::StateDir { name } => files.share_dir(name),
        };
        a.extend([
            "-virtfs".into(),
            format!(
                "local,path={},security_model={},mount_tag={}{}",
                q(&path),
                share.security_model,
                share.tag,
                if share.read_only { ",readonly=on" } else { "" }
            ),
        ]);
    }
    QemuArgv { program, args: a }
}

#[cfg(test)]
mod tests;
