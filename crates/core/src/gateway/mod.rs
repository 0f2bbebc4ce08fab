//! The on-demand gateway: 127.0.0.1:PORT starts the builder on connect, holds the connection until
//! it is ready, splices it to qemu's forward, counts builds in flight, and stops the idle builder.
//!
//! The app (or `builderbar serve`) calls [`serve_on_demand`] and keeps the [`GatewayHandle`].
//! See docs/gateway.md.

mod config;
mod control;
mod counter;
mod error;
mod events;
mod idle;
mod presence;
mod server;
mod shared;
mod splice;
mod supervised;

pub use config::{GatewayConfig, IDLE_SECS_ENV};
pub use control::{BuilderControl, IdleStop};
pub use error::GatewayError;
pub use events::GatewayEvent;
pub use presence::serving_port;
pub use server::{spawn, GatewayHandle};
pub use supervised::{serve_on_demand, SupervisedBuilder};

#[cfg(test)]
mod tests;
