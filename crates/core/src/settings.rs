//! User settings: cores, memory, disk, port, accelerator, on-demand, image; validated, stored as JSON.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::UserFacing;
use crate::host::{Host, Os};

/// Which hypervisor backs the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Accelerator {
    /// hvf on macOS; kvm on Linux when it works, else tcg.
    #[default]
    Auto,
    Hvf,
    Kvm,
    Tcg,
}

impl Accelerator {
    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Auto => "auto",
            Accelerator::Hvf => "hvf",
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }
}

impl std::str::FromStr for Accelerator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Accelerator::Auto),
            "hvf" => Ok(Accelerator::Hvf),
            "kvm" => Ok(Accelerator::Kvm),
            "tcg" => Ok(Accelerator::Tcg),
            other => Err(format!("unknown accelerator \"{other}\"; choose auto, hvf, kvm or tcg")),
        }
    }
}

/// Everything the user can change. Stored at `<data dir>/settings.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct Settings {
    /// Virtual CPUs.
    pub cores: u32,
    /// Guest memory in MiB.
    #[ts(type = "number")]
    pub memory_mib: u64,
    /// Size of the writable state disk in GiB (only used when it is first created).
    #[ts(type = "number")]
    pub disk_gib: u64,
    /// Loopback port the builder's SSH is reachable on.
    pub port: u16,
    pub accelerator: Accelerator,
    /// Start the builder when a build connects; stop it after `idle_minutes` without one.
    pub on_demand: bool,
    pub idle_minutes: u32,
    /// Image directory (holding builderbar-image.json); None = the default for this host.
    #[ts(type = "string | null")]
    pub image: Option<PathBuf>,
    /// Where setup gets images: a flake reference, or a Nix file taking `stage`; None = the
    /// flake Builderbar ships.
    pub image_source: Option<String>,
    /// Seconds to wait for a graceful guest shutdown before qemu is told to quit.
    pub stop_timeout_secs: u32,
    /// Start Builderbar at login (the app's autostart).
    pub start_at_login: bool,
    /// Notify when the builder fails, or is ready after an on-demand start.
    pub notifications: bool,
    /// Nix's configuration directory for setup and doctor (None: /etc/nix).
    #[ts(type = "string | null")]
    pub nix_conf_dir: Option<PathBuf>,
    /// The ssh client's drop-in directory for setup and doctor (None: /etc/ssh/ssh_config.d).
    #[ts(type = "string | null")]
    pub ssh_config_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            cores: default_cores(),
            memory_mib: 3072,
            disk_gib: 40,
            port: 31022,
            accelerator: Accelerator::Auto,
            on_demand: false,
            idle_minutes: 180,
            image: None,
            image_source: None,
            stop_timeout_secs: 30,
            start_at_login: false,
            notifications: false,
            nix_conf_dir: None,
            ssh_config_dir: None,
        }
    }
}

fn default_cores() -> u32 {
    std::thread::available_parallelism().map(|n| (n.get() as u32 / 2).max(1)).unwrap_or(1)
}

/// One invalid value: which setting and why, in words for the settings window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {}", list(.0))]
    Invalid(Vec<FieldError>),
    /// Saved settings (perhaps edited by hand) that a start cannot use.
    #[error("the settings in {} are not valid: {}", .path.display(), list(.fields))]
    Stored { path: PathBuf, fields: Vec<FieldError> },
    #[error("cannot read settings file {}: {message}", .path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("cannot save settings to {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

