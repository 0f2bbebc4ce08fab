//! The gateway's view of the builder: is it running, make it run, stop it. The supervisor
//! implements it for real ([`crate::gateway::SupervisedBuilder`]); tests use a fake.

use std::future::Future;
use std::time::Duration;

use crate::gateway::GatewayError;

pub trait BuilderControl: Send + Sync + 'static {
    /// The forwarded port when the builder is Running, as last seen (cheap: no I/O).
    fn running_port(&self) -> Option<u16>;

    /// Brings the builder to Running, starting it if it is stopped or failed and waiting while it
    /// starts. Returns the port qemu forwards to the guest's sshd.
    fn ensure_running(&self) -> impl Future<Output = Result<u16, GatewayError>> + Send;

    /// No connection for `idle`: stops the builder if it is Running and has run at least `idle`
    /// (a builder started by hand gets its full idle period too).
    fn stop_idle(&self, idle: Duration) -> impl Future<Output = Result<IdleStop, GatewayError>> + Send;
}

/// What an idle stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStop {
    Stopped,
    /// Stopped, Failed or still starting: nothing to stop.
    NotRunning,
    /// It started less than the idle period ago; ask again after `wait`.
    StartedRecently {
        wait: Duration,
    },
}
