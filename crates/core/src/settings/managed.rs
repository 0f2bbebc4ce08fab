//! Settings a system configuration manages: nix-darwin's `/etc/builderbar/settings.json`
//! (docs/flake.md), laid over the user's as read-only values. Its `image` (stock, builderbar
//! or a directory) chooses among the images setup fetched; `login_agent` keeps the app's own
//! start-at-login off.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{FieldError, Settings, SettingsError};
use crate::image::installed::{stage_of, InstalledImages};

/// Where nix-darwin's module writes the file; `BUILDERBAR_MANAGED_SETTINGS` moves it (tests).
pub const MANAGED_SETTINGS_FILE: &str = "/etc/builderbar/settings.json";

pub fn managed_settings_path() -> PathBuf {
    std::env::var_os("BUILDERBAR_MANAGED_SETTINGS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(MANAGED_SETTINGS_FILE))
}

/// The values the module sets, named as in the app's settings.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ManagedValues {
    pub cores: Option<u32>,
    pub memory_mib: Option<u64>,
    pub disk_gib: Option<u64>,
    pub port: Option<u16>,
    pub on_demand: Option<bool>,
    pub idle_minutes: Option<u32>,
}

/// The file as the module writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManagedFile {
    pub managed_by: String,
    #[serde(default)]
    pub settings: ManagedValues,
    /// "stock", "builderbar" or an image directory.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub login_agent: bool,
    /// The wiring the module writes (null without `nixWiring.enable`); read by people, not here.
    #[serde(default)]
    pub nix_wiring: Option<serde_json::Value>,
}

/// What the UI shows as managed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Managed {
    /// "nix-darwin".
    pub managed_by: String,
    /// The file the values come from.
    pub file: String,
    /// The settings it fixes (read-only in the settings window).
    pub fields: Vec<String>,
    /// "stock", "builderbar", a directory, or null.
    pub image: Option<String>,
    /// nix-darwin starts the app at login; its own start-at-login stays off.
    pub login_agent: bool,
}

impl ManagedFile {
    /// The file at `path`; `None` when there is none (no system configuration manages us).
    pub fn load(path: &Path) -> Result<Option<ManagedFile>, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| SettingsError::Unreadable { path: path.into(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SettingsError::Unreadable { path: path.into(), message: e.to_string() }),
        }
    }

    fn pairs(&self, s: &mut Settings) -> Vec<(&'static str, bool)> {
        let v = &self.settings;
        let mut out = Vec::new();
        macro_rules! field {
            ($name:ident) => {
                if let Some(x) = v.$name {
                    out.push((stringify!($name), s.$name == x));
                    s.$name = x;
                }
            };
        }
        field!(cores);
        field!(memory_mib);
        field!(disk_gib);
        field!(port);
        field!(on_demand);
        field!(idle_minutes);
        out
    }

    /// The settings it fixes, by name.
    pub fn fields(&self) -> Vec<String> {
        self.pairs(&mut Settings::default()).into_iter().map(|(f, _)| f.to_string()).collect()
    }

    /// Lays the managed values over `s`; the image setting follows `image` when setup has
    /// such an image (`cache_dir`'s links; the newest of that stage), or names the directory.
    pub fn apply(&self, s: &mut Settings, cache_dir: &Path) {
        self.pairs(s);
        if self.login_agent {
            s.start_at_login = false;
        }
        match self.image.as_deref() {
            None | Some("") => {}
            Some(stage @ ("stock" | "builderbar")) => {
                let newest = InstalledImages::new(cache_dir)
                    .list()
                    .into_iter()
                    .filter(|i| i.manifest.as_ref().is_ok_and(|m| stage_of(m).name() == stage))
                    .max_by_key(|i| std::fs::symlink_metadata(&i.path).and_then(|m| m.modified()).ok());
                if let Some(i) = newest {
                    s.image = Some(i.path);
                }
            }
            Some(dir) => s.image = Some(PathBuf::from(dir)),
        }
    }

    /// The managed settings `new` would change: each is an error naming where to change it.
    pub fn check(&self, new: &Settings, path: &Path) -> Vec<FieldError> {
        let mut probe = new.clone();
        self.pairs(&mut probe)
            .into_iter()
            .filter(|(_, same)| !same)
            .map(|(field, _)| FieldError {
                field: field.into(),
                message: format!(
                    "is managed by {} ({}); change it there and rebuild (`darwin-rebuild switch`)",
                    self.managed_by,
                    path.display()
                ),
            })
            .collect()
    }

    pub fn view(&self, path: &Path) -> Managed {
        Managed {
            managed_by: self.managed_by.clone(),
            file: path.display().to_string(),
            fields: self.fields(),
            image: self.image.clone(),
            login_agent: self.login_agent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"managed_by":"nix-darwin","settings":{"cores":4,"memory_mib":3072,"disk_gib":40,"port":31022,
      "on_demand":false,"idle_minutes":180},"image":"stock","login_agent":true,
      "nix_wiring":{"host_alias":"builderbar-builder","ssh_config":"/etc/ssh/ssh_config.d/builderbar.conf",
      "ssh_key":"/etc/nix/builderbar_ed25519","public_host_key":"c3No"}}"#;

    #[test]
    fn the_modules_file_is_laid_over_the_users_settings_and_guards_its_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        assert_eq!(ManagedFile::load(&path).unwrap(), None);
        std::fs::write(&path, FILE).unwrap();
        let m = ManagedFile::load(&path).unwrap().unwrap();
        let mut s = Settings { cores: 2, port: 40000, start_at_login: true, ..Settings::default() };
        m.apply(&mut s, dir.path());
        assert_eq!((s.cores, s.port, s.start_at_login), (4, 31022, false));
        assert_eq!(m.fields(), ["cores", "memory_mib", "disk_gib", "port", "on_demand", "idle_minutes"]);
        assert!(m.check(&s, &path).is_empty());
        let changed = Settings { cores: 8, ..s.clone() };
        let errs = m.check(&changed, &path);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "cores");
        assert!(errs[0].message.contains("managed by nix-darwin") && errs[0].message.contains("darwin-rebuild"));
        let view = m.view(&path);
        assert!(view.login_agent && view.image.as_deref() == Some("stock"));
        std::fs::write(&path, "{not json").unwrap();
        assert!(ManagedFile::load(&path).is_err());
    }
}
