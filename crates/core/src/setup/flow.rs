//! The setup window's flow: where each step stands, and the one authorized apply.

use std::path::PathBuf;

use crate::doctor::{CheckStatus, DoctorReport};
use crate::error::ErrorReport;
use crate::host::Host;
use crate::image::ImageManifest;
use crate::keys::{fingerprint, InstallKeys};
use crate::privileged::{Applier, Elevation, Journal, SystemRunner};
use crate::setup::types::{SetupStep, SetupStepId, StepState};
use crate::setup::wiring::{builder_info, plan_setup, BuilderIdentity, WiringTarget};

/// Doctor checks that stop setup (the others are what setup fixes, or need a running builder).
pub const BLOCKING_CHECKS: [&str; 3] = ["nix-installed", "nix-conf-owner", "port"];

fn step(
    host: Host,
    id: SetupStepId,
    state: StepState,
    detail: impl Into<String>,
    error: Option<ErrorReport>,
) -> SetupStep {
    SetupStep { id, title: id.title(host).into(), state, detail: detail.into(), progress: None, error }
}

fn failed(host: Host, id: SetupStepId, e: ErrorReport) -> SetupStep {
    step(host, id, StepState::Failed, e.message.clone(), Some(e))
}

/// What setup needs, resolved by the caller.
pub struct SetupInputs<'a> {
    pub host: Host,
    pub keys_dir: PathBuf,
    pub data_dir: PathBuf,
    pub image_dir: Result<PathBuf, ErrorReport>,
    pub port: u16,
    pub cores: u32,
    pub target: &'a WiringTarget,
    pub elevation: Elevation,
}

fn identity(i: &SetupInputs<'_>) -> Result<(InstallKeys, BuilderIdentity), ErrorReport> {
    let dir = i.image_dir.clone()?;
    let image = ImageManifest::load(&dir).map_err(|e| ErrorReport::from_error(&e))?;
    let keys = InstallKeys::ensure(&i.keys_dir).map_err(|e| ErrorReport::from_error(&e))?;
    let id = BuilderIdentity::new(&image, &keys, i.port, i.cores).map_err(|e| ErrorReport::from_error(&e))?;
    Ok((keys, id))
}

/// Whether Nix is not yet wired to the builder (the app then opens the setup window).
pub fn setup_needed(i: &SetupInputs<'_>) -> bool {
    match identity(i) {
        Ok((_, id)) => !builder_info(&id, i.target).map(|b| b.wired).unwrap_or(false),
        Err(_) => true,
    }
}

/// Where each step stands now. `doctor` is the latest report, if one was run.
pub fn steps(i: &SetupInputs<'_>, doctor: Option<&DoctorReport>) -> Vec<SetupStep> {
    let h = i.host;
    let mut out = Vec::new();
    out.push(match doctor {
        None => step(h, SetupStepId::Checks, StepState::Pending, "", None),
        Some(r) => {
            match r.checks.iter().find(|c| c.status == CheckStatus::Fail && BLOCKING_CHECKS.contains(&c.id.as_str())) {
                Some(c) => failed(
                    h,
                    SetupStepId::Checks,
                    ErrorReport {
                        message: format!("{}: {}", c.title, c.cause.clone().unwrap_or_default()),
                        hint: c.fix.clone().unwrap_or_default(),
                        fields: vec![],
                    },
                ),
                None => {
                    step(h, SetupStepId::Checks, StepState::Done, "Nix, its configuration and the port are ready", None)
                }
            }
        }
    });
    let image = i.image_dir.clone().and_then(|d| ImageManifest::load(&d).map_err(|e| ErrorReport::from_error(&e)));
    out.push(match &image {
        Ok(m) => step(h, SetupStepId::Image, StepState::Done, m.name.clone(), None),
        Err(e) => failed(h, SetupStepId::Image, e.clone()),
    });
    let keys = InstallKeys::ensure(&i.keys_dir).and_then(|k| k.client_public().map(|p| fingerprint(&p)));
    out.push(match keys {
        Ok(fp) => step(h, SetupStepId::Keys, StepState::Done, format!("client key {fp}"), None),
        Err(e) => failed(h, SetupStepId::Keys, ErrorReport::from_error(&e)),
    });
    let wired = identity(i).ok().and_then(|(_, id)| builder_info(&id, i.target).ok()).map(|b| b.wired);
    let (auth, restart) = match wired {
        Some(true) => (
            step(h, SetupStepId::Authorize, StepState::Done, "Nix is wired to the builder", None),
            step(h, SetupStepId::Restart, StepState::Done, "", None),
        ),
        _ => (
            step(h, SetupStepId::Authorize, StepState::Pending, "", None),
            step(h, SetupStepId::Restart, StepState::Pending, "", None),
        ),
    };
    out.push(auth);
    out.push(restart);
    out.push(step(h, SetupStepId::TestBuild, StepState::Pending, "", None));
    out
}

