//! The doctor's checks. Each looks at one thing and, when it is wrong, says why and how to fix it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::doctor::command::{command, output, CommandError, LOCAL, REMOTE};
use crate::doctor::report::{CheckStatus, DoctorCheck, DoctorReport};
use crate::host::{Host, Os};
use crate::image::ImageManifest;
use crate::keys::InstallKeys;
use crate::nix::conf::{effective_in, expanded_settings};
use crate::nix::{detect_config_owner, ConfigOwner, DetectOptions, MachinesLine};
use crate::settings::{port_is_free, Settings};
use crate::setup::plan::{builder_wiring, BuilderIdentity};
use crate::setup::SetupTarget;
use crate::ssh::{probe_banner, SshTarget};
use crate::vm::accel::AccelFacts;
use crate::vm::{VmFiles, VmState, VmStatus};

use CheckStatus::{Fail, Skip, Warn};

/// Everything the doctor looks at, gathered by the caller (so tests can craft any of it).
pub struct DoctorInputs<'a> {
    pub host: Host,
    pub settings: &'a Settings,
    pub image: Option<&'a ImageManifest>,
    pub keys: &'a InstallKeys,
    pub target: &'a SetupTarget,
    pub status: &'a VmStatus,
    /// The pinned-key SSH target when the builder runs.
    pub ssh: Option<SshTarget>,
    /// The user Nix builds as (trusted-users must name them, or root).
    pub user: String,
    /// The VM's files (the KVM-broken marker, a serving gateway's lock).
    pub vm_files: &'a VmFiles,
}

/// Runs every check. The external commands run concurrently, each with its own timeout, and
/// Nix is asked for its settings once for all the checks that read them.
pub async fn run(i: &DoctorInputs<'_>) -> DoctorReport {
    let (nix, settings, (reach, key), ping, qemu) =
        tokio::join!(nix_installed(), in_effect(i.target), builder_reachable(i), store_ping(i), qemu(i));
    let checks = vec![
        nix,
        config_owner(i.target),
        machines_line(i, &settings),
        trusted_user(i, &settings),
        key_files(i),
        ssh_config(i),
        port(i),
        reach,
        key,
        ping,
        qemu,
    ];
    DoctorReport { checks, generated_at_ms: crate::vm::state::now_ms() }
}

fn first_line(out: &std::process::Output) -> String {
    let s = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).to_string();
    s.lines().next().unwrap_or("").trim().to_string()
}

pub async fn nix_installed() -> DoctorCheck {
    let mut nix = command("nix");
    nix.arg("--version");
    match output(nix, LOCAL).await {
        Ok(o) if o.status.success() => DoctorCheck::pass("nix-installed", "Nix installed", first_line(&o)),
        _ => DoctorCheck::problem(
            Fail,
            "nix-installed",
            "Nix installed",
            "`nix --version` did not run",
            "Nix is not installed, or not on PATH.",
            "Install Nix (https://nixos.org/download), then run the doctor again.",
        ),
    }
}

pub fn config_owner(target: &SetupTarget) -> DoctorCheck {
    match detect_config_owner(&DetectOptions::in_dir(&target.nix_conf_dir)) {
        Ok(ConfigOwner::NixDarwin { .. }) => DoctorCheck::pass(
            "nix-conf-owner",
            "nix.conf ownership",
            "managed by nix-darwin: Builderbar shows the configuration to add instead of editing files",
        ),
        Ok(o) => DoctorCheck::pass(
            "nix-conf-owner",
            "nix.conf ownership",
            format!("{} ({})", o.label(), o.edit_path().map(|p| p.display().to_string()).unwrap_or_default()),
        ),
        Err(e) => DoctorCheck::problem(
            Fail,
            "nix-conf-owner",
            "nix.conf ownership",
            e.to_string(),
            "The Nix configuration could not be read or has an unexpected shape.",
            "Check the named file's permissions and syntax.",
        ),
    }
}

