//! A cache of rendered REST GET responses, valid while the database is unchanged.
//!
//! Dashboards poll the same URLs over and over (every open browser tab asks for the same
//! recent builds); the answer only changes when the master writes to the database. Each
//! entry remembers the database's write generation ([`buildbot_db::DbStats::write_generation`])
//! read *before* its query, and is served only while the generation is the same, so a
//! response is never older than this master's last write. Writes by other masters sharing
//! the database are not counted: entries also expire after [`MAX_AGE`].
//!
//! A request with `Cache-Control: no-cache` (or `no-store`) bypasses the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tide::{Request, Response, StatusCode};

/// The longest an entry is served, for writes this process does not see.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

/// At most this many URLs are kept (the whole cache is dropped when it is full).
const MAX_ENTRIES: usize = 512;

/// Bodies larger than this are not kept.
const MAX_BODY: usize = 1 << 20;

#[derive(Debug)]
struct Entry {
    generation: u64,
    at: Instant,
    content_type: &'static str,
    body: Arc<str>,
}

/// Rendered responses by URL (path, query and JSON flavour).
#[derive(Debug, Default)]
pub(crate) struct ResponseCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The cache key of a request, `None` when it must not be cached.
fn key<S>(req: &Request<S>, compact: bool) -> Option<String> {
    if req.method() != tide::http::Method::Get {
        return None;
    }
    if req
        .header("Cache-Control")
        .is_some_and(|h| h.as_str().contains("no-cache") || h.as_str().contains("no-store"))
    {
        return None;
    }
    let url = req.url();
    Some(format!(
        "{}{}?{}",
        if compact { "j" } else { "p" },
        url.path(),
        url.query().unwrap_or("")
    ))
}

/// A 200 answer with `body` of `content_type`.
pub(crate) fn response(content_type: &str, body: impl Into<tide::Body>) -> Response {
    let mut r = Response::new(StatusCode::Ok);
    r.insert_header("Content-Type", content_type);
    r.set_body(body);
    r
}

impl ResponseCache {
    /// The cached answer to `req`, if it was kept at the database's current write
    /// `generation` (and is not too old).
    pub(crate) fn lookup<S>(
        &self,
        req: &Request<S>,
        compact: bool,
        generation: u64,
    ) -> Option<Response> {
        let key = key(req, compact)?;
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(&key)?;
        (e.generation == generation && e.at.elapsed() < MAX_AGE)
            .then(|| response(e.content_type, &*e.body))
    }

    /// Keeps a successful answer rendered from data read at `generation`, and returns it.
    pub(crate) fn store<S>(
        &self,
        req: &Request<S>,
        compact: bool,
        generation: u64,
        content_type: &'static str,
        body: String,
    ) -> Response {
        let Some(key) = key(req, compact).filter(|_| body.len() <= MAX_BODY) else {
            return response(content_type, body);
        };
        let body: Arc<str> = body.into();
        let r = response(content_type, &*body);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation,
                at: Instant::now(),
                content_type,
                body,
            },
        );
        r
    }
}
