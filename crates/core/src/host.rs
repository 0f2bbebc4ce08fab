//! The machine we run on, as data: OS and CPU, detected at run time, never by cfg.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Os {
    Macos,
    Linux,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Arch {
    Aarch64,
    X86_64,
}

impl Arch {
    /// The Nix system double of a Linux guest on this CPU.
    pub fn linux_system(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-linux",
            Arch::X86_64 => "x86_64-linux",
        }
    }

    /// qemu's name for this CPU family (qemu-system-<name>).
    pub fn qemu_name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }
}

/// The host: everything OS-specific is chosen from this value at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Host {
    pub os: Os,
    pub arch: Arch,
}

impl Host {
    pub const MACOS_AARCH64: Host = Host { os: Os::Macos, arch: Arch::Aarch64 };
    pub const MACOS_X86_64: Host = Host { os: Os::Macos, arch: Arch::X86_64 };
    pub const LINUX_X86_64: Host = Host { os: Os::Linux, arch: Arch::X86_64 };
    pub const LINUX_AARCH64: Host = Host { os: Os::Linux, arch: Arch::Aarch64 };

    /// The host this process runs on. `BUILDERBAR_HOST=macos-aarch64` (etc.) overrides it,
    /// so the macOS paths can be exercised on Linux in tests.
    pub fn detect() -> Host {
        if let Ok(v) = std::env::var("BUILDERBAR_HOST") {
            if let Some(h) = Host::parse(&v) {
                return h;
            }
        }
        let os = match std::env::consts::OS {
            "macos" => Os::Macos,
            _ => Os::Linux,
        };
        let arch = match std::env::consts::ARCH {
            "aarch64" => Arch::Aarch64,
            _ => Arch::X86_64,
        };
        Host { os, arch }
    }

    /// Parses `macos-aarch64`, `linux-x86_64`, ...
    pub fn parse(s: &str) -> Option<Host> {
        let (os, arch) = s.split_once('-')?;
        let os = match os {
            "macos" | "darwin" => Os::Macos,
            "linux" => Os::Linux,
            _ => return None,
        };
        let arch = match arch {
            "aarch64" | "arm64" => Arch::Aarch64,
            "x86_64" | "amd64" => Arch::X86_64,
            _ => return None,
        };
        Some(Host { os, arch })
    }

    /// The Linux system a builder on this host runs natively.
    pub fn native_linux_system(self) -> &'static str {
        self.arch.linux_system()
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let os = match self.os {
            Os::Macos => "macos",
            Os::Linux => "linux",
        };
        write!(f, "{os}-{}", self.arch.qemu_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for h in [Host::MACOS_AARCH64, Host::MACOS_X86_64, Host::LINUX_X86_64, Host::LINUX_AARCH64] {
            assert_eq!(Host::parse(&h.to_string()), Some(h));
        }
        assert_eq!(Host::parse("darwin-arm64"), Some(Host::MACOS_AARCH64));
        assert_eq!(Host::parse("windows-x86_64"), None);
    }
}
