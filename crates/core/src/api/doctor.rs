//! The doctor as both faces run it: gathers what the checks look at (image, keys, the builder's
//! state, its SSH target) and runs them against a wiring target.

use crate::api::builder::image_dir;
use crate::doctor::{DoctorInputs, DoctorReport};
use crate::image::ImageManifest;
use crate::settings::Settings;
use crate::setup::{user_name, SetupTarget};
use crate::vm::{Supervisor, VmState};

/// All doctor checks for this host, settings and builder (what `builderbar doctor` prints and
/// the doctor window shows), against `target`.
pub async fn run(supervisor: &Supervisor, settings: &Settings, target: &SetupTarget) -> DoctorReport {
    let ctx = supervisor.context();
    let image = image_dir(ctx, settings).ok().and_then(|d| ImageManifest::load(&d).ok());
    let keys = ctx.keys();
    let status = supervisor.refresh().await;
    let ssh = if status.state == VmState::Running { supervisor.ssh_target().ok() } else { None };
    let inputs = DoctorInputs {
        host: ctx.host,
        settings,
        image: image.as_ref(),
        keys: &keys,
        target,
        status: &status,
        ssh,
        user: user_name(),
        vm_files: &ctx.files,
    };
    crate::doctor::run(&inputs).await
}
