//! The HTTP/1.1 server loop: connection limits and timeouts in front of the router.
//!
//! What a slow or malicious client may cost us is bounded here (`docs/operations.md`,
//! Server limits):
//!
//! - **Header-read timeout**: a request's headers must arrive within
//!   `server.header_read_timeout_ms` of the connection opening, or of the previous response
//!   (hyper's timer), so a client sending one byte a second is cut.
//! - **Body-read timeout**: a request's body must arrive completely within
//!   `server.body_read_timeout_ms` of the request head; later, the handler sees an error and the
//!   client gets 408.
//! - **Idle timeout**: a connection with no request in flight and no bytes moving for
//!   `server.idle_timeout_ms` is closed.
//! - **Connection cap**: at most `server.max_connections` at once. When the cap is reached, the
//!   oldest idle connection (no request in flight — an idle keep-alive, or one that never sent
//!   a whole request) is closed to make room, so idle connections cannot starve real requests;
//!   when every connection is busy, new ones wait in the listen backlog.
//! - **Unread bodies**: an answer given without reading the whole request body says
//!   `Connection: close`, so a client that pools connections does not send its next request
//!   into a socket the server is about to close.
//!
//! Only HTTP/1.1 is served (a TLS-terminating proxy in front speaks it; browsers only speak
//! HTTP/2 over TLS).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;
use tracing::{debug, warn};

/// Limits of one listener (from `[server]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for a request's headers.
    pub header_read: Duration,
    /// Time allowed for a request's body, from its head.
    pub body_read: Duration,
    /// Time a connection may sit with no request in flight and no bytes moving.
    pub idle: Duration,
    /// Most connections at once.
    pub max_connections: usize,
}

/// How long a connection told to close may finish its in-flight request.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// How often a connection checks its idle clock.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// A connection told to close, with no request in flight and no bytes moved for this long,
/// closes at once (a response still being written moves bytes, so it is let finish).
const QUIET: Duration = Duration::from_millis(100);

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Connections closed for being idle too long.
    pub idle_closed: AtomicU64,
    /// Idle connections closed to make room under the connection cap.
    pub evicted: AtomicU64,
    /// Requests whose body did not arrive within the body-read timeout.
    pub body_timeouts: AtomicU64,
}

/// What the accept loop knows of one connection.
struct Tracked {
    /// Requests in flight (from the head to the end of the response body).
    busy: Arc<AtomicUsize>,
    /// Tells the connection to close.
    close: watch::Sender<bool>,
}

/// The connections of one listener, by accept order (oldest first).
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    conns: Mutex<BTreeMap<u64, Tracked>>,
}

