//! Buildbot's web server on tide: the REST data API v2 and its JSON-RPC control actions,
//! live updates (`/ws`, SSE), server-rendered pages, change hooks, auth and `/metrics`.
//!
//! [`serve`] starts the server for a running master, behind the crate's own HTTP/1.1 front
//! end and its limits; [`app`] builds the tide application (used in-process by tests through
//! `tide::Server::respond`; served any other way it has none of the front end's limits).
#![warn(missing_docs)]

/// The REST data API v2 and its JSON-RPC control actions, one module per resource family.
mod api;
/// Logins, sessions and HTTP Basic users; authorization of control actions (`Authz`).
mod auth;
/// Each route's request-body limit, in one place.
mod body_limits;
/// Rendered REST answers kept while the database is unchanged.
mod cache;
/// `/change_hook/*`: changes from the `base`, `github` and `gitlab` dialects.
mod hooks;
/// The HTTP/1.1 front end: connection, head, body and time limits; keep-alive; upgrades.
mod http;
/// Python's two JSON spacings and `field=` selection (shapes: `buildbot_core::master::rest`).
mod json;
/// Live updates over the event bus: `/ws` and `/sse`.
mod live;
/// `/metrics` (Prometheus) and the middleware counting requests.
mod metrics;
/// The one `Origin` check: REST API, page forms, `/ws`, `/sse` and auth's cookie check.
mod origin;
/// Server-rendered pages, their form actions, static and `public_html` files.
mod pages;
/// Query parameters (result specs) parsed into a database query.
mod spec;
/// The state every handler sees: the master and one part per module.
mod state;

use std::net::SocketAddr;

use buildbot_core::master::MasterHandle;

pub use state::State;

/// The whole tide application for `handle`: every route of this crate.
pub fn app(handle: MasterHandle) -> tide::Server<State> {
    let mut app = tide::with_state(State::new(handle));
    metrics::install(&mut app);
    auth::install(&mut app);
    api::routes(&mut app);
    live::routes(&mut app);
    hooks::routes(&mut app);
    pages::routes(&mut app);
    app
}

/// Errors of the web server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr} for the web server: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `[www]` has a bad `auth`, `authz` or change hook setting.
    #[error("bad web configuration: {0}")]
    Config(String),
}

/// Checks `[www]`'s `auth`, `authz`, `change_hook_dialects` and `change_hook_auth` (a
/// user file is read relative to `basedir`); the error names the key at fault, e.g.
/// `www.authz.allowRules[0].type: unknown endpoint matcher "X" (...)`.
pub fn check_config(
    www: &buildbot_core::master::config::WwwConfig,
    basedir: &std::path::Path,
) -> Result<(), String> {
    auth::check_www(www, basedir)?;
    hooks::check_www(www)
}

/// A running web server; stops when [`WebServer::stop`] is called (or is dropped: the
/// server task is cancelled).
#[derive(Debug)]
pub struct WebServer {
    addr: SocketAddr,
    task: Option<async_std::task::JoinHandle<()>>,
}

impl WebServer {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/` as a base URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting connections.
    pub async fn stop(mut self) {
        if let Some(t) = self.task.take() {
            t.cancel().await;
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            async_std::task::spawn(async move {
                t.cancel().await;
            });
        }
    }
}

/// The application as the HTTP front end sees it.
#[derive(Clone)]
struct Front(tide::Server<State>);

impl http::App for Front {
    fn limits(&self) -> http::Limits {
        http::Limits::from_config(&self.0.state().handle.config().www.limits)
    }

    fn body_limit(&self, method: tide::http::Method, path: &str) -> u64 {
        body_limits::body_limit(self.0.state(), method, path)
    }

    fn too_large(&self, path: &str, limit: u64) -> tide::http::Response {
        body_limits::too_large(path, limit)
    }

    async fn respond(&self, req: tide::http::Request) -> tide::http::Response {
        match self.0.respond(req).await {
            Ok(res) => res,
            Err(e) => {
                log::error!("web server: cannot answer a request: {e}");
                tide::http::Response::new(tide::http::StatusCode::InternalServerError)
            }
        }
    }
}

/// Starts the web server for `handle` on `bind` (`host:port`, port 0 picks a free one).
///
/// Every connection goes through the crate's own HTTP/1.1 front end, which bounds what a
/// client can make the server hold: connections per address and in total, head size and
/// time, each route's body size (checked before reading) and time — `[www]`'s
/// `max_connections`, `max_connections_per_ip`, `header_timeout`, `body_timeout` and
/// `change_hook_max_body` (README, "Limits").
pub async fn serve(handle: MasterHandle, bind: &str) -> Result<WebServer, WebError> {
    let bind_err = |source| WebError::Bind {
        addr: bind.to_owned(),
        source,
    };
    check_config(&handle.config().www, handle.basedir()).map_err(WebError::Config)?;
    let listener = std::net::TcpListener::bind(bind).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let limits = &handle.config().www.limits;
    if let Some(n) = limits.max_connections
        && n > http::fd_budget()
    {
        log::warn!(
            "www.max_connections = {n} is more than the file-descriptor limit leaves room \
             for: at most {} web connections will be open (raise `ulimit -n`)",
            http::fd_budget()
        );
    }
    let server = Front(app(handle));
    let task = async_std::task::spawn(http::accept_loop(server, listener.into()));
    log::info!("web server listening on http://{addr}/");
    Ok(WebServer {
        addr,
        task: Some(task),
    })
}
