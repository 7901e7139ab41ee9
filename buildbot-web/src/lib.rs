//! Buildbot's web server on tide: the REST data API v2 and its JSON-RPC control actions,
//! live updates (`/ws`, SSE), server-rendered pages, change hooks, auth and `/metrics`.
//!
//! [`serve`] starts the server for a running master; [`app`] builds the tide application
//! (used in-process by tests through `tide::Server::respond`).
#![warn(missing_docs)]

mod api;
mod auth;
mod hooks;
mod json;
mod live;
mod metrics;
mod pages;
mod spec;
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

/// Starts the web server for `handle` on `bind` (`host:port`, port 0 picks a free one).
pub async fn serve(handle: MasterHandle, bind: &str) -> Result<WebServer, WebError> {
    let bind_err = |source| WebError::Bind {
        addr: bind.to_owned(),
        source,
    };
    let listener = std::net::TcpListener::bind(bind).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let server = app(handle);
    let task = async_std::task::spawn(async move {
        if let Err(e) = server.listen(listener).await {
            log::error!("web server on {addr} stopped: {e}");
        }
    });
    log::info!("web server listening on http://{addr}/");
    Ok(WebServer {
        addr,
        task: Some(task),
    })
}