fn read(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// The settings as Nix itself sees them (`nix show-config`), our block included; without a
/// working nix, nix.conf's own lines and includes (minus our block, which then counts as absent).
pub async fn in_effect(target: &SetupTarget) -> Vec<(String, String)> {
    let mut cmd = command("nix");
    cmd.args(["--extra-experimental-features", "nix-command", "show-config"]);
    if target.nix_conf_dir != Path::new("/etc/nix") {
        cmd.env("NIX_CONF_DIR", &target.nix_conf_dir).env("NIX_USER_CONF_FILES", "/dev/null");
    }
    match output(cmd, LOCAL).await {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect(),
        _ => expanded_settings(&target.nix_conf_dir.join("nix.conf"), &mut read),
    }
}

/// `settings`: what [`in_effect`] found.
pub fn machines_line(i: &DoctorInputs<'_>, settings: &[(String, String)]) -> DoctorCheck {
    const ID: &str = "machines-line";
    const T: &str = "Builder in Nix's machines";
    let builders = effective_in(settings, "builders").unwrap_or_default();
    let mut text = builders.clone();
    for item in builders.split(';') {
        if let Some(file) = item.trim().strip_prefix('@') {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&read(Path::new(file.trim())).unwrap_or_default()));
        }
    }
    let ours = text
        .split(['\n', ';'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find(|l| l.contains(crate::ssh::HOST_ALIAS));
    let Some(line) = ours else {
        return DoctorCheck::problem(
            Fail,
            ID,
            T,
            "no builderbar-builder entry in `builders`",
            "Setup has not been run (or was undone), so Nix does not know the builder.",
            "Run `builderbar setup` (or the app's setup) to wire the builder into Nix.",
        );
    };
    let parsed = match MachinesLine::parse(line) {
        Ok(m) => m,
        Err(e) => {
            return DoctorCheck::problem(
                Fail,
                ID,
                T,
                line.to_string(),
                format!("The machines line is malformed: {e}."),
                "Run `builderbar setup` again; it rewrites its own line.",
            )
        }
    };
    if let Some(Ok(id)) = i.image.map(|im| BuilderIdentity::new(im, i.keys, i.settings.port, i.settings.cores)) {
        if parsed.host_key_line().as_deref().map(str::trim) != Some(id.host_key_line.as_str()) {
            return DoctorCheck::problem(
                Fail,
                ID,
                T,
                line.to_string(),
                "The host key pinned in the machines line is not the builder's (keys were rotated or the image changed).",
                "Run `builderbar setup` again to pin the current key.",
            );
        }
    }
    DoctorCheck::pass(ID, T, line.to_string())
}

/// `settings`: what [`in_effect`] found.
pub fn trusted_user(i: &DoctorInputs<'_>, settings: &[(String, String)]) -> DoctorCheck {
    const ID: &str = "trusted-user";
    const T: &str = "You may use remote builders";
    if i.user == "root" {
        return DoctorCheck::pass(ID, T, "root is always trusted");
    }
    let trusted = effective_in(settings, "trusted-users").unwrap_or_else(|| "root".into());
    let names: Vec<&str> = trusted.split_whitespace().collect();
    if names.contains(&i.user.as_str()) || names.contains(&"*") {
        return DoctorCheck::pass(ID, T, format!("trusted-users = {trusted}"));
    }
    if names.iter().any(|n| n.starts_with('@')) {
        return DoctorCheck::problem(
            Warn,
            ID,
            T,
            format!("trusted-users = {trusted}"),
            format!("{} is not named; a group in the list may include them.", i.user),
            "If builds are not sent to the builder, let setup add you to extra-trusted-users.",
        );
    }
    DoctorCheck::problem(
        Fail,
        ID,
        T,
        format!("trusted-users = {trusted}"),
        format!("Nix ignores the builders of users it does not trust, and {} is not in trusted-users.", i.user),
        "Run setup and agree to add you to extra-trusted-users (or add it to nix.conf yourself).",
    )
}

fn mode(p: &Path) -> Option<u32> {
    std::fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o777)
}

pub fn key_files(i: &DoctorInputs<'_>) -> DoctorCheck {
    const ID: &str = "key-files";
    const T: &str = "SSH keys";
    for p in [i.keys.client_private(), i.keys.host_private()] {
        match mode(&p) {
            None => {
                return DoctorCheck::problem(
                    Fail,
                    ID,
                    T,
                    format!("{} is missing", p.display()),
                    "The install's keys were not generated yet, or were deleted.",
                    "Start the builder once (keys are generated then), or run `builderbar keys rotate`.",
                )
            }
            Some(m) if m & 0o077 != 0 => {
                return DoctorCheck::problem(
                    Fail,
                    ID,
                    T,
                    format!("{} has mode {m:o}", p.display()),
                    "A private key is readable by other users.",
                    format!("Run `chmod 600 {}` (starting the builder also repairs it).", p.display()),
                )
            }
            _ => {}
        }
    }
    let installed = i.target.installed_key();
    match mode(&installed) {
        Some(0o600) => DoctorCheck::pass(ID, T, format!("private keys 0600; daemon key {}", installed.display())),
        Some(m) => DoctorCheck::problem(
            Fail,
            ID,
            T,
            format!("{} has mode {m:o}", installed.display()),
            "The key the Nix daemon uses is readable by other users.",
            "Run `builderbar setup` again; it installs the key with mode 0600.",
        ),
        None => DoctorCheck::problem(
            Fail,
            ID,
            T,
            format!("{} is missing", installed.display()),
            "The Nix daemon (root) has no key to log in to the builder with.",
            "Run `builderbar setup`.",
        ),
    }
}

