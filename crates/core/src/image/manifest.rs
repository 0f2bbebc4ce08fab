//! The image manifest: typed, versioned, validated; relative paths resolve against its file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::UserFacing;

pub const MANIFEST_FILE: &str = "builderbar-image.json";
pub const SCHEMA_VERSION: u32 = 1;

/// A builder image as the app sees it. Every path is absolute after [`ImageManifest::load`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageManifest {
    pub schema: u32,
    /// Shown to the user ("NixOS 25.05 darwin.linux-builder", "Builderbar test guest").
    pub name: String,
    /// Nix system of the guest: `aarch64-linux` or `x86_64-linux`.
    pub system: String,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Kernel command line, without the console= argument (the app adds it).
    #[serde(default)]
    pub cmdline: String,
    /// Guest console device: `ttyS0` (x86) or `ttyAMA0` (aarch64 virt).
    pub console: String,
    /// A line the guest prints on its console when sshd listens; wakes the readiness check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_marker: Option<String>,
    pub ssh: SshSpec,
    pub host_key: HostKeySpec,
    pub keys: KeyChannel,
    #[serde(default)]
    pub disks: Vec<DiskSpec>,
    #[serde(default)]
    pub shares: Vec<ShareSpec>,
    /// The least memory the guest boots with, in MiB.
    #[serde(default = "default_min_memory")]
    pub min_memory_mib: u64,
    /// A directory with the qemu this image comes with (`qemu-system-<arch>`, `qemu-img`), e.g.
    /// nixpkgs' qemu, signed with the hypervisor entitlement on macOS. Without it the app finds qemu itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu: Option<PathBuf>,
}

fn default_min_memory() -> u64 {
    256
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSpec {
    pub user: String,
    #[serde(default = "default_guest_port")]
    pub port: u16,
}

fn default_guest_port() -> u16 {
    22
}

/// How the guest gets its SSH host key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostKeySpec {
    /// Generated per install and handed over at boot through the key channel (the safe default).
    Runtime,
    /// Fixed in the image and publicly known (nixpkgs' stock darwin builder): pinned, but
    /// the UI warns that anyone can impersonate it on this machine's loopback.
    Fixed { public: String },
}

/// How the runtime keys reach the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyChannel {
    /// `-fw_cfg name=<prefix>/<file>,file=...`; read at /sys/firmware/qemu_fw_cfg/by_name/.
    FwCfg {
        prefix: String,
        #[serde(default)]
        files: KeyFiles,
    },
    /// A 9p share of the keys directory, mounted by the guest under `tag`. With a `mapped-*`
    /// security model the app records what it writes as owned by root (uid 0, gid 0), so the
    /// guest's sshd accepts the files (StrictModes).
    Share {
        tag: String,
        /// qemu's 9p security model for this share (nixpkgs' darwin builder uses `mapped-xattr`).
        #[serde(default = "default_security_model")]
        security_model: String,
        #[serde(default)]
        files: KeyFiles,
    },
}

impl KeyChannel {
    /// The names under which the guest looks for each key in the channel.
    pub fn files(&self) -> &KeyFiles {
        match self {
            KeyChannel::FwCfg { files, .. } | KeyChannel::Share { files, .. } => files,
        }
    }
}

/// File names inside the key channel. The defaults suit Builderbar's own guests; a stock image
/// names what it expects (nixpkgs' darwin builder reads `/var/keys/builder_ed25519.pub`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFiles {
    /// The client's public key, one OpenSSH `authorized_keys` line.
    #[serde(default = "default_authorized_keys")]
    pub authorized_keys: String,
    /// The guest's private host key (OpenSSH format); only written when `host_key` is `runtime`.
    #[serde(default = "default_host_key_file")]
    pub host_key: String,
}

impl Default for KeyFiles {
    fn default() -> Self {
        KeyFiles { authorized_keys: default_authorized_keys(), host_key: default_host_key_file() }
    }
}

fn default_authorized_keys() -> String {
    "authorized_keys".into()
}

