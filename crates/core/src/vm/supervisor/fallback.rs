//! The `auto` accelerator's KVM → TCG fallback, in one place: KVM that qemu rejects, or that
//! hangs before the guest prints anything (nested KVM), is remembered as broken here (the
//! kvm-broken marker, so later `auto` starts go straight to TCG) and the start is made again
//! under TCG, with a notice that says so.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::warn;

use crate::settings::Accelerator;
use crate::vm::error::VmError;
use crate::vm::files::VmFiles;
use crate::vm::state::VmStatus;

use super::{StartRequest, Supervisor};

/// How long KVM gets to print its first console byte before it counts as hanging.
pub(super) const KVM_WATCHDOG: Duration = Duration::from_secs(20);

/// Why KVM was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KvmBroken {
    /// qemu refused to start with KVM; its own words.
    Rejected { summary: String },
    /// Nothing reached the console within [`KVM_WATCHDOG`].
    Hung,
}

impl KvmBroken {
    /// A start under `auto` that qemu refused because of KVM.
    pub fn rejected(req: &StartRequest, e: &VmError) -> Option<KvmBroken> {
        match e {
            VmError::QemuFailed { summary, .. }
                if req.settings.accelerator == Accelerator::Auto && summary.contains("KVM") =>
            {
                Some(KvmBroken::Rejected { summary: summary.clone() })
            }
            _ => None,
        }
    }

    /// What the marker file holds (and the log says).
    fn summary(&self) -> String {
        match self {
            KvmBroken::Rejected { summary } => summary.clone(),
            KvmBroken::Hung => "KVM hung at early boot".into(),
        }
    }

    /// What the user is told while the builder runs under TCG.
    pub fn notice(&self) -> String {
        match self {
            KvmBroken::Rejected { summary } => format!(
                "KVM could not run the guest here ({summary}), so the builder runs under TCG (slower). Set the \
                 accelerator to kvm to try it again."
            ),
            KvmBroken::Hung => "KVM hung at early boot on this machine (nested virtualization?), so the builder runs \
                                under TCG (slower). Set the accelerator to kvm to try it again."
                .into(),
        }
    }
}

/// Watches a KVM start until the guest's first console byte (or qemu's exit): true when
/// nothing came within [`KVM_WATCHDOG`].
pub(super) async fn kvm_hangs(files: &VmFiles, exit: &watch::Receiver<Option<ExitStatus>>) -> bool {
    kvm_hangs_within(files, exit, KVM_WATCHDOG).await
}

pub(super) async fn kvm_hangs_within(
    files: &VmFiles,
    exit: &watch::Receiver<Option<ExitStatus>>,
    watchdog: Duration,
) -> bool {
    let deadline = Instant::now() + watchdog;
    while Instant::now() < deadline {
        if std::fs::metadata(files.console_log()).map(|m| m.len() > 0).unwrap_or(false) || exit.borrow().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

impl Supervisor {
    /// Remembers that KVM is broken here and starts again under TCG, saying why.
    pub(super) async fn fall_back_to_tcg(&self, req: &StartRequest, why: KvmBroken) -> Result<VmStatus, VmError> {
        let summary = why.summary();
        warn!("{summary}; falling back to TCG");
        // The marker only spares the next start the wait: a failure to write it stops nothing.
        if let Err(e) = std::fs::write(self.files().kvm_broken_marker(), format!("{summary}\n")) {
            warn!("cannot write {}: {e}", self.files().kvm_broken_marker().display());
        }
        let mut tcg = req.clone();
        tcg.settings.accelerator = Accelerator::Tcg;
        Box::pin(self.start_locked(&tcg, Some(why.notice()))).await
    }
}