pub fn ssh_config(i: &DoctorInputs<'_>) -> DoctorCheck {
    const ID: &str = "ssh-config";
    const T: &str = "SSH config for the builder";
    let file = i.target.ssh_config_file();
    let Some(bytes) = read(&file) else {
        return DoctorCheck::problem(
            Fail,
            ID,
            T,
            format!("{} is missing", file.display()),
            "Nix 2.8 takes no port in the builder address, so ssh needs a Host block with the port and key.",
            "Run `builderbar setup`.",
        );
    };
    let Some(image) = i.image else { return DoctorCheck::pass(ID, T, file.display().to_string()) };
    let Ok(id) = BuilderIdentity::new(image, i.keys, i.settings.port, i.settings.cores) else {
        return DoctorCheck::pass(ID, T, file.display().to_string());
    };
    match builder_wiring(&id, i.target) {
        Ok(w) if w.ssh.render().as_bytes() == bytes.as_slice() => DoctorCheck::pass(ID, T, file.display().to_string()),
        Ok(_) => DoctorCheck::problem(
            Fail,
            ID,
            T,
            format!("{} differs from what Builderbar would write", file.display()),
            "The port, user or key changed since setup (or the file was edited).",
            "Run `builderbar setup` again.",
        ),
        Err(e) => {
            DoctorCheck::problem(Fail, ID, T, e.to_string(), "The wiring cannot be computed.", "See the message.")
        }
    }
}

pub fn port(i: &DoctorInputs<'_>) -> DoctorCheck {
    const ID: &str = "port";
    const T: &str = "Builder port";
    let p = i.settings.port;
    let ours = i.status.port == Some(p) && !matches!(i.status.state, VmState::Stopped | VmState::Failed { .. });
    if ours {
        DoctorCheck::pass(ID, T, format!("127.0.0.1:{p} held by the builder"))
    } else if crate::gateway::serving_port(&i.vm_files.vm_dir) == Some(p) {
        DoctorCheck::pass(ID, T, format!("127.0.0.1:{p} held by Builderbar's on-demand gateway"))
    } else if port_is_free(p) {
        DoctorCheck::pass(ID, T, format!("127.0.0.1:{p} is free"))
    } else {
        DoctorCheck::problem(
            Fail,
            ID,
            T,
            format!("127.0.0.1:{p} is in use by another program"),
            "The builder cannot listen on its port.",
            format!("Stop the program on port {p} (`lsof -iTCP:{p} -sTCP:LISTEN`) or choose another port in Settings."),
        )
    }
}

pub async fn builder_reachable(i: &DoctorInputs<'_>) -> (DoctorCheck, DoctorCheck) {
    const ID: &str = "builder-reachable";
    const T: &str = "Builder answers SSH";
    const KID: &str = "host-key";
    const KT: &str = "Builder's host key matches the pinned key";
    let skip = |why: &str| {
        (
            DoctorCheck::problem(Skip, ID, T, why, "The builder is not running.", "Start it: `builderbar start`."),
            DoctorCheck::problem(Skip, KID, KT, why, "The builder is not running.", "Start it: `builderbar start`."),
        )
    };
    let Some(ssh) = &i.ssh else { return skip("builder not running") };
    let Some(banner) = probe_banner(ssh.port, Duration::from_secs(3)).await else {
        return (
            DoctorCheck::problem(
                Fail,
                ID,
                T,
                format!("no SSH banner on 127.0.0.1:{}", ssh.port),
                "The guest's sshd is not answering (still booting, or stuck).",
                "Open the console (`builderbar console`) to see what the guest is doing.",
            ),
            DoctorCheck::problem(Skip, KID, KT, "not checked", "The builder does not answer.", "Fix the check above."),
        );
    };
    let reach = DoctorCheck::pass(ID, T, banner);
    let argv = ssh.argv(&["true".to_string()]);
    let mut cmd = command(&argv[0]);
    cmd.args(&argv[1..]);
    let key = match output(cmd, REMOTE).await {
        Ok(o) if o.status.success() => DoctorCheck::pass(KID, KT, "ssh with the pinned key succeeded"),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr).to_string();
            if err.contains("Host key verification failed") || err.contains("IDENTIFICATION HAS CHANGED") {
                DoctorCheck::problem(
                    Fail,
                    KID,
                    KT,
                    err.lines().next().unwrap_or("").to_string(),
                    "The builder presented a host key that is not the pinned one; something else may be on the port.",
                    "Stop the builder, make sure nothing else listens on its port, and start it again.",
                )
            } else {
                DoctorCheck::problem(
                    Fail,
                    KID,
                    KT,
                    err.lines().next().unwrap_or("").to_string(),
                    "ssh to the builder failed.",
                    "Run `builderbar ssh -- true -v` style diagnostics; check the console.",
                )
            }
        }
        Err(e @ CommandError::TimedOut { .. }) => DoctorCheck::problem(
            Fail,
            KID,
            KT,
            e.to_string(),
            "The builder accepted the connection but the SSH login did not finish (overloaded, or stuck).",
            "Open the console (`builderbar console`) to see what the guest is doing.",
        ),
        Err(e) => DoctorCheck::problem(Fail, KID, KT, e.to_string(), "ssh is not installed.", "Install OpenSSH."),
    };
    (reach, key)
}

