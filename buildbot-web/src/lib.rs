//! Buildbot's web server on tide: the REST data API v2 and its JSON-RPC control actions,
//! live updates (`/ws`, SSE), server-rendered pages, change hooks, auth and `/metrics`.
//!
//! [`serve`] starts the server for a running master; [`app`] builds the tide application
//! (used in-process by tests through `tide::Server::respond`).
#![warn(missing_docs)]

/// The REST data API v2 and its JSON-RPC control actions, one module per resource family.
mod api;
/// Logins, sessions and HTTP Basic users; authorization of control actions (`Authz`).
mod auth;
/// Rendered REST answers kept while the database is unchanged.
mod cache;
/// `/change_hook/*`: changes from the `base`, `github` and `gitlab` dialects.
mod hooks;
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

/// Accepts connections and serves each with HTTP/1.1 (keep-alive, upgrades for `/ws`).
///
/// Like tide's own listener, but with `TCP_NODELAY` on every connection: without it a
/// kept-alive client waits for the delayed ACK (about 40 ms) before each response's last
/// segment is sent.
async fn accept_loop(server: tide::Server<State>, listener: async_std::net::TcpListener) {
    use futures::StreamExt;
    let mut incoming = listener.incoming();
    while let Some(stream) = incoming.next().await {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // e.g. too many open files: keep serving the connections we have
                log::warn!("web server: cannot accept a connection: {e}");
                async_std::task::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        async_std::task::spawn(async move {
            let local = stream.local_addr().ok();
            let peer = stream.peer_addr().ok();
            let r = async_h1::accept(stream, |mut req| async {
                req.set_local_addr(local);
                req.set_peer_addr(peer);
                server.respond(req).await
            })
            .await;
            if let Err(e) = r {
                log::debug!("web connection from {peer:?} ended: {e}");
            }
        });
    }
}

/// Starts the web server for `handle` on `bind` (`host:port`, port 0 picks a free one).
pub async fn serve(handle: MasterHandle, bind: &str) -> Result<WebServer, WebError> {
    let bind_err = |source| WebError::Bind {
        addr: bind.to_owned(),
        source,
    };
    check_config(&handle.config().www, handle.basedir()).map_err(WebError::Config)?;
    let listener = std::net::TcpListener::bind(bind).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let server = app(handle);
    let task = async_std::task::spawn(accept_loop(server, listener.into()));
    log::info!("web server listening on http://{addr}/");
    Ok(WebServer {
        addr,
        task: Some(task),
    })
}
