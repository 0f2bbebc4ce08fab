//! What a gateway needs to know: where it listens, when the builder counts as idle, how long a boot may take.

use std::time::Duration;

use crate::gateway::GatewayError;
use crate::settings::Settings;

/// Overrides `idle_minutes` with a number of seconds (tests, demos): `BUILDERBAR_IDLE_SECS=20`.
pub const IDLE_SECS_ENV: &str = "BUILDERBAR_IDLE_SECS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The public port on 127.0.0.1 (what Nix's ssh config names).
    pub listen_port: u16,
    /// No connection for this long: the builder is stopped.
    pub idle: Duration,
    /// How long a held connection waits for the builder to boot.
    pub ready_timeout: Duration,
}

impl GatewayConfig {
    /// From the settings, with [`IDLE_SECS_ENV`] overriding the idle period when set.
    pub fn from_settings(s: &Settings) -> Result<GatewayConfig, GatewayError> {
        GatewayConfig::from_settings_and(s, std::env::var(IDLE_SECS_ENV).ok())
    }

    /// As [`GatewayConfig::from_settings`], with the environment's idle override passed in.
    pub fn from_settings_and(s: &Settings, idle_secs: Option<String>) -> Result<GatewayConfig, GatewayError> {
        if !s.on_demand {
            return Err(GatewayError::OnDemandOff);
        }
        let idle = match idle_secs {
            Some(v) => Duration::from_secs(
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(GatewayError::BadIdleEnv { var: IDLE_SECS_ENV, value: v })?,
            ),
            None => Duration::from_secs(u64::from(s.idle_minutes.max(1)) * 60),
        };
        Ok(GatewayConfig { listen_port: s.port, idle, ready_timeout: Duration::from_secs(300) })
    }
}