/// Computes the Plan and applies it through the one authorization prompt.
pub fn apply(i: &SetupInputs<'_>) -> Result<Vec<SetupStep>, ErrorReport> {
    let (keys, id) = identity(i)?;
    let plan = plan_setup(i.host, &keys, &id, i.target, i.elevation.tool()).map_err(|e| ErrorReport::from_error(&e))?;
    if plan.view.darwin_snippet.is_none() && !plan.plan.is_empty() {
        let journal = Journal::new(&i.data_dir);
        let runner = SystemRunner::default();
        Applier::new(i.elevation, &runner)
            .with_journal(&journal)
            .apply(&plan.plan)
            .map_err(|e| ErrorReport::from_error(&e))?;
    }
    let mut out = steps(i, None);
    for s in &mut out {
        match s.id {
            SetupStepId::Checks => s.state = StepState::Done,
            SetupStepId::Authorize => {
                s.state = StepState::Done;
                s.detail = format!("{} file(s) changed", plan.plan.files.len());
            }
            SetupStepId::Restart => {
                s.state = if plan.view.restart.is_some() { StepState::Done } else { StepState::Skipped };
                s.detail = plan
                    .view
                    .restart
                    .clone()
                    .unwrap_or_else(|| "not needed: Nix reads the machines file per build".into());
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::Owner;

    const MANIFEST: &str = r#"{"schema":1,"name":"t","system":"x86_64-linux","kernel":"k","initrd":"i","console":"ttyS0",
      "ssh":{"user":"builder"},"host_key":{"kind":"runtime"},"keys":{"channel":"fw_cfg","prefix":"opt/builderbar"}}"#;

    #[test]
    fn steps_then_apply_without_elevation_wires_nix_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        std::fs::create_dir_all(&img).unwrap();
        std::fs::write(img.join("builderbar-image.json"), MANIFEST).unwrap();
        let nix = dir.path().join("nix");
        let ssh = dir.path().join("ssh");
        std::fs::create_dir_all(&nix).unwrap();
        std::fs::create_dir_all(&ssh).unwrap();
        let me = Owner { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() };
        let target = WiringTarget {
            nix_conf_dir: nix.clone(),
            ssh_config_dir: ssh,
            system_root: dir.path().into(),
            trusted_user: None,
            owner: me,
        };
        let inputs = SetupInputs {
            host: Host::LINUX_X86_64,
            keys_dir: dir.path().join("keys"),
            data_dir: dir.path().join("data"),
            image_dir: Ok(img),
            port: 31022,
            cores: 2,
            target: &target,
            elevation: Elevation::None,
        };
        assert!(setup_needed(&inputs));
        let before = steps(&inputs, None);
        assert_eq!(before.iter().map(|s| s.id).collect::<Vec<_>>(), SetupStepId::ALL);
        assert_eq!(before[3].state, StepState::Pending);
        let after = apply(&inputs).unwrap();
        assert_eq!(after[3].state, StepState::Done, "{after:?}");
        assert!(!setup_needed(&inputs));
        assert!(std::fs::read_to_string(nix.join("nix.conf")).unwrap().contains("builders = @"));
        // A second apply changes nothing and needs no prompt.
        apply(&inputs).unwrap();
        assert_eq!(steps(&inputs, None)[3].state, StepState::Done);
    }

    #[test]
    fn a_missing_image_fails_its_step_with_the_manifest_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = WiringTarget { nix_conf_dir: dir.path().join("nix"), ..WiringTarget::system() };
        let inputs = SetupInputs {
            host: Host::LINUX_X86_64,
            keys_dir: dir.path().join("keys"),
            data_dir: dir.path().join("data"),
            image_dir: Ok(dir.path().join("nowhere")),
            port: 31022,
            cores: 1,
            target: &target,
            elevation: Elevation::None,
        };
        let s = steps(&inputs, None);
        assert_eq!(s[1].state, StepState::Failed);
        assert!(s[1].error.as_ref().unwrap().message.contains("no image manifest"));
        assert!(apply(&inputs).is_err());
    }
}
