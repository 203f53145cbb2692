//! Request routing and handlers.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use crate::config::MAX_FAULT_COUNT;
use crate::events::EventStream;
use crate::leak::leak_on_delete;
use crate::state::State;

/// No endpoint takes a body; anything larger than this is refused.
const MAX_BODY: usize = 64 * 1024;

/// A whole response, or the `/events` stream.
pub enum Body {
    Full(Full<Bytes>),
    Events(Box<EventStream>),
}

impl Default for Body {
    fn default() -> Self {
        Body::Full(Full::default())
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(f) => Pin::new(f).poll_frame(cx),
            Body::Events(e) => Pin::new(e.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(f) => f.is_end_stream(),
            Body::Events(_) => false,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(f) => f.size_hint(),
            Body::Events(_) => hyper::body::SizeHint::default(),
        }
    }
}

pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    // Read the (unused) body so the keep-alive connection stays usable.
    if let Err(e) = Limited::new(body, MAX_BODY).collect().await {
        let status = if e.downcast_ref::<LengthLimitError>().is_some() {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        return Ok(text(status, "bad request body\n"));
    }
    // The stall gate: while the stall task holds the write side, every request
    // waits here. The read guard is released at once so a long handler never
    // delays the next stall.
    drop(state.gate.read().await);
    if parts.method == Method::GET && parts.uri.path() == "/events" {
        return Ok(events(state));
    }
    Ok(route(
        &state,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
    ))
}

fn route(state: &State, method: &Method, path: &str, query: Option<&str>) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/health") => text(StatusCode::OK, "ok"),
        (&Method::GET, "/stats") => json(StatusCode::OK, &state.stats()),
        (&Method::POST, "/entities") => {
            let id = state.entities.create();
            json(StatusCode::CREATED, &serde_json::json!({ "id": id }))
        }
        (&Method::POST, "/faults") => faults(state, query),
        (&Method::GET | &Method::DELETE, _) if path.starts_with("/entities/") => {
            let rest = &path["/entities/".len()..];
            if rest.contains('/') {
                return not_found();
            }
            let Ok(id) = rest.parse::<u64>() else {
                return text(
                    StatusCode::BAD_REQUEST,
                    "entity id must be a non-negative integer\n",
                );
            };
            if method == Method::GET {
                get_entity(state, id)
            } else {
                delete_entity(state, id)
            }
        }
        _ => not_found(),
    }
}

fn get_entity(state: &State, id: u64) -> Response<Body> {
    match state.entities.get(id) {
        Some(e) => json(
            StatusCode::OK,
            &serde_json::json!({ "id": id, "bytes": e.len(), "checksum": e.checksum() }),
        ),
        None => not_found(),
    }
}

fn delete_entity(state: &State, id: u64) -> Response<Body> {
    if state.entities.remove(id).is_none() {
        return not_found();
    }
    let leak = state.config.leak_per_delete_bytes;
    if leak > 0 {
        leak_on_delete(leak as usize);
        state.leaked_bytes.fetch_add(leak, Ordering::Relaxed);
    }
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// The burst runs inline on the worker: its CPU cost is the request's own
/// cost, as it would be in a real service.
fn faults(state: &State, query: Option<&str>) -> Response<Body> {
    let count = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("count="))
        .and_then(|v| v.parse::<u64>().ok());
    let Some(count) = count.filter(|n| (1..=MAX_FAULT_COUNT).contains(n)) else {
        return text(
            StatusCode::BAD_REQUEST,
            &format!("query parameter count must be an integer 1..={MAX_FAULT_COUNT}\n"),
        );
    };
    let entities = state.entities.snapshot();
    let burst = state.faults.burst(count, &entities);
    json(StatusCode::OK, &burst)
}

/// `GET /events`: an SSE stream held until the client leaves.
fn events(state: Arc<State>) -> Response<Body> {
    let mut resp = Response::new(Body::Events(Box::new(EventStream::open(state))));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::copy_from_slice(body.as_bytes()),
    )
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, "application/json", Bytes::from(body)),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "serialisation failed\n"),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Body::Full(Full::new(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
