//! Settings as both faces read, check and save them: validated against this machine, with our
//! own builder's and gateway's ports counted as free, and whether the change needs a restart.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::error::ApiError;
use crate::settings::managed::{managed_settings_path, Managed, ManagedFile};
use crate::settings::{FieldError, HostLimits, Settings, SettingsError};
use crate::vm::{VmContext, VmState, VmStatus};

/// What `settings_save` answers: whether the running builder must restart to apply the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SettingsSaved {
    pub restart_needed: bool,
}

/// The saved settings (defaults when there is no file yet), with what a system configuration
/// manages (nix-darwin's /etc/builderbar/settings.json) laid over them.
pub fn load(ctx: &VmContext) -> Result<Settings, ApiError> {
    let mut s = Settings::load(&ctx.paths.settings_file())?;
    if let Some(m) = ManagedFile::load(&managed_settings_path())? {
        m.apply(&mut s, &ctx.paths.cache_dir);
    }
    Ok(s)
}

/// What a system configuration manages, if anything (the settings window shows it read-only).
pub fn managed() -> Result<Option<Managed>, ApiError> {
    let path = managed_settings_path();
    Ok(ManagedFile::load(&path)?.map(|m| m.view(&path)))
}

/// This machine's limits. The port our builder holds (`builder`: its status as the caller
/// sees it) and the one our on-demand gateway serves are ours, not a conflict.
pub fn limits(ctx: &VmContext, builder: &VmStatus) -> HostLimits {
    let limits = HostLimits::detect(ctx.host, builder.port);
    let gateway = crate::gateway::serving_port(&ctx.paths.vm_dir);
    let free = limits.port_available;
    HostLimits { port_available: Box::new(move |p| Some(p) == gateway || free(p)), ..limits }
}

/// `limits` for a change from the saved settings `old`: ports they already name and that the
/// change keeps count as free. A port taken since is the next start's to report (it says so);
/// it must not keep any other value from being saved.
fn limits_for_change(ctx: &VmContext, builder: &VmStatus, old: &Settings, new: &Settings) -> HostLimits {
    let limits = limits(ctx, builder);
    let kept: Vec<u16> = if new.port == old.port && new.on_demand == old.on_demand {
        vec![old.port, old.forward_port()]
    } else {
        Vec::new()
    };
    let free = limits.port_available;
    HostLimits { port_available: Box::new(move |p| kept.contains(&p) || free(p)), ..limits }
}

/// Every problem with `settings`, per field; empty when they are valid.
pub fn validate(ctx: &VmContext, builder: &VmStatus, settings: &Settings) -> Result<Vec<FieldError>, ApiError> {
    let old = Settings::load(&ctx.paths.settings_file()).unwrap_or_default();
    let mut fields = managed_changes(settings)?;
    match settings.validate(&limits_for_change(ctx, builder, &old, settings)) {
        Ok(()) => {}
        Err(SettingsError::Invalid(more)) => fields.extend(more),
        Err(e) => return Err(e.into()),
    }
    Ok(fields)
}

/// The managed settings `settings` would change.
fn managed_changes(settings: &Settings) -> Result<Vec<FieldError>, ApiError> {
    let path = managed_settings_path();
    Ok(ManagedFile::load(&path)?.map(|m| m.check(settings, &path)).unwrap_or_default())
}

/// Validates and saves `new`; invalid settings change nothing on disk.
pub fn save(ctx: &VmContext, builder: &VmStatus, new: &Settings) -> Result<SettingsSaved, ApiError> {
    let path = ctx.paths.settings_file();
    let old = Settings::load(&path).unwrap_or_default();
    let managed = managed_changes(new)?;
    if !managed.is_empty() {
        return Err(SettingsError::Invalid(managed).into());
    }
    new.save(&path, &limits_for_change(ctx, builder, &old, new))?;
    let running = !matches!(builder.state, VmState::Stopped | VmState::Failed { .. });
    Ok(SettingsSaved { restart_needed: running && new.needs_vm_restart(&old) })
}
