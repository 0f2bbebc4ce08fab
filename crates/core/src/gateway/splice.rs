//! One connection, joined to the builder's forwarded port until either side closes.

use tokio::net::TcpStream;

use crate::gateway::GatewayError;

/// Connects to qemu's forward on 127.0.0.1:`port`.
pub(crate) async fn connect(port: u16) -> Result<TcpStream, GatewayError> {
    let s = TcpStream::connect(("127.0.0.1", port)).await.map_err(|source| GatewayError::Upstream { port, source })?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Copies both ways; returns the bytes (client to builder, builder to client).
pub(crate) async fn splice(mut client: TcpStream, mut upstream: TcpStream) -> std::io::Result<(u64, u64)> {
    let _ = client.set_nodelay(true);
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await
}
