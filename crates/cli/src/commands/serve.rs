//! `builderbar serve`: the on-demand gateway in the foreground, until Ctrl-C (or SIGTERM).

use builderbar_core::api;
use builderbar_core::gateway::{serve_on_demand, GatewayConfig, GatewayError, GatewayEvent};
use builderbar_core::vm::StartRequest;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::broadcast::error::RecvError;

use crate::context::Ctx;
use crate::error::CliResult;

pub async fn run(ctx: &Ctx) -> CliResult {
    let settings = ctx.settings()?;
    if !settings.on_demand {
        return Err(GatewayError::OnDemandOff.into());
    }
    let config = GatewayConfig::from_settings(&settings)?;
    let image_dir = api::builder::image_dir(ctx.vm(), &settings)?;
    let forward = settings.forward_port();
    let gw = serve_on_demand(ctx.supervisor.clone(), StartRequest { settings, image_dir }).await?;
    eprintln!(
        "Serving the builder on demand on 127.0.0.1:{} (qemu forwards 127.0.0.1:{forward}); it stops after {} s \
         without a connection. Ctrl-C quits.",
        gw.port(),
        config.idle.as_secs()
    );
    let mut events = gw.subscribe();
    let mut open = gw.connections();
    let mut term = signal(SignalKind::terminate()).ok();
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Ok(e) => eprintln!("{}", describe(&e)),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            r = open.changed() => {
                if r.is_err() { break }
                tracing::info!(open = *open.borrow_and_update(), "connections in flight");
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break,
        }
    }
    gw.shutdown().await;
    eprintln!("Gateway stopped. The builder is left as it is (`builderbar stop` stops it).");
    Ok(())
}

fn describe(e: &GatewayEvent) -> String {
    match e {
        GatewayEvent::Waking => "A connection arrived while the builder was stopped: starting it …".into(),
        GatewayEvent::Ready { waited_ms } => {
            format!("The builder is ready after {:.1} s; connections go through.", *waited_ms as f64 / 1000.0)
        }
        GatewayEvent::StartFailed { message, hint } => {
            format!("error: {message}\nhint: {hint}\nThe waiting connections were closed.")
        }
        GatewayEvent::IdleStopped { idle_secs } => format!("No connection for {idle_secs} s: the builder was stopped."),
        GatewayEvent::IdleStopFailed { message, hint } => format!("error: idle stop failed: {message}\nhint: {hint}"),
    }
}