/// `nix store ping` through the builder with our key, as Nix itself would connect.
pub async fn store_ping(i: &DoctorInputs<'_>) -> DoctorCheck {
    const ID: &str = "store-ping";
    const T: &str = "Nix can talk to the builder's store";
    let (Some(ssh), Some(image)) = (&i.ssh, i.image) else {
        return DoctorCheck::problem(Skip, ID, T, "builder not running", "The builder is not running.", "Start it.");
    };
    let opts = format!(
        "-F /dev/null -p {} -o HostName=127.0.0.1 -o HostKeyAlias={} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes",
        ssh.port,
        crate::ssh::HOST_ALIAS,
        ssh.known_hosts.display()
    );
    let store = format!("ssh-ng://{}@{}?ssh-key={}", image.ssh.user, crate::ssh::HOST_ALIAS, ssh.identity.display());
    let mut ping = command("nix");
    ping.args(["--extra-experimental-features", "nix-command", "store", "ping", "--store", &store])
        .env("NIX_SSHOPTS", opts);
    match output(ping, REMOTE).await {
        Ok(o) if o.status.success() => DoctorCheck::pass(ID, T, format!("nix store ping {store}")),
        Ok(o) => DoctorCheck::problem(
            Fail,
            ID,
            T,
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").to_string(),
            "Nix could not open the builder's store over ssh-ng (is nix-daemon --stdio on the guest's PATH?).",
            "Check the image; `builderbar ssh -- nix-daemon --version` shows whether the guest has Nix.",
        ),
        Err(e @ CommandError::TimedOut { .. }) => DoctorCheck::problem(
            Fail,
            ID,
            T,
            e.to_string(),
            "Nix reached the builder but its store did not answer in time (overloaded, or stuck).",
            "Try again; if it persists, open the console (`builderbar console`) to see what the guest is doing.",
        ),
        Err(e) => DoctorCheck::problem(Skip, ID, T, e.to_string(), "Nix is not installed.", "Install Nix."),
    }
}

pub async fn qemu(i: &DoctorInputs<'_>) -> DoctorCheck {
    const ID: &str = "qemu";
    const T: &str = "QEMU and accelerators";
    let program = i
        .image
        .map(crate::vm::argv::qemu_program)
        .unwrap_or_else(|| format!("qemu-system-{}", i.host.arch.qemu_name()));
    let mut cmd = command(&program);
    cmd.arg("--version");
    let version = match output(cmd, LOCAL).await {
        Ok(o) if o.status.success() => first_line(&o),
        _ => {
            return DoctorCheck::problem(
                Fail,
                ID,
                T,
                format!("{program} did not run"),
                "QEMU is not installed, or not on PATH.",
                match i.host.os {
                    Os::Linux => "Install it: `sudo apt-get install qemu-system-x86` (or your distribution's qemu).",
                    Os::Macos => "Use the Builderbar image (it brings qemu) or `nix profile install nixpkgs#qemu`.",
                },
            )
        }
    };
    let facts = AccelFacts::probe(&i.vm_files.kvm_broken_marker());
    let accels = match i.host.os {
        Os::Macos => "hvf, tcg".to_string(),
        Os::Linux if facts.kvm_device && !facts.kvm_known_broken => "kvm, tcg".into(),
        Os::Linux if facts.kvm_device => "tcg (KVM exists but could not run the guest here)".into(),
        Os::Linux => "tcg (no usable /dev/kvm)".into(),
    };
    DoctorCheck::pass(ID, T, format!("{version}; accelerators: {accels}"))
}

#[cfg(test)]
mod tests;