fn default_host_key_file() -> String {
    "ssh_host_ed25519_key".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DiskSpec {
    /// A file shipped with the image (e.g. the read-only Nix store image).
    Image {
        path: PathBuf,
        format: DiskFormat,
        #[serde(default)]
        read_only: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
    },
    /// The writable state disk, created on first start at the configured size.
    State {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
        /// Create the disk as a copy of this image instead of empty (a guest that does not
        /// format its own disk, e.g. nixpkgs' darwin builder expects ext4 labelled `nixos`).
        /// The disk then has the template's size.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<DiskTemplate>,
    },
}

/// A disk image file that seeds the state disk; its path resolves like the other paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskTemplate {
    pub path: PathBuf,
    pub format: DiskFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

impl DiskFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSpec {
    pub tag: String,
    pub source: ShareSource,
    /// qemu's 9p security model: `none`, `mapped-xattr`, `passthrough`.
    #[serde(default = "default_security_model")]
    pub security_model: String,
    #[serde(default)]
    pub read_only: bool,
}

fn default_security_model() -> String {
    "none".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShareSource {
    /// A directory of the host named by the image (e.g. `/nix/store`).
    Host { path: PathBuf },
    /// A directory under the VM's state directory, created on start (e.g. `xchg`).
    StateDir { name: String },
}

/// A manifest that cannot be used, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("no image manifest at {}: {source}", .path.display())]
    Missing { path: PathBuf, source: std::io::Error },
    #[error("image manifest {} is not valid: {message}", .path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("image manifest {}: field `{field}` {problem}", .path.display())]
    Field { path: PathBuf, field: String, problem: String },
}

impl UserFacing for ManifestError {
    fn hint(&self) -> String {
        match self {
            ManifestError::Missing { .. } => {
                "Point the image setting (or --image) at a directory that holds builderbar-image.json, \
                 e.g. one built by tests/guest/build.sh or `nix build .#builder-image`."
                    .into()
            }
            ManifestError::Syntax { .. } | ManifestError::Field { .. } => {
                "Rebuild the image, or fix the named field; docs/ARCHITECTURE.md describes the manifest.".into()
            }
        }
    }
}

impl ImageManifest {
    /// Reads `<dir>/builderbar-image.json` (or the file itself), validates it and makes
    /// every relative path absolute against the manifest's directory.
    pub fn load(dir_or_file: &Path) -> Result<ImageManifest, ManifestError> {
        let path = if dir_or_file.is_dir() { dir_or_file.join(MANIFEST_FILE) } else { dir_or_file.to_path_buf() };
        let text =
            std::fs::read_to_string(&path).map_err(|source| ManifestError::Missing { path: path.clone(), source })?;
        ImageManifest::parse(&text, &path)
    }

    /// Parses and validates manifest text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<ImageManifest, ManifestError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ManifestError::Syntax { path: path.into(), message: e.to_string() })?;
        // Check the schema first so an old or future manifest says so, not "unknown field".
        match value.get("schema") {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
            Some(other) => {
                return Err(field(path, "schema", format!("is {other}; this Builderbar reads schema {SCHEMA_VERSION}")))
            }
            None => return Err(field(path, "schema", "is missing".into())),
        }
        let mut m: ImageManifest = serde_json::from_value(value).map_err(|e| serde_error(path, &e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        m.validate(path)?;
        let inside = |name: &str, p: &mut PathBuf| -> Result<(), ManifestError> {
            *p = resolve_inside(base, p).map_err(|problem| field(path, name, problem))?;
            Ok(())
        };
        inside("kernel", &mut m.kernel)?;
        inside("initrd", &mut m.initrd)?;
        if let Some(q) = &mut m.qemu {
            inside("qemu", q)?;
        }
        for (i, d) in m.disks.iter_mut().enumerate() {
            match d {
                DiskSpec::Image { path: p, .. } => inside(&format!("disks[{i}].path"), p)?,
                DiskSpec::State { template: Some(DiskTemplate { path: p, .. }), .. } => {
                    inside(&format!("disks[{i}].template.path"), p)?
                }
                DiskSpec::State { template: None, .. } => {}
            }
        }
        for (i, s) in m.shares.iter_mut().enumerate() {
            if let ShareSource::Host { path: p } = &mut s.source {
                inside(&format!("shares[{i}].source.path"), p)?;
            }
        }
        Ok(m)
    }

    fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        if !matches!(self.system.as_str(), "aarch64-linux" | "x86_64-linux") {
            return Err(field(
                path,
                "system",
                format!("is \"{}\"; expected aarch64-linux or x86_64-linux", self.system),
            ));
        }
        for (name, p) in [("kernel", &self.kernel), ("initrd", &self.initrd)] {
            if p.as_os_str().is_empty() {
                return Err(field(path, name, "is empty".into()));
            }
        }
        if self.qemu.as_ref().is_some_and(|q| q.as_os_str().is_empty()) {
            return Err(field(path, "qemu", "is empty".into()));
        }
        if self.console.is_empty() || !self.console.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(field(path, "console", format!("is \"{}\"; expected a device name like ttyS0", self.console)));
        }
        if self.cmdline.split_whitespace().any(|w| w.starts_with("console=")) {
            return Err(field(path, "cmdline", "must not set console=; the app adds it from `console`".into()));
        }
        if self.ssh.user.is_empty() || !self.ssh.user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(field(path, "ssh.user", format!("is \"{}\"; expected a plain user name", self.ssh.user)));
        }
        if self.ssh.port == 0 {
            return Err(field(path, "ssh.port", "is 0".into()));
        }
        if let HostKeySpec::Fixed { public } = &self.host_key {
            if ssh_key::PublicKey::from_openssh(public).is_err() {
                return Err(field(path, "host_key.public", "is not an OpenSSH public key".into()));
            }
        }
        match &self.keys {
            KeyChannel::FwCfg { prefix, .. } if !is_plain_name(prefix, true) => {
                return Err(field(path, "keys.prefix", format!("is \"{prefix}\"; expected e.g. opt/builderbar")));
            }
            KeyChannel::Share { tag, .. } if !is_plain_name(tag, false) => {
                return Err(field(path, "keys.tag", format!("is \"{tag}\"; expected a 9p mount tag")));
            }
            KeyChannel::Share { security_model, .. } if !is_security_model(security_model) => {
                return Err(field(path, "keys.security_model", format!("is \"{security_model}\"")));
            }
            _ => {}
        }
        let files = self.keys.files();
        for (name, value) in
            [("keys.files.authorized_keys", &files.authorized_keys), ("keys.files.host_key", &files.host_key)]
        {
            if !is_plain_name(value, false) {
                return Err(field(path, name, format!("is \"{value}\"; expected a plain file name")));
            }
        }
        for (i, d) in self.disks.iter().enumerate() {
            if let DiskSpec::State { template: Some(t), .. } = d {
                if t.path.as_os_str().is_empty() {
                    return Err(field(path, &format!("disks[{i}].template.path"), "is empty".into()));
                }
            }
        }
        if self.disks.iter().filter(|d| matches!(d, DiskSpec::State { .. })).count() > 1 {
            return Err(field(path, "disks", "names more than one state disk".into()));
        }
        for (i, s) in self.shares.iter().enumerate() {
            if !is_plain_name(&s.tag, false) {
                return Err(field(path, &format!("shares[{i}].tag"), format!("is \"{}\"", s.tag)));
            }
            if !is_security_model(&s.security_model) {
                return Err(field(
                    path,
                    &format!("shares[{i}].security_model"),
                    format!("is \"{}\"", s.security_model),
                ));
            }
            if let ShareSource::StateDir { name } = &s.source {
                if !is_plain_name(name, false) {
                    return Err(field(path, &format!("shares[{i}].source.name"), format!("is \"{name}\"")));
                }
            }
        }
        if self.min_memory_mib < 128 {
            return Err(field(path, "min_memory_mib", format!("is {}; at least 128", self.min_memory_mib)));
        }
        Ok(())
    }

    /// The guest's CPU family, from `system`.
    pub fn guest_arch(&self) -> crate::host::Arch {
        if self.system.starts_with("aarch64") {
            crate::host::Arch::Aarch64
        } else {
            crate::host::Arch::X86_64
        }
    }
}

