//! The HTTP/1.1 server loop: hyper's connection state machine over tokio sockets, with the
//! bounds `axum::serve` does not have.
//!
//! - At most `connections_max` connections are open: the loop accepts the next one only when a
//!   permit is free, so further clients wait in the kernel's listen backlog (holding no file
//!   descriptor of the node) and are served as soon as one closes.
//! - Each connection is watched ([`Activity`]): with no request in progress, it is closed once
//!   `idle_timeout_ms` pass without a byte read or written (an idle keep-alive socket, or a
//!   response its client stopped reading), and `header_read_timeout_ms` after the first byte
//!   of a request head that is still incomplete (a header trickler). Request bodies have their
//!   own deadline in the handlers that read them (`body_read_timeout_ms`, a 408 problem).
//! - hyper's own header read timeout is set to the sum of the two, as a backstop that never
//!   fires before them; its head buffer is sized well above `header_bytes_max`, so an
//!   oversized head reaches the router and is answered with a 431 problem (see `mod.rs`).
//!
//! Why not hyper's header read timeout alone: hyper starts it when it begins waiting for a
//! request head, so it is also the keep-alive idle timeout (hyperium/hyper#3185, #3828); the
//! node keeps the two apart, as Envoy and Go's `net/http` do.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::Serving;

/// How long shutdown waits for open connections to finish their requests.
const SHUTDOWN_CONNECTIONS_WAIT: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (e.g. out of descriptors).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// hyper's read buffer is this many times `header_bytes_max` (and at least its default).
const HYPER_BUFFER_FACTOR: usize = 4;
/// hyper's default read buffer bound (8 KiB + 100 x 4 KiB).
const HYPER_BUFFER_MIN: usize = 8192 + 4096 * 100;
/// Header fields hyper parses, above the node's own `headers_max` check.
const HYPER_HEADERS_MAX: usize = 1_000;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets open
/// connections finish their requests (at most [`SHUTDOWN_CONNECTIONS_WAIT`]) and returns.
///
/// # Errors
/// Never today: accept errors are logged and retried; the `Result` is for the caller's `?`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    serving: Serving,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let connections_max = serving.connections_max().min(Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(connections_max));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        let (stream, peer) = stream;
        let connection = serve_connection(stream, peer, router.clone(), serving, stopped.clone());
        tokio::spawn(async move {
            connection.await;
            drop(permit);
        });
    }
    drop(listener);
    stop.send_replace(true);
    let all = u32::try_from(connections_max).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_CONNECTIONS_WAIT, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {SHUTDOWN_CONNECTIONS_WAIT:?} after the stop signal; closing them"
        );
    }
    Ok(())
}

/// Connection-level accept errors (the peer went away) are skipped; others (out of file
/// descriptors) pause the loop briefly instead of spinning.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// Serves one connection until it ends, the watchdog closes it, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    serving: Serving,
    mut stopped: watch::Receiver<bool>,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(&requests);
        let router = router.clone();
        async move {
            let mut request = request.map(axum::body::Body::new);
            // The rate limits key clients by the peer address (http/ratelimit.rs).
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.oneshot(request).await;
            drop(in_flight);
            response
        }
    });
    let backstop = serving
        .header_read_timeout_ms()
        .saturating_add(serving.idle_timeout_ms());
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(backstop))
        .max_buf_size(
            serving
                .header_bytes_max()
                .saturating_mul(HYPER_BUFFER_FACTOR)
                .max(HYPER_BUFFER_MIN),
        )
        .max_headers(HYPER_HEADERS_MAX)
        .serve_connection(io, service);
    let mut connection = pin!(connection);
    let mut stopping = false;
    loop {
        let wake = match activity.verdict(serving) {
            Verdict::Close => {
                tracing::debug!("closing a connection past its idle or header read timeout");
                return;
            }
            Verdict::CheckAt(at) => at,
        };
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {}
            () = activity.head_started.notified() => {}
            _ = stopped.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What the watchdog decides for a connection.
enum Verdict {
    Close,
    CheckAt(Instant),
}

/// Marks no time in [`Activity::head_started_ms`].
const NONE_MS: u64 = u64::MAX;

/// What a connection has been doing, in milliseconds since it was accepted.
struct Activity {
    accepted: Instant,
    /// Requests whose response head is not yet produced.
    in_flight: AtomicUsize,
    /// The last byte read or written, or the end of the last request.
    last_ms: AtomicU64,
    /// The first byte of a request head not yet complete ([`NONE_MS`]: none).
    head_started_ms: AtomicU64,
    /// Told when a head starts, so the watchdog moves its deadline to the header timeout.
    head_started: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NONE_MS),
            head_started: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(NONE_MS - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.accepted + Duration::from_millis(ms)
    }

    fn read(&self) {
        let now = self.now_ms();
        self.last_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started_ms
                .compare_exchange(NONE_MS, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.head_started.notify_one();
        }
    }

    fn wrote(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn verdict(&self, serving: Serving) -> Verdict {
        let now = self.now_ms();
        let idle_ms = serving.idle_timeout_ms();
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::CheckAt(self.at(now.saturating_add(idle_ms)));
        }
        let head_started = self.head_started_ms.load(Ordering::Acquire);
        let end = if head_started == NONE_MS {
            self.last_ms.load(Ordering::Relaxed).saturating_add(idle_ms)
        } else {
            head_started.saturating_add(serving.header_read_timeout_ms())
        };
        if now >= end {
            Verdict::Close
        } else {
            Verdict::CheckAt(self.at(end))
        }
    }
}

/// A request being handled; dropping it ends the request for the watchdog.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.head_started_ms.store(NONE_MS, Ordering::Release);
        Self(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that tells its [`Activity`] about every byte read or written.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Settings};

    fn serving(idle_ms: u64, header_ms: u64) -> Serving {
        let settings = Settings {
            idle_timeout_ms: Some(idle_ms),
            header_read_timeout_ms: Some(header_ms),
            ..Settings::default()
        };
        Config::resolve(settings)
            .unwrap_or_else(|e| panic!("{e}"))
            .serving()
    }

    fn closes(activity: &Activity, serving: Serving) -> bool {
        matches!(activity.verdict(serving), Verdict::Close)
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_closes_after_the_idle_timeout_only() {
        let activity = Arc::new(Activity::new());
        let serving = serving(1_000, 100);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!closes(&activity, serving));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(closes(&activity, serving));
    }

    #[tokio::test(start_paused = true)]
    async fn an_incomplete_head_closes_after_the_header_timeout_even_while_it_trickles() {
        let activity = Arc::new(Activity::new());
        let serving = serving(1_000, 100);
        activity.read();
        for _ in 0..9 {
            tokio::time::advance(Duration::from_millis(10)).await;
            activity.read();
            assert!(!closes(&activity, serving));
        }
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(closes(&activity, serving));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_progress_is_never_closed_and_idle_counts_from_its_end() {
        let activity = Arc::new(Activity::new());
        let serving = serving(1_000, 100);
        activity.read();
        let request = InFlight::begin(&activity);
        tokio::time::advance(Duration::from_millis(5_000)).await;
        assert!(!closes(&activity, serving));
        drop(request);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!closes(&activity, serving));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(closes(&activity, serving));
    }
}
