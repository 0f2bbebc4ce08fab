//! `builderbar ssh -- CMD`: a command in the builder, with the generated key and the pinned host key.

use builderbar_core::vm::{VmError, VmState};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::exit;

pub async fn run(ctx: &Ctx, command: &[String]) -> CliResult {
    let status = ctx.supervisor.refresh().await;
    if !matches!(status.state, VmState::Running | VmState::Starting) {
        return Err(VmError::NotRunning.into());
    }
    let target = ctx.supervisor.ssh_target()?;
    let argv = target.argv(command);
    tracing::info!(port = target.port, "ssh into the builder");
    let status = std::process::Command::new(&argv[0]).args(&argv[1..]).status();
    let code = match status {
        // 255 is ssh's own failure (connection, host key); anything else is the remote command's.
        Ok(s) if s.code() == Some(255) => {
            eprintln!(
                "hint: ssh could not reach the builder or its host key did not match the pinned key ({}). \
                 `builderbar doctor` checks both.",
                target.known_hosts.display()
            );
            255
        }
        Ok(s) => s.code().unwrap_or(exit::ERROR),
        Err(e) => {
            eprintln!(
                "error: cannot run ssh: {e}\nhint: install the OpenSSH client (`apt-get install openssh-client`)."
            );
            exit::ERROR
        }
    };
    match code {
        exit::OK => Ok(()),
        code => Err(CliError::Exit(code)),
    }
}