impl Registry {
    fn add(&self, busy: Arc<AtomicUsize>, close: watch::Sender<bool>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Tracked { busy, close });
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Tells the oldest connection with no request in flight to close; false if every one
    /// is busy.
    fn evict_oldest_idle(&self) -> bool {
        let g = self.lock();
        let victim = g.values().find(|t| {
            t.busy.load(Ordering::Acquire) == 0
                && !*t.close.borrow()
                && t.close.receiver_count() > 0
        });
        match victim {
            Some(t) => {
                t.close.send_replace(true);
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        for t in self.lock().values() {
            t.close.send_replace(true);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Tracked>> {
        // A panic while holding it cannot leave the map inconsistent (single inserts and
        // removes), so recover instead of failing every later connection.
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then lets
/// in-flight requests finish (up to [`CLOSE_GRACE`]).
pub async fn run(
    router: Router,
    listener: TcpListener,
    limits: Limits,
    stats: Arc<ConnStats>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if registry.evict_oldest_idle() {
                    stats.evicted.fetch_add(1, Ordering::Relaxed);
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let busy = Arc::new(AtomicUsize::new(0));
        let (close_tx, close_rx) = watch::channel(false);
        let id = registry.add(busy.clone(), close_tx);
        let conn = Connection {
            router: router.clone(),
            peer,
            limits,
            busy,
            stats: stats.clone(),
        };
        let slot = Slot {
            registry: registry.clone(),
            id,
            _permit: permit,
        };
        let stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            // The slot is released when the task ends, even by a panic.
            let _slot = slot;
            conn.serve(stream, close_rx, stop_rx).await;
        });
    }
    // Stop accepting; tell every connection to finish what it is doing and close.
    drop(listener);
    let _ = stop_tx.send(true);
    registry.close_all();
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(CLOSE_GRACE, slots.acquire_many(all)).await;
}

/// A connection's place under the cap: its registry entry and its permit, given back when
/// the connection's task ends however it ends.
struct Slot {
    registry: Arc<Registry>,
    id: u64,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// One accepted connection.
struct Connection {
    router: Router,
    peer: SocketAddr,
    limits: Limits,
    busy: Arc<AtomicUsize>,
    stats: Arc<ConnStats>,
}

impl Connection {
    async fn serve(
        self,
        stream: TcpStream,
        mut close: watch::Receiver<bool>,
        mut stop: watch::Receiver<bool>,
    ) {
        let start = Instant::now();
        let activity = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(ActivityIo {
            inner: stream,
            start,
            last: activity.clone(),
        });
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        let _open = OpenGauge(self.stats.clone());
        let (router, peer, limits) = (self.router.clone(), self.peer, self.limits);
        let (busy, stats) = (self.busy.clone(), self.stats.clone());
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            handle(
                router.clone(),
                peer,
                limits,
                busy.clone(),
                stats.clone(),
                req,
            )
        });
        let conn = http1(&limits).serve_connection(io, service);
        tokio::pin!(conn);
        let mut closing: Option<Instant> = None;
        let mut tick = tokio::time::interval(IDLE_TICK);
        // No request in flight, and for how long no bytes moved.
        let quiet = || {
            let last = Duration::from_millis(activity.load(Ordering::Relaxed));
            (
                self.busy.load(Ordering::Acquire) == 0,
                start.elapsed().saturating_sub(last),
            )
        };
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                _ = close.changed(), if closing.is_none() => {
                    if let (true, q) = quiet() {
                        if q >= QUIET {
                            break; // evicted while idle: close now
                        }
                    }
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
                _ = stop.changed(), if closing.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
                _ = tick.tick() => {
                    let (idle, quiet_for) = quiet();
                    match closing {
                        None if idle && quiet_for >= self.limits.idle => {
                            self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                            conn.as_mut().graceful_shutdown();
                            closing = Some(Instant::now());
                        }
                        // Told to close: it goes once nothing is in flight and nothing moves
                        // (a response still being written is let finish), or after the grace.
                        Some(t) if (idle && quiet_for >= QUIET) || t.elapsed() >= CLOSE_GRACE => break,
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The HTTP/1.1 connection settings: keep-alive, and the header-read deadline.
fn http1(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    builder
}

/// Serves one request: the client address for the handlers, the body deadline, `busy`
/// counted until the response body ends, and `Connection: close` when the body was left
/// unread.
async fn handle(
    router: Router,
    peer: SocketAddr,
    limits: Limits,
    busy: Arc<AtomicUsize>,
    stats: Arc<ConnStats>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let guard = BusyGuard::new(busy);
    let had_body = !req.body().is_end_stream();
    let finished = Arc::new(AtomicBool::new(!had_body));
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body = if had_body {
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(limits.body_read)),
            limit: limits.body_read,
            finished: finished.clone(),
            stats,
            timed_out: false,
        })
    } else {
        Body::new(body)
    };
    let req = Request::from_parts(parts, body);
    let res = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (mut parts, body) = res.into_parts();
    if !finished.load(Ordering::Acquire) {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    // A body of known size is already in memory and written at once: the request is done.
    // A streamed one (labels, exports) keeps the request counted until it ends.
    if body.size_hint().exact().is_some() {
        drop(guard);
        return Ok(Response::from_parts(parts, body));
    }
    Ok(Response::from_parts(
        parts,
        Body::new(GuardedBody {
            inner: body,
            _guard: guard,
        }),
    ))
}

/// Counts an open connection while alive (also when its task ends by a panic).
struct OpenGauge(Arc<ConnStats>);

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a request in flight while alive.
struct BusyGuard(Arc<AtomicUsize>);

impl BusyGuard {
    fn new(busy: Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(busy)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The request body, failing once its deadline passes; records whether it was read to the
/// end.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    finished: Arc<AtomicBool>,
    stats: Arc<ConnStats>,
    timed_out: bool,
}

/// The error a handler sees when the body is too slow (mapped to 408).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0} s")]
pub struct BodyTimeout(pub u64);

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.timed_out {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                self.finished.store(true, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Ready(Some(r)) => Poll::Ready(Some(r.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.timed_out = true;
                    self.stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
                    Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit.as_secs())))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request counted as in flight until it ends or is dropped.
struct GuardedBody {
    inner: Body,
    _guard: BusyGuard,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting when bytes last moved (milliseconds since the connection opened).
struct ActivityIo {
    inner: TcpStream,
    start: Instant,
    last: Arc<AtomicU64>,
}

impl ActivityIo {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
