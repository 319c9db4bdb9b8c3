//! One slow client: an upload's head, then its body a piece every 125 ms, until the server answers. Shared by
//! `benches/slow_clients.rs` and `tests/it/slow_clients.rs` (included there by path).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (a request's line and headers) and then `body` at `bytes_per_s`; answers the status code of
/// the response (0 when the connection closed without one), or the error of connecting.
pub async fn send_slowly(
    addr: SocketAddr,
    head: String,
    body: bytes::Bytes,
    bytes_per_s: usize,
) -> std::io::Result<u16> {
    let stream = TcpStream::connect(addr).await?;
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        if write.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for piece in body.chunks((bytes_per_s / 8).max(1)) {
            if write.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(125)).await;
        }
        // Dropping the write half would half-close the connection, which the server takes as the client gone.
        std::future::pending::<()>().await;
        drop(write);
    });
    // The status line is enough; the server closes the connection after answering an unread body.
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while response.len() < 12 {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    let status = std::str::from_utf8(response.get(9..12).unwrap_or_default()).ok().and_then(|s| s.parse().ok());
    Ok(status.unwrap_or(0))
}
