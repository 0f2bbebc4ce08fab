//! The gateway against a fake builder: a TcpListener we control stands in for qemu's forward.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::error::UserFacing;
use crate::settings::Settings;
use crate::vm::VmError;

const BANNER: &[u8] = b"SSH-2.0-fake\r\n";

/// The builder: "boots" in `boot`, forwards to an echo server that greets with a banner.
struct Fake {
    upstream: u16,
    boot: Duration,
    stop_takes: Duration,
    running: AtomicBool,
    fail: AtomicBool,
    starts: AtomicUsize,
    stops: AtomicUsize,
    /// When it last came up (None: running since before the gateway, long ago).
    started_at: std::sync::Mutex<Option<Instant>>,
}

impl BuilderControl for Arc<Fake> {
    fn running_port(&self) -> Option<u16> {
        self.running.load(SeqCst).then_some(self.upstream)
    }
    async fn ensure_running(&self) -> Result<u16, GatewayError> {
        if self.running.load(SeqCst) {
            return Ok(self.upstream);
        }
        self.starts.fetch_add(1, SeqCst);
        tokio::time::sleep(self.boot).await;
        if self.fail.load(SeqCst) {
            return Err(GatewayError::Start(VmError::Failed {
                reason: "kernel panic".into(),
                hint: "read the console".into(),
            }));
        }
        self.running.store(true, SeqCst);
        *self.started_at.lock().unwrap() = Some(Instant::now());
        Ok(self.upstream)
    }
    async fn stop_idle(&self, idle: Duration) -> Result<IdleStop, GatewayError> {
        if !self.running.load(SeqCst) {
            return Ok(IdleStop::NotRunning);
        }
        let age = self.started_at.lock().unwrap().map(|t| t.elapsed()).unwrap_or(Duration::MAX);
        if age < idle {
            return Ok(IdleStop::StartedRecently { wait: idle - age });
        }
        self.stops.fetch_add(1, SeqCst);
        tokio::time::sleep(self.stop_takes).await;
        self.running.store(false, SeqCst);
        Ok(IdleStop::Stopped)
    }
}

async fn echo_upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                s.write_all(BANNER).await.unwrap();
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

async fn fake(boot_ms: u64, running: bool) -> Arc<Fake> {
    Arc::new(Fake {
        upstream: echo_upstream().await,
        boot: Duration::from_millis(boot_ms),
        stop_takes: Duration::from_millis(0),
        running: AtomicBool::new(running),
        fail: AtomicBool::new(false),
        starts: AtomicUsize::new(0),
        stops: AtomicUsize::new(0),
        started_at: std::sync::Mutex::new(None),
    })
}

fn config(idle_ms: u64) -> GatewayConfig {
    GatewayConfig { listen_port: 0, idle: Duration::from_millis(idle_ms), ready_timeout: Duration::from_secs(10) }
}

/// Connects through the gateway and reads the banner; `None` when the gateway closed it.
async fn banner(port: u16) -> (TcpStream, Option<Vec<u8>>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = vec![0u8; BANNER.len()];
    let got = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf)).await.expect("held forever");
    (s, got.ok().map(|_| buf))
}

async fn wait_count(rx: &mut tokio::sync::watch::Receiver<usize>, n: usize) {
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|c| *c == n)).await.expect("count").unwrap();
}

#[tokio::test]
async fn a_connection_while_stopped_starts_the_builder_and_is_held_until_ready() {
    let f = fake(300, false).await;
    let gw = spawn(config(60_000), f.clone()).await.unwrap();
    let mut events = gw.subscribe();
    let t = Instant::now();
    let (mut s, got) = banner(gw.port()).await;
    assert_eq!(got.as_deref(), Some(BANNER));
    assert!(t.elapsed() >= Duration::from_millis(300), "not held for the boot: {:?}", t.elapsed());
    assert_eq!(f.starts.load(SeqCst), 1);
    // Spliced both ways.
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(events.recv().await.unwrap(), GatewayEvent::Waking);
    assert!(matches!(events.recv().await.unwrap(), GatewayEvent::Ready { waited_ms } if waited_ms >= 300));
    // While it runs, a connection goes straight through without another start.
    let (_s2, got) = banner(gw.port()).await;
    assert_eq!(got.as_deref(), Some(BANNER));
    assert_eq!(f.starts.load(SeqCst), 1);
}

#[tokio::test]
async fn concurrent_connections_start_it_once_and_are_counted() {
    let f = fake(200, false).await;
    let gw = spawn(config(60_000), f.clone()).await.unwrap();
    let mut count = gw.connections();
    let port = gw.port();
    let clients: Vec<_> = (0..5).map(|_| tokio::spawn(banner(port))).collect();
    // Held connections count as in flight while the builder boots.
    wait_count(&mut count, 5).await;
    let mut streams = Vec::new();
    for c in clients {
        let (s, got) = c.await.unwrap();
        assert_eq!(got.as_deref(), Some(BANNER));
        streams.push(s);
    }
    assert_eq!(f.starts.load(SeqCst), 1, "one start serves every held connection");
    streams.truncate(2);
    wait_count(&mut count, 2).await;
    drop(streams);
    wait_count(&mut count, 0).await;
}

