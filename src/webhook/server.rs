//! HTTPS: hyper on tokio-rustls. Routes, the body size limit, the
//! per-request deadline, and the audit and metrics of every answer; the
//! connections' timeouts and cap are `connections.rs`'s.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::admission::{self, OnError};
use super::audit::{AuditLog, log};
use super::connections::{Connections, Due, Limits, Room, Tracker};
use super::metrics::Metrics;
use super::policy_sets::{Loaded, SetOptions};
use super::review::{self, Answer, Record};
use super::watch::ClusterNamespaces;

/// Where namespace labels come from.
pub enum NamespaceSource {
    /// `--offline`: the Namespace objects among the policy inputs.
    FromSet,
    Cluster(ClusterNamespaces),
}

/// What every request reads.
pub struct State {
    pub loaded: RwLock<Option<Arc<Loaded>>>,
    pub set_options: SetOptions,
    pub namespaces: NamespaceSource,
    pub metrics: Arc<Metrics>,
    pub audit: AuditLog,
    pub on_error: OnError,
    pub deadline: Duration,
    pub max_body_size: usize,
    pub template_namespace: String,
    /// Whether the policy source has been read once (the cluster's watches
    /// have listed; a directory has been read).
    pub source_ready: Box<dyn Fn() -> bool + Send + Sync>,
    pub shutting_down: AtomicBool,
    pub limits: Limits,
    pub connections: Arc<Connections>,
}

type Body = Full<Bytes>;

impl State {
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().ok()?.clone()
    }

    /// Takes a new set into service.
    pub fn swap(&self, loaded: Loaded) {
        let (policies, templates) = loaded.set.counts();
        self.metrics
            .set_in_service(loaded.generation, policies, templates);
        if let Ok(mut slot) = self.loaded.write() {
            *slot = Some(Arc::new(loaded));
        }
    }

    /// Why the server is not ready, if it is not.
    fn not_ready(&self) -> Option<&'static str> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Some("shutting down");
        }
        if !(self.source_ready)() {
            return Some("the policy source has not been read yet");
        }
        if self.current().is_none() {
            return Some("no valid policy set yet");
        }
        if let NamespaceSource::Cluster(namespaces) = &self.namespaces
            && !namespaces.ready()
        {
            return Some("the namespaces have not been listed yet");
        }
        None
    }
}

/// Accepts connections until `shutdown` resolves, then asks the open ones
/// to close and waits up to `drain` for them to finish.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let limits = state.limits;
    'accepting: loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                log(format!("accepting a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let open = state.connections.open();
        // Past the cap: the connection idle longest leaves, or, all busy,
        // this one waits (and the next in the listen backlog) until one is
        // answered.
        let mut waited = false;
        loop {
            let grace = limits.header_read_timeout;
            match state
                .connections
                .make_room(limits.max_connections, &open, grace)
            {
                Room::Free => break,
                Room::MadeRoom => {
                    state.metrics.error("connection_cap");
                    break;
                }
                Room::Full => {
                    if !waited {
                        waited = true;
                        state.metrics.error("connection_cap");
                        log(format!(
                            "all {} connections (--max-connections) have a request in progress: new connections wait",
                            limits.max_connections
                        ));
                    }
                    tokio::select! {
                        () = state.connections.room_changed() => {}
                        () = &mut shutdown => break 'accepting,
                    }
                }
            }
        }
        state.metrics.connections(state.connections.count());
        let (acceptor, state) = (acceptor.clone(), state.clone());
        tokio::spawn(async move {
            connection(acceptor, tcp, &state, &open.tracker).await;
            drop(open);
            state.metrics.connections(state.connections.count());
        });
    }
    state.shutting_down.store(true, Ordering::Relaxed);
    state.connections.close_all(drain);
    let until = Instant::now() + drain;
    while state.connections.count() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One connection: the TLS handshake, then HTTP/2 when ALPN chose it, else
