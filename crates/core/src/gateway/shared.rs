//! What the listener and the idle timer share: the builder's control, the count of open
//! connections, the wake lock (one start serves every held connection; the idle stop takes it
//! too) and the event channel.

use std::time::Instant;

use tokio::sync::{broadcast, Mutex};
use tracing::{info, warn};

use crate::error::UserFacing;
use crate::gateway::counter::Counter;
use crate::gateway::{BuilderControl, GatewayEvent};

/// A start that failed, so connections that waited for it are closed instead of trying again.
pub(crate) struct Failure {
    at: Instant,
}

pub(crate) struct Shared<C> {
    pub control: C,
    pub counter: Counter,
    /// Serializes waking (and the idle stop): one start serves every held connection.
    pub wake: Mutex<Option<Failure>>,
    events: broadcast::Sender<GatewayEvent>,
}

impl<C: BuilderControl> Shared<C> {
    pub fn new(control: C, events: broadcast::Sender<GatewayEvent>) -> Shared<C> {
        Shared { control, counter: Counter::new(), wake: Mutex::new(None), events }
    }

    pub fn emit(&self, e: GatewayEvent) {
        let _ = self.events.send(e);
    }

    /// The builder's forwarded port, starting the builder first if it is not running.
    /// `Err` means the connection is to be closed (the failure is already logged and reported).
    pub async fn upstream_port(&self, arrived: Instant, trust_cache: bool) -> Result<u16, ()> {
        if trust_cache {
            if let Some(p) = self.control.running_port() {
                return Ok(p);
            }
        }
        let mut last_failure = self.wake.lock().await;
        if last_failure.as_ref().is_some_and(|f| f.at > arrived) {
            // The start this connection waited for failed; a later connection tries again.
            return Err(());
        }
        let running = self.control.running_port().is_some();
        if !running {
            info!("a connection arrived while the builder is not running: starting it and holding the connection");
            self.emit(GatewayEvent::Waking);
        }
        let t = Instant::now();
        match self.control.ensure_running().await {
            Ok(port) => {
                if !running {
                    let waited_ms = t.elapsed().as_millis() as u64;
                    info!(waited_ms, "builder ready: passing held connections through");
                    self.emit(GatewayEvent::Ready { waited_ms });
                }
                *last_failure = None;
                Ok(port)
            }
            Err(e) => {
                warn!("closing the held connection(s): {e}");
                self.emit(GatewayEvent::StartFailed { message: e.to_string(), hint: e.hint() });
                *last_failure = Some(Failure { at: Instant::now() });
                Err(())
            }
        }
    }
}