#[tokio::test]
async fn a_failed_start_closes_the_held_connections_and_reports_it_once() {
    let f = fake(200, false).await;
    f.fail.store(true, SeqCst);
    let gw = spawn(config(60_000), f.clone()).await.unwrap();
    let mut events = gw.subscribe();
    let port = gw.port();
    let clients: Vec<_> = (0..3).map(|_| tokio::spawn(banner(port))).collect();
    for c in clients {
        assert_eq!(c.await.unwrap().1, None, "a held connection must be closed when the start fails");
    }
    assert_eq!(f.starts.load(SeqCst), 1, "connections that waited for the failed start do not retry it");
    assert_eq!(events.recv().await.unwrap(), GatewayEvent::Waking);
    match events.recv().await.unwrap() {
        GatewayEvent::StartFailed { message, hint } => {
            assert!(message.contains("kernel panic"), "{message}");
            assert_eq!(hint, "read the console");
        }
        e => panic!("{e:?}"),
    }
    // The next connection tries again, and this time the builder comes up.
    f.fail.store(false, SeqCst);
    let (_s, got) = banner(port).await;
    assert_eq!(got.as_deref(), Some(BANNER));
    assert_eq!(f.starts.load(SeqCst), 2);
}

#[tokio::test]
async fn no_connection_for_the_idle_period_stops_it_and_an_open_one_keeps_it() {
    let f = fake(0, true).await;
    let gw = spawn(config(300), f.clone()).await.unwrap();
    let mut events = gw.subscribe();
    let (s, _) = banner(gw.port()).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(f.stops.load(SeqCst), 0, "stopped under an open connection");
    let closed = Instant::now();
    drop(s);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap(),
        GatewayEvent::IdleStopped { idle_secs: 0 }
    );
    assert!(closed.elapsed() >= Duration::from_millis(300), "stopped before the idle period: {:?}", closed.elapsed());
    assert_eq!(f.stops.load(SeqCst), 1);
    assert!(!f.running.load(SeqCst));
    // Stopped stays stopped (no repeated stops), and the next connection wakes it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(f.stops.load(SeqCst), 1);
    let (_s, got) = banner(gw.port()).await;
    assert_eq!(got.as_deref(), Some(BANNER));
    assert_eq!(f.starts.load(SeqCst), 1);
}

#[tokio::test]
async fn a_connection_during_the_idle_stop_waits_for_it_and_starts_the_builder_again() {
    let f =
        Arc::new(Fake { stop_takes: Duration::from_millis(500), ..Arc::into_inner(fake(100, true).await).unwrap() });
    let gw = spawn(config(100), f.clone()).await.unwrap();
    // The idle stop begins at ~100 ms and takes 500 ms; connect in the middle of it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.stops.load(SeqCst), 1, "idle stop not under way");
    let (_s, got) = banner(gw.port()).await;
    assert_eq!(got.as_deref(), Some(BANNER), "a connection during the idle stop must not fail");
    assert_eq!(f.starts.load(SeqCst), 1);
    assert!(f.running.load(SeqCst));
}

#[tokio::test]
async fn a_taken_port_is_refused_and_shutdown_frees_it() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port();
    let f = fake(0, false).await;
    let e = spawn(GatewayConfig { listen_port: port, ..config(1000) }, f.clone()).await.err().unwrap();
    assert!(matches!(e, GatewayError::PortInUse { port: p } if p == port), "{e}");
    assert!(e.report().contains("hint: "), "{}", e.report());
    drop(blocker);
    let gw = spawn(GatewayConfig { listen_port: port, ..config(1000) }, f.clone()).await.unwrap();
    assert_eq!(gw.port(), port);
    gw.shutdown().await;
    assert!(crate::settings::port_is_free(port), "shutdown must release the port");
}

#[test]
fn config_comes_from_the_settings_and_the_idle_override() {
    let mut s = Settings { port: 41000, idle_minutes: 3, ..Settings::default() };
    assert!(matches!(GatewayConfig::from_settings_and(&s, None), Err(GatewayError::OnDemandOff)));
    s.on_demand = true;
    let c = GatewayConfig::from_settings_and(&s, None).unwrap();
    assert_eq!((c.listen_port, c.idle), (41000, Duration::from_secs(180)));
    let c = GatewayConfig::from_settings_and(&s, Some("20".into())).unwrap();
    assert_eq!(c.idle, Duration::from_secs(20));
    let e = GatewayConfig::from_settings_and(&s, Some("soon".into())).unwrap_err();
    assert!(e.to_string().contains("BUILDERBAR_IDLE_SECS is \"soon\""), "{e}");
}

#[test]
fn a_serving_gateway_is_visible_to_other_processes_and_excludes_a_second_one() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(serving_port(dir.path()), None);
    let held = presence::Presence::claim(dir.path(), 41000).unwrap();
    assert_eq!(serving_port(dir.path()), Some(41000));
    let e = presence::Presence::claim(dir.path(), 41002).unwrap_err();
    assert!(e.to_string().contains("already serves this builder on 127.0.0.1:41000"), "{e}");
    drop(held);
    assert_eq!(serving_port(dir.path()), None, "a gateway that ended must not count");
}

#[tokio::test]
async fn a_builder_started_late_in_the_period_still_gets_its_full_idle_period() {
    let f = fake(0, false).await;
    let gw = spawn(config(600), f.clone()).await.unwrap();
    let mut events = gw.subscribe();
    // Started by hand (not through the gateway) 400 ms into the gateway's idle period.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = Instant::now();
    f.ensure_running().await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap(),
        GatewayEvent::IdleStopped { idle_secs: 0 }
    );
    assert!(started.elapsed() >= Duration::from_millis(600), "stopped {:?} after it started", started.elapsed());
    assert_eq!(f.stops.load(SeqCst), 1);
}
