//! The idle timer: when no connection has been open for the idle period, stop the builder.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::error::UserFacing;
use crate::gateway::shared::Shared;
use crate::gateway::{BuilderControl, GatewayEvent, IdleStop};

/// Runs until the gateway shuts down (the caller drops this future).
pub(crate) async fn run<C: BuilderControl>(shared: Arc<Shared<C>>, idle: Duration) {
    let mut open = shared.counter.subscribe();
    let mut wait = idle;
    loop {
        if *open.borrow_and_update() > 0 {
            if open.changed().await.is_err() {
                return;
            }
            wait = idle;
            continue;
        }
        // Any connection opening or closing restarts the period.
        tokio::select! {
            r = open.changed() => {
                if r.is_err() { return }
                wait = idle;
            }
            _ = tokio::time::sleep(wait) => wait = stop_if_idle(&shared, idle).await.unwrap_or(idle),
        }
    }
}

/// `Some(wait)`: the builder started less than the idle period ago; look again after `wait`.
async fn stop_if_idle<C: BuilderControl>(shared: &Shared<C>, idle: Duration) -> Option<Duration> {
    // Hold the wake lock: a connection arriving now waits for the stop, then starts the builder again.
    let _wake = shared.wake.lock().await;
    if !shared.counter.begin_idle_stop() {
        return None;
    }
    let result = shared.control.stop_idle(idle).await;
    shared.counter.end_idle_stop();
    match result {
        Ok(IdleStop::StartedRecently { wait }) => return Some(wait),
        Ok(IdleStop::Stopped) => {
            info!(idle_secs = idle.as_secs(), "no connection for the idle period: builder stopped");
            shared.emit(GatewayEvent::IdleStopped { idle_secs: idle.as_secs() });
        }
        Ok(IdleStop::NotRunning) => {}
        Err(e) => {
            warn!("idle stop failed: {e}");
            shared.emit(GatewayEvent::IdleStopFailed { message: e.to_string(), hint: e.hint() });
        }
    }
    None
}