fn is_security_model(s: &str) -> bool {
    matches!(s, "none" | "mapped" | "mapped-xattr" | "mapped-file" | "passthrough")
}

/// Names that end up inside qemu option values and file names: no commas, no `=`, no spaces,
/// and (as a file name, or each part of a path) never `.` or `..`.
fn is_plain_name(s: &str, allow_slash: bool) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || (allow_slash && c == '/'))
        && s.split('/').all(|part| part != "." && part != "..")
}

/// The Nix store, where a built image's files may live outside its own directory.
const NIX_STORE: &str = "/nix/store";

/// `p` made absolute against the image directory `base`; it must stay inside that directory
/// (relative, without `..`) or name a path in the Nix store.
fn resolve_inside(base: &Path, p: &Path) -> Result<PathBuf, String> {
    use std::path::Component;
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("is \"{}\"; `..` may not lead out of the image directory", p.display()));
    }
    if p.is_absolute() && !(p.starts_with(NIX_STORE) || p.starts_with(base)) {
        return Err(format!(
            "is \"{}\"; a path must be relative to the image directory or in {NIX_STORE}",
            p.display()
        ));
    }
    Ok(base.join(p))
}

fn field(path: &Path, name: &str, problem: String) -> ManifestError {
    ManifestError::Field { path: path.into(), field: name.into(), problem }
}

/// serde says "missing field `x`" or "unknown field `x`"; lift the field name out of it.
fn serde_error(path: &Path, e: &serde_json::Error) -> ManifestError {
    let msg = e.to_string();
    let name = msg.split('`').nth(1).map(str::to_string);
    match name {
        Some(n) if msg.starts_with("missing field") => field(path, &n, "is missing".into()),
        Some(n) if msg.starts_with("unknown field") => field(path, &n, "is not a known field".into()),
        _ => ManifestError::Syntax { path: path.into(), message: msg },
    }
}

#[cfg(test)]
pub(crate) mod tests;