fn list(fields: &[FieldError]) -> String {
    fields.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

impl UserFacing for SettingsError {
    fn hint(&self) -> String {
        match self {
            SettingsError::Invalid(_) => "Change the named values; nothing was saved.".into(),
            SettingsError::Stored { .. } => "Change them with `builderbar settings set <name> <value>` or in the \
                 Settings window (each value is checked there), then start again."
                .into(),
            SettingsError::Unreadable { path, .. } => {
                format!("Fix or delete {} (Builderbar then uses its defaults).", path.display())
            }
            SettingsError::Write { .. } => "Check that the data directory is writable and the disk is not full.".into(),
        }
    }
}

/// Facts about the machine that decide which values are valid.
pub struct HostLimits {
    pub host: Host,
    pub cpus: u32,
    pub memory_mib: u64,
    /// Whether a port is free to listen on (or already held by our own builder).
    pub port_available: Box<dyn Fn(u16) -> bool + Send + Sync>,
}

impl HostLimits {
    /// The real machine: CPU count, total memory, and a loopback bind test for ports.
    /// `own_port` is the port our running builder already holds, if any.
    pub fn detect(host: Host, own_port: Option<u16>) -> HostLimits {
        let memory_mib = sysinfo::System::new()
            .map(|mut sys| {
                sys.refresh_memory();
                sys.total_memory() / (1024 * 1024)
            })
            .unwrap_or(u64::MAX);
        HostLimits {
            host,
            cpus: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
            memory_mib,
            port_available: Box::new(move |p| Some(p) == own_port || port_is_free(p)),
        }
    }
}

/// True when nothing listens on 127.0.0.1:port.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

impl Settings {
    /// Every problem with these values, or Ok. The image is checked by loading its manifest.
    pub fn validate(&self, limits: &HostLimits) -> Result<(), SettingsError> {
        let errs = self.problems(limits, true);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Invalid(errs))
        }
    }

    /// What a start checks of settings read from `path` (perhaps edited by hand): every value
    /// in range for this machine. Whether the port is free, and the image, the start checks
    /// itself (it may be given another image).
    pub fn validate_for_start(&self, host: Host, path: &Path) -> Result<(), SettingsError> {
        let limits = HostLimits { port_available: Box::new(|_| true), ..HostLimits::detect(host, None) };
        let fields = self.problems(&limits, false);
        if fields.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Stored { path: path.into(), fields })
        }
    }

    fn problems(&self, limits: &HostLimits, load_image: bool) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut bad = |field: &str, message: String| errs.push(FieldError { field: field.into(), message });
        if self.cores == 0 {
            bad("cores", "must be at least 1".into());
        } else if self.cores > limits.cpus {
            bad("cores", format!("is {}, but this machine has {} CPU cores", self.cores, limits.cpus));
        }
        if self.memory_mib < 256 {
            bad("memory_mib", format!("is {} MiB; the builder needs at least 256 MiB", self.memory_mib));
        } else if self.memory_mib > limits.memory_mib {
            bad(
                "memory_mib",
                format!("is {} MiB, more than this machine's {} MiB of memory", self.memory_mib, limits.memory_mib),
            );
        }
        if self.disk_gib == 0 || self.disk_gib > 4096 {
            bad("disk_gib", format!("is {} GiB; choose 1 to 4096", self.disk_gib));
        }
        if self.port < 1024 {
            bad("port", format!("is {}; ports below 1024 need root; choose 1024 to 65535", self.port));
        } else if !(limits.port_available)(self.port) {
            bad("port", format!("127.0.0.1:{} is already in use by another program; choose a free port", self.port));
        }
        match (self.accelerator, limits.host.os) {
            (Accelerator::Hvf, Os::Linux) => {
                bad("accelerator", "hvf exists only on macOS; use auto, kvm or tcg".into())
            }
            (Accelerator::Kvm, Os::Macos) => {
                bad("accelerator", "kvm exists only on Linux; use auto, hvf or tcg".into())
            }
            _ => {}
        }
        if self.on_demand && self.port == u16::MAX {
            bad("port", "is 65535; on demand the builder also needs the next port, so choose 1024 to 65534".into());
        } else if self.on_demand && self.port >= 1024 && !(limits.port_available)(self.forward_port()) {
            let p = self.forward_port();
            bad("port", format!("on demand the builder also needs 127.0.0.1:{p}, which another program uses"));
        }
        if self.on_demand && (self.idle_minutes == 0 || self.idle_minutes > 24 * 60) {
            bad("idle_minutes", format!("is {}; choose 1 to 1440 minutes", self.idle_minutes));
        }
        if self.stop_timeout_secs == 0 || self.stop_timeout_secs > 600 {
            bad("stop_timeout_secs", format!("is {}; choose 1 to 600 seconds", self.stop_timeout_secs));
        }
        // A relative path would mean something else in each process (its working directory).
        for (field, path) in
            [("image", &self.image), ("nix_conf_dir", &self.nix_conf_dir), ("ssh_config_dir", &self.ssh_config_dir)]
        {
            if let Some(p) = path.as_ref().filter(|p| !p.is_absolute()) {
                bad(field, format!("is \"{}\", a relative path; give an absolute path", p.display()));
            }
        }
        if let Some(image) = self.image.as_ref().filter(|p| load_image && p.is_absolute()) {
            match crate::image::ImageManifest::load(image) {
                Ok(m) if m.min_memory_mib > self.memory_mib => bad(
                    "memory_mib",
                    format!(
                        "is {} MiB; the image \"{}\" needs at least {} MiB",
                        self.memory_mib, m.name, m.min_memory_mib
                    ),
                ),
                Ok(_) => {}
                Err(e) => bad("image", e.to_string()),
            }
        }
        errs
    }

    /// Reads the settings file; a missing file means defaults. Unknown or mistyped values are
    /// errors (naming the setting), never silently dropped.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Settings::from_json(&text).map_err(|message| SettingsError::Unreadable { path: path.into(), message })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(SettingsError::Unreadable { path: path.into(), message: e.to_string() }),
        }
    }

    /// Parses settings JSON; the error names the offending setting.
    pub fn from_json(text: &str) -> Result<Settings, String> {
        serde_json::from_str(text).map_err(|e| {
            // serde says where ("line 1 column 34"), not which setting: try each one alone.
            let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
                return e.to_string();
            };
            for (key, value) in map {
                let alone = serde_json::Value::Object([(key.clone(), value)].into_iter().collect());
                let Err(e) = serde_json::from_value::<Settings>(alone) else { continue };
                let msg = e.to_string();
                // "unknown variant `x`, expected one of ..." comes from the accelerator enum.
                if key == "accelerator" && msg.starts_with("unknown variant") {
                    let v = msg.split('`').nth(1).unwrap_or("");
                    return format!("accelerator: unknown accelerator \"{v}\"; choose auto, hvf, kvm or tcg");
                }
                return format!("{key}: {msg}");
            }
            e.to_string()
        })
    }

    /// Validates, then writes atomically. Invalid settings change nothing on disk.
    pub fn save(&self, path: &Path, limits: &HostLimits) -> Result<(), SettingsError> {
        self.validate(limits)?;
        let json = serde_json::to_string_pretty(self).expect("settings serialize");
        crate::fsutil::write_atomic(path, format!("{json}\n").as_bytes(), 0o644)
            .map_err(|e| SettingsError::Write { path: e.path, source: e.source })
    }

    /// The loopback port qemu forwards to the guest's sshd. `port` is what Nix's ssh config
    /// names; on demand the gateway listens there and qemu forwards the next port up.
    pub fn forward_port(&self) -> u16 {
        if self.on_demand {
            self.port.saturating_add(1)
        } else {
            self.port
        }
    }

    /// Whether a running VM must restart to apply the change from `old` to `self`.
    pub fn needs_vm_restart(&self, old: &Settings) -> bool {
        self.cores != old.cores
            || self.memory_mib != old.memory_mib
            || self.port != old.port
            || self.forward_port() != old.forward_port()
            || self.accelerator != old.accelerator
            || self.image != old.image
    }
}

pub mod managed;

#[cfg(test)]
mod tests;
