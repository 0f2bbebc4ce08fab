//! What the gateway tells whoever watches (the tray, `builderbar serve`), as it happens.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GatewayEvent {
    /// A connection arrived while the builder was not running: starting it, holding the connection.
    Waking,
    /// The builder is ready; held connections go through.
    Ready {
        waited_ms: u64,
    },
    /// The builder did not start; the held connections were closed.
    StartFailed {
        message: String,
        hint: String,
    },
    /// No connection for the idle period: the builder was stopped.
    IdleStopped {
        idle_secs: u64,
    },
    IdleStopFailed {
        message: String,
        hint: String,
    },
}
