//! The real builder behind the gateway: the VM supervisor, started with the same request the CLI builds.

use std::time::Duration;

use crate::gateway::presence::Presence;
use crate::gateway::{spawn, BuilderControl, GatewayConfig, GatewayError, GatewayHandle, IdleStop};
use crate::vm::state::now_ms;
use crate::vm::{StartRequest, Supervisor, VmError, VmState};

pub struct SupervisedBuilder {
    pub supervisor: Supervisor,
    pub request: StartRequest,
    pub ready_timeout: Duration,
}

impl BuilderControl for SupervisedBuilder {
    fn running_port(&self) -> Option<u16> {
        let s = self.supervisor.status();
        if s.state == VmState::Running {
            s.port
        } else {
            None
        }
    }

    async fn ensure_running(&self) -> Result<u16, GatewayError> {
        let s = self.supervisor.refresh().await;
        match (&s.state, s.port) {
            (VmState::Running, Some(port)) => return Ok(port),
            (VmState::Starting, _) => {}
            // Stopped, Failed (a new start clears it), or Stopping (start waits for the stop).
            _ => {
                self.supervisor.start(self.request.clone()).await.map_err(GatewayError::Start)?;
            }
        }
        let s = self.supervisor.wait_ready(self.ready_timeout).await.map_err(GatewayError::Start)?;
        s.port.ok_or(GatewayError::Start(VmError::NotRunning))
    }

    async fn stop_idle(&self, idle: Duration) -> Result<IdleStop, GatewayError> {
        let s = self.supervisor.refresh().await;
        if s.state != VmState::Running {
            return Ok(IdleStop::NotRunning);
        }
        let age = Duration::from_millis(now_ms().saturating_sub(s.started_at_ms.unwrap_or(0)));
        if age < idle {
            return Ok(IdleStop::StartedRecently { wait: idle - age });
        }
        let grace = Duration::from_secs(u64::from(self.request.settings.stop_timeout_secs));
        self.supervisor.stop(grace).await.map_err(GatewayError::Stop)?;
        Ok(IdleStop::Stopped)
    }
}

/// What the app calls when `on_demand` is on (and again after the settings change): listens on
/// 127.0.0.1:`settings.port`, reattaches to a builder that already runs, and starts `request`
/// when a connection finds it stopped. Keep the handle; dropping it stops the gateway.
pub async fn serve_on_demand(supervisor: Supervisor, request: StartRequest) -> Result<GatewayHandle, GatewayError> {
    let config = GatewayConfig::from_settings(&request.settings)?;
    let presence = Presence::claim(&supervisor.context().files.vm_dir, config.listen_port)?;
    supervisor.attach().await;
    let mut handle =
        spawn(config.clone(), SupervisedBuilder { supervisor, request, ready_timeout: config.ready_timeout }).await?;
    handle.presence = Some(presence);
    Ok(handle)
}
