//! Serving a router on a TCP listener: every connection through hyper's HTTP/1 server with a header read
//! timeout, and a graceful shutdown that stops accepting and lets the requests in hand finish.
//!
//! `axum::serve` does the same but does not expose hyper's `header_read_timeout` (nor give hyper a timer,
//! without which hyper keeps no timeout at all): a client that opens a connection and never finishes its
//! headers would hold it, and its buffer, for ever. `roadledger serve` (the application and `/metrics`) and
//! the slow-client tests serve through [`serve`], so the tests run the production code path.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// What the connection layer enforces, before any request reaches the router.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// A connection must send a request's whole head (request line and headers) within this, counted from
    /// when the server starts waiting for it; an idle keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits { header_read_timeout: Duration::from_secs(20) }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting connections and waits for
/// the open ones to finish the requests they are answering (idle ones are closed at once). Each request
/// carries `ConnectInfo<SocketAddr>`, as with `into_make_service_with_connect_info`.
pub async fn serve<F>(listener: TcpListener, app: Router, limits: ServeLimits, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper keeps timeouts only with a timer; the header read timeout is what a connection that never
    // finishes its headers runs into.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: say so and keep serving once some close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service =
            TowerToHyperService::new(tower::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
                app.clone().oneshot(request.map(axum::body::Body::new))
            }));
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // A client that went away, or one the header timeout closed: nothing the operator can act on.
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
