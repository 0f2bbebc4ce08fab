//! Open connections (the builds in flight), published on a watch channel, and the flag that
//! keeps a new connection from slipping in while the idle stop decides.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Default)]
struct Gate {
    open: usize,
    idle_stopping: bool,
}

/// Shared by the accept loop, the connections and the idle timer.
#[derive(Clone)]
pub(crate) struct Counter {
    gate: Arc<Mutex<Gate>>,
    tx: Arc<watch::Sender<usize>>,
}

/// Held by one connection; dropping it closes the count.
pub(crate) struct Open {
    counter: Counter,
    /// The idle stop was under way when this connection arrived: it must wait for the builder.
    pub raced_idle_stop: bool,
}

impl Counter {
    pub fn new() -> Counter {
        Counter { gate: Arc::default(), tx: Arc::new(watch::channel(0).0) }
    }

    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.tx.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn open(&self) -> Open {
        let (n, raced) = {
            let mut g = self.lock();
            g.open += 1;
            (g.open, g.idle_stopping)
        };
        self.tx.send_replace(n);
        Open { counter: self.clone(), raced_idle_stop: raced }
    }

    /// Claims the idle stop if no connection is open; new connections then see `raced_idle_stop`.
    pub fn begin_idle_stop(&self) -> bool {
        let mut g = self.lock();
        if g.open > 0 {
            return false;
        }
        g.idle_stopping = true;
        true
    }

    pub fn end_idle_stop(&self) {
        self.lock().idle_stopping = false;
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let n = {
            let mut g = self.counter.lock();
            g.open -= 1;
            g.open
        };
        self.counter.tx.send_replace(n);
    }
}
