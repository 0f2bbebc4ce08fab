//! The gateway's view of the builder: is it running, make it run, stop it. The supervisor
//! implements it for real ([`crate::gateway::SupervisedBuilder`]); tests use a fake.

use std::future::Future;

use crate::gateway::GatewayError;

pub trait BuilderControl: Send + Sync + 'static {
    /// The forwarded port when the builder is Running, as last seen (cheap: no I/O).
    fn running_port(&self) -> Option<u16>;

    /// Brings the builder to Running, starting it if it is stopped or failed and waiting while it
    /// starts. Returns the port qemu forwards to the guest's sshd.
    fn ensure_running(&self) -> impl Future<Output = Result<u16, GatewayError>> + Send;

    /// Stops the builder if it is Running; `Ok(false)` when there was nothing to stop.
    fn stop_idle(&self) -> impl Future<Output = Result<bool, GatewayError>> + Send;
}
