//! Which accelerator a VM gets: the setting, the host, the guest's CPU, and what works here.

use std::path::Path;

use crate::host::{Arch, Host, Os};
use crate::settings::Accelerator;
use crate::vm::error::VmError;

/// An accelerator qemu is actually started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Hvf,
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Hvf => "hvf",
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What the machine offers, gathered at run time (a value, so tests can supply any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccelFacts {
    /// /dev/kvm can be opened read-write.
    pub kvm_device: bool,
    /// An earlier auto start found that KVM hangs at early boot on this machine.
    pub kvm_known_broken: bool,
}

impl AccelFacts {
    pub fn probe(kvm_broken_marker: &Path) -> AccelFacts {
        AccelFacts {
            kvm_device: std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok(),
            kvm_known_broken: kvm_broken_marker.exists(),
        }
    }
}

/// Resolves the setting to the accelerator qemu gets, or says why it cannot run.
pub fn resolve(requested: Accelerator, host: Host, guest: Arch, facts: AccelFacts) -> Result<Accel, VmError> {
    let native = guest == host.arch;
    let cross = |accel: &str| VmError::AccelUnavailable {
        accel: accel.into(),
        why: format!("it cannot run a {} guest on this {} machine", guest.linux_system(), host.arch.qemu_name()),
    };
    match requested {
        Accelerator::Auto => Ok(match host.os {
            Os::Macos if native => Accel::Hvf,
            Os::Linux if native && facts.kvm_device && !facts.kvm_known_broken => Accel::Kvm,
            _ => Accel::Tcg,
        }),
        Accelerator::Tcg => Ok(Accel::Tcg),
        Accelerator::Hvf if host.os != Os::Macos => {
            Err(VmError::AccelUnavailable { accel: "hvf".into(), why: "it exists only on macOS".into() })
        }
        Accelerator::Hvf if !native => Err(cross("hvf")),
        Accelerator::Hvf => Ok(Accel::Hvf),
        Accelerator::Kvm if host.os != Os::Linux => {
            Err(VmError::AccelUnavailable { accel: "kvm".into(), why: "it exists only on Linux".into() })
        }
        Accelerator::Kvm if !native => Err(cross("kvm")),
        Accelerator::Kvm if !facts.kvm_device => Err(VmError::AccelUnavailable {
            accel: "kvm".into(),
            why: "/dev/kvm is missing or not writable by this user".into(),
        }),
        Accelerator::Kvm => Ok(Accel::Kvm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UserFacing;

    const KVM: AccelFacts = AccelFacts { kvm_device: true, kvm_known_broken: false };
    const NO_KVM: AccelFacts = AccelFacts { kvm_device: false, kvm_known_broken: false };
    const BROKEN: AccelFacts = AccelFacts { kvm_device: true, kvm_known_broken: true };

    #[test]
    fn auto_picks_the_native_hypervisor_and_falls_back_to_tcg() {
        use Accelerator::Auto;
        assert_eq!(resolve(Auto, Host::MACOS_AARCH64, Arch::Aarch64, NO_KVM).unwrap(), Accel::Hvf);
        assert_eq!(resolve(Auto, Host::MACOS_AARCH64, Arch::X86_64, NO_KVM).unwrap(), Accel::Tcg);
        assert_eq!(resolve(Auto, Host::LINUX_X86_64, Arch::X86_64, KVM).unwrap(), Accel::Kvm);
        assert_eq!(resolve(Auto, Host::LINUX_X86_64, Arch::X86_64, NO_KVM).unwrap(), Accel::Tcg);
        assert_eq!(resolve(Auto, Host::LINUX_X86_64, Arch::X86_64, BROKEN).unwrap(), Accel::Tcg);
    }

    #[test]
    fn forced_accelerators_fail_with_reasons() {
        let e = resolve(Accelerator::Kvm, Host::LINUX_X86_64, Arch::X86_64, NO_KVM).unwrap_err();
        assert!(e.to_string().contains("/dev/kvm is missing"), "{e}");
        assert!(e.hint().contains("tcg"));
        let e = resolve(Accelerator::Hvf, Host::MACOS_X86_64, Arch::Aarch64, NO_KVM).unwrap_err();
        assert!(e.to_string().contains("cannot run a aarch64-linux guest on this x86_64 machine"), "{e}");
        assert!(resolve(Accelerator::Hvf, Host::LINUX_X86_64, Arch::X86_64, KVM).is_err());
        assert_eq!(resolve(Accelerator::Kvm, Host::LINUX_X86_64, Arch::X86_64, BROKEN).unwrap(), Accel::Kvm);
        assert_eq!(resolve(Accelerator::Tcg, Host::MACOS_AARCH64, Arch::X86_64, NO_KVM).unwrap(), Accel::Tcg);
    }
}
