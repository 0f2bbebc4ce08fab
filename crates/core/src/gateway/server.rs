//! The listener on 127.0.0.1: accepts, wakes the builder for a connection that finds it stopped
//! (one start for all of them), holds the connection until it is ready, then splices it.

use std::sync::Arc;
use std::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::gateway::presence::Presence;
use crate::gateway::shared::Shared;
use crate::gateway::splice::{connect, splice};
use crate::gateway::{idle, BuilderControl, GatewayConfig, GatewayError, GatewayEvent};

/// A running gateway. Dropping it (or [`GatewayHandle::shutdown`]) stops listening and the idle
/// timer; connections already spliced run until they close. The builder is left as it is.
pub struct GatewayHandle {
    port: u16,
    connections: watch::Receiver<usize>,
    events: broadcast::Sender<GatewayEvent>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// Tells other processes which port we serve (set by `serve_on_demand`).
    pub(crate) presence: Option<Presence>,
}

impl GatewayHandle {
    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Open connections: the builds in flight (held ones included).
    pub fn connections(&self) -> watch::Receiver<usize> {
        self.connections.clone()
    }

    /// Wakes, readiness, failed starts and idle stops, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.events.subscribe()
    }

    /// Stops listening and waits until the accept loop has ended (the port is free again).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.presence = None;
    }
}

/// Listens on 127.0.0.1:`config.listen_port` (0: any free port) and serves `control`'s builder.
pub async fn spawn<C: BuilderControl>(config: GatewayConfig, control: C) -> Result<GatewayHandle, GatewayError> {
    let want = config.listen_port;
    let listener = TcpListener::bind(("127.0.0.1", want)).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            GatewayError::PortInUse { port: want }
        } else {
            GatewayError::Bind { port: want, source }
        }
    })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(want);
    let (events, _) = broadcast::channel(64);
    let shared = Arc::new(Shared::new(control, events.clone()));
    let connections = shared.counter.subscribe();
    let (stop, mut stop_rx) = watch::channel(false);
    info!(port, idle_secs = config.idle.as_secs(), "gateway listening on 127.0.0.1");
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = accept_loop(listener, shared.clone()) => {}
            _ = idle::run(shared.clone(), config.idle) => {}
            _ = stop_rx.wait_for(|s| *s) => {}
        }
        info!(port, "gateway stopped listening");
    });
    Ok(GatewayHandle { port, connections, events, stop, task: Some(task), presence: None })
}

async fn accept_loop<C: BuilderControl>(listener: TcpListener, shared: Arc<Shared<C>>) {
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                debug!(%peer, "connection");
                tokio::spawn(handle(shared.clone(), client));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle<C: BuilderControl>(shared: Arc<Shared<C>>, client: TcpStream) {
    let arrived = Instant::now();
    let open = shared.counter.open();
    let Ok(port) = shared.upstream_port(arrived, !open.raced_idle_stop).await else { return };
    let upstream = match connect(port).await {
        Ok(u) => u,
        // What we saw as Running may be stale (stopped or killed elsewhere): look again, once.
        Err(first) => {
            debug!("{first}; checking the builder again");
            let Ok(port) = shared.upstream_port(Instant::now(), false).await else { return };
            match connect(port).await {
                Ok(u) => u,
                Err(e) => {
                    warn!("{e}");
                    return;
                }
            }
        }
    };
    match splice(client, upstream).await {
        Ok((up, down)) => debug!(up, down, "connection closed"),
        Err(e) => debug!("connection ended: {e}"),
    }
    drop(open);
}