/// HTTP/1.1, until it ends, times out or is asked to close.
async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    state: &Arc<State>,
    tracker: &Arc<Tracker>,
) {
    let limits = state.limits;
    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp));
    let mut handshake = std::pin::pin!(handshake);
    let tls = loop {
        tokio::select! {
            handshake = &mut handshake => match handshake {
                Ok(Ok(tls)) => break tls,
                _ => {
                    state.metrics.error("tls_handshake");
                    return;
                }
            },
            () = tracker.changed() => {
                if matches!(tracker.due(&limits, Instant::now()), Due::Close(_)) {
                    return;
                }
            }
        }
    };
    let service_state = state.clone();
    let service_tracker = tracker.clone();
    let service = service_fn(move |request| {
        let in_flight = service_tracker.request();
        let state = service_state.clone();
        async move {
            let response = handle(state, request).await;
            drop(in_flight);
            response
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Cuts off a client that sends a request's headers slowly, or nothing.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // Over TLS, HTTP/2 is chosen by ALPN (RFC 9113 3.2), never guessed.
    let builder = if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let connection = builder.serve_connection(TokioIo::new(tls), service);
    let mut connection = std::pin::pin!(connection);
    // Once closing (GOAWAY sent; HTTP/1.1 after the answer in progress):
    // until when it may take.
    let mut closing_until: Option<Instant> = None;
    loop {
        let wake = match closing_until {
            Some(until) => Some(until),
            None => match tracker.due(&limits, Instant::now()) {
                Due::Busy => None,
                Due::At(at) => Some(at),
                Due::Close(grace) => {
                    connection.as_mut().graceful_shutdown();
                    closing_until = Some(Instant::now() + grace);
                    continue;
                }
            },
        };
        // No wake: the branch is off.
        let sleep = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now).into());
        tokio::select! {
            ended = connection.as_mut() => {
                let timed_out = ended.as_ref().err().and_then(|e| e.downcast_ref::<hyper::Error>()).is_some_and(hyper::Error::is_timeout);
                if timed_out {
                    state.metrics.error("header_timeout");
                }
                return;
            }
            () = sleep, if wake.is_some() => {
                if closing_until.is_some() {
                    return;
                }
            }
            () = tracker.changed(), if closing_until.is_none() => {}
        }
    }
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let response = match (request.method(), path.as_str()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => match state.not_ready() {
            None => text(StatusCode::OK, "ok\n"),
            Some(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not ready: {why}\n"),
            ),
        },
        (&Method::GET, "/metrics") => {
            let mut response = text(StatusCode::OK, &state.metrics.encode());
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        (&Method::POST, "/inject") => admission(state, request, Endpoint::Inject).await,
        (&Method::POST, "/validate") => admission(state, request, Endpoint::Validate).await,
        (_, "/inject" | "/validate") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST an AdmissionReview (admission.k8s.io/v1)\n",
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: the paths are /inject, /validate, /healthz, /readyz, /metrics\n",
        ),
    };
    Ok(response)
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Inject,
    Validate,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Inject => "inject",
            Endpoint::Validate => "validate",
        }
    }
}

