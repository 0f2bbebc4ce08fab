//! What can go wrong serving the builder on demand, each with what to do about it.

use crate::error::UserFacing;
use crate::vm::VmError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("on-demand is off, so there is nothing to serve")]
    OnDemandOff,
    #[error("port {port} on 127.0.0.1 is already in use, so the gateway cannot listen there")]
    PortInUse { port: u16 },
    #[error("another gateway already serves this builder{}", .port.map(|p| format!(" on 127.0.0.1:{p}")).unwrap_or_default())]
    AlreadyServed { port: Option<u16> },
    #[error("cannot write {}: {source}", .path.display())]
    Presence { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("{var} is \"{value}\", not a number of seconds")]
    BadIdleEnv { var: &'static str, value: String },
    #[error("the builder could not start: {0}")]
    Start(#[source] VmError),
    #[error("the builder could not be stopped: {0}")]
    Stop(#[source] VmError),
    #[error("the builder is running but its port 127.0.0.1:{port} does not answer: {source}")]
    Upstream { port: u16, source: std::io::Error },
}

impl UserFacing for GatewayError {
    fn hint(&self) -> String {
        match self {
            GatewayError::OnDemandOff => {
                "Turn it on with `builderbar settings set on_demand true` (or in Settings), then serve again.".into()
            }
            GatewayError::PortInUse { port } => format!(
                "Another gateway may already serve it (the app, or another `builderbar serve`), or a builder started \
                 before on-demand was turned on still holds it: `builderbar stop`, then try again. \
                 `lsof -iTCP:{port} -sTCP:LISTEN` shows who holds it."
            ),
            GatewayError::AlreadyServed { .. } => {
                "The app or another `builderbar serve` already does the job; quit it first to serve from here.".into()
            }
            GatewayError::Presence { .. } => "Check that Builderbar's data directory is writable.".into(),
            GatewayError::Bind { .. } => "Choose another port in Settings.".into(),
            GatewayError::BadIdleEnv { var, .. } => format!("Unset {var} or set it to a whole number of seconds."),
            GatewayError::Start(e) | GatewayError::Stop(e) => e.hint(),
            GatewayError::Upstream { .. } => {
                "`builderbar status` shows the builder's state; stop and start it if it hangs.".into()
            }
        }
    }
}
