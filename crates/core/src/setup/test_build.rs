//! The proof that setup worked: a real `nix-build --max-jobs 0` dispatched to the builder.

use std::path::PathBuf;

use crate::setup::plan::SetupError;
use crate::setup::target::SetupTarget;

/// How to run the host's Nix for the test build.
#[derive(Debug, Clone)]
pub struct TestBuild {
    /// The guest's system (`aarch64-linux`).
    pub system: String,
    /// Where the wiring was written. Outside /etc/nix, Nix is pointed at it with NIX_CONF_DIR
    /// (single-user) and ssh with `-F` on our ssh_config file.
    pub target: SetupTarget,
    /// `nix-build` to run (from PATH by default).
    pub nix_build: PathBuf,
}

/// A derivation that can only be built on the builder: it records the kernel release and
/// host name it ran on. The nonce makes every run a real build, never a cached one.
const EXPR: &str = r#"{ system, nonce }: derivation {
  name = "builderbar-test-build";
  inherit system nonce;
  builder = "/bin/sh";
  args = [ "-c" "read r < /proc/sys/kernel/osrelease; read h < /proc/sys/kernel/hostname; echo \"$r $h\" > $out" ];
}"#;

impl TestBuild {
    pub fn new(system: &str, target: SetupTarget) -> TestBuild {
        TestBuild { system: system.into(), target, nix_build: "nix-build".into() }
    }

    /// The command, as an argv plus environment.
    pub fn command(&self, nonce: &str) -> std::process::Command {
        let mut c = std::process::Command::new(&self.nix_build);
        c.args(["--no-out-link", "--max-jobs", "0", "-E", EXPR, "--argstr", "system", &self.system])
            .args(["--argstr", "nonce", nonce]);
        if self.target.nix_conf_dir != std::path::Path::new("/etc/nix") {
            c.env("NIX_CONF_DIR", &self.target.nix_conf_dir)
                .env("NIX_USER_CONF_FILES", "/dev/null")
                .env("NIX_REMOTE", "")
                .env("NIX_SSHOPTS", format!("-F {}", self.target.ssh_config_file().display()));
        }
        c
    }

    /// Runs the build (blocking); the output is what the derivation recorded inside the builder.
    pub fn run(&self) -> Result<String, SetupError> {
        let nonce = format!("{}-{}", std::process::id(), crate::vm::state::now_ms());
        let out = self
            .command(&nonce)
            .output()
            .map_err(|e| SetupError::TestBuild(format!("cannot run {}: {e}", self.nix_build.display())))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(SetupError::TestBuild(tail.join("\n")));
        }
        let path = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").trim().to_string();
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| SetupError::TestBuild(format!("built {path} but cannot read it: {e}")))
    }
}