async fn admission(
    state: Arc<State>,
    request: Request<Incoming>,
    endpoint: Endpoint,
) -> Response<Body> {
    let started = Instant::now();
    let deadline = deadline(state.deadline, request.uri().query());
    let work = answer(state.clone(), request, endpoint);
    let answer = match tokio::time::timeout(deadline, work).await {
        Ok(answer) => answer,
        Err(_) => {
            state.metrics.error("deadline");
            failed(
                &state,
                endpoint,
                None,
                format!("kubectl-inject did not answer within its deadline of {deadline:?}"),
            )
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.latency(endpoint.name(), seconds);
    state
        .metrics
        .decision(answer.record.outcome, answer.record.allowed);
    if let Some(cache) = answer.record.cache {
        state.metrics.cache(cache == "hit");
    }
    let mut record = answer.record;
    record.endpoint = endpoint.name();
    state.audit.write(&record, seconds);
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A body over the limit is still read, and dropped, to its end (up to
/// this much, for this long) before the 413 is sent: answered before the
/// client has sent it all, HTTP/2 resets the stream after the answer
/// (curl reports a stream error, not the 413) and HTTP/1.1 closes the
/// connection under the client still writing (a broken pipe).
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads the body within the limit and answers it on a blocking thread.
async fn answer(state: Arc<State>, request: Request<Incoming>, endpoint: Endpoint) -> Answer {
    let limit = state.max_body_size;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut incoming = request.into_body();
    if declared.is_some_and(|length| length > limit as u64) {
        state.metrics.error("too_large");
        drain(&mut incoming, declared).await;
        return too_large(limit);
    }
    let body = match Limited::new(&mut incoming, limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            state.metrics.error("too_large");
            drain(&mut incoming, None).await;
            return too_large(limit);
        }
        Err(e) => {
            state.metrics.error("malformed");
            return review::invalid(
                400,
                format!("reading the request body: {e}"),
                Record::default(),
            );
        }
    };
    let loaded = state.current();
    let work_state = state.clone();
    let work_body = body.clone();
    let work = tokio::task::spawn_blocking(move || {
        let state = work_state;
        match endpoint {
            Endpoint::Inject => {
                let loaded = loaded?;
                let lookup = |name: &str| namespace_labels(&state, &loaded, name);
                Some(admission::inject(
                    &loaded,
                    &work_body,
                    &lookup,
                    state.on_error,
                ))
            }
            Endpoint::Validate => Some(admission::validate(
                loaded.as_deref(),
                &state.set_options,
                &work_body,
                &state.template_namespace,
            )),
        }
    });
    match work.await {
        Ok(Some(answer)) => {
            if answer.record.outcome == "invalid" {
                state.metrics.error("malformed");
            }
            answer
        }
        Ok(None) => {
            state.metrics.error("no_policy_set");
            failed(
                &state,
                endpoint,
                Some(&body),
                "kubectl-inject has no valid policy set loaded yet".into(),
            )
        }
        Err(e) => {
            state.metrics.error("panic");
            log(format!("BUG: answering a request panicked: {e}"));
            failed(
                &state,
                endpoint,
                Some(&body),
                "kubectl-inject failed on this request (an internal error; see its log)".into(),
            )
        }
    }
}

fn namespace_labels(
    state: &State,
    loaded: &Loaded,
    name: &str,
) -> Option<(
    crate::model::selector::Labels,
    crate::model::selector::Labels,
)> {
    match &state.namespaces {
        // As `simulate` sees them: the Namespace objects, and the built-in
        // namespaces every cluster has.
        NamespaceSource::FromSet => loaded
            .namespaces
            .get(name)
            .map(|ns| (ns.labels.clone(), ns.annotations.clone())),
        NamespaceSource::Cluster(cluster) => cluster.lookup(name),
    }
}

/// The answer when the injector could not decide: per `--on-error` for
/// `/inject`; `/validate` refuses (a policy that cannot be checked is not
/// let in).
fn failed(state: &State, endpoint: Endpoint, body: Option<&[u8]>, message: String) -> Answer {
    let allow = matches!(endpoint, Endpoint::Inject) && state.on_error == OnError::Allow;
    review::failed(body, message, allow)
}

fn too_large(limit: usize) -> Answer {
    review::invalid(
        413,
        format!("the request body is larger than the limit of {limit} bytes (--max-body-size)"),
        Record::default(),
    )
}

/// Reads what is left of `body` and drops it, within [`DRAIN_BYTES`] and
/// [`DRAIN_TIME`]; a body declared larger is left unread.
async fn drain(body: &mut Incoming, declared: Option<u64>) {
    if declared.is_some_and(|length| length > DRAIN_BYTES) {
        return;
    }
    let mut read = 0;
    let reading = async {
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |data| data.len() as u64);
            if read > DRAIN_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, reading).await;
}

/// The deadline of one request: `--deadline`, or less when the API server
/// says it waits less (it appends `?timeout=10s`, the webhook's
/// timeoutSeconds): then a fifth of that is kept for the way back.
fn deadline(configured: Duration, query: Option<&str>) -> Duration {
    let asked = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("timeout="))
        .and_then(|value| crate::live::connect::parse_timeout(value).ok().flatten());
    match asked {
        Some(asked) => configured.min(asked.mul_f64(0.8)),
        None => configured,
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_timeout_shortens_the_deadline() {
        let configured = Duration::from_secs(8);
        assert_eq!(deadline(configured, None), configured);
        assert_eq!(
            deadline(configured, Some("timeout=5s")),
            Duration::from_secs(4)
        );
        assert_eq!(deadline(configured, Some("x=1&timeout=30s")), configured);
        assert_eq!(deadline(configured, Some("timeout=bogus")), configured);
    }
}
