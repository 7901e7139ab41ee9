//! Connecting to the master (WebSocket upgrade with Basic credentials) and the reconnection
//! loop with exponential back-off.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use async_std::channel::Receiver;
use async_std::net::{TcpStream, ToSocketAddrs};
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use base64::Engine;
use futures::future::Either;

use super::session::{self, SessionOutcome};
use super::{Ev, Shared, SlaveConfig, SlaveEvent, SlaveExit};
use crate::protocol::{EXTENSIONS_HEADER, MAX_MESSAGE_SIZE, parse_extensions};

/// Why a connection attempt failed.
#[derive(Debug)]
pub(crate) enum ConnectError {
    HostNotFound(String),
    Refused(String),
    TimedOut(String),
    Auth(String),
    Other(String),
}

impl ConnectError {
    fn text(&self) -> &str {
        match self {
            ConnectError::HostNotFound(s)
            | ConnectError::Refused(s)
            | ConnectError::TimedOut(s)
            | ConnectError::Auth(s)
            | ConnectError::Other(s) => s,
        }
    }
}

/// `host:port` for messages (IPv6 literals in brackets).
fn host_port(config: &SlaveConfig) -> String {
    if config.master_host.contains(':') && !config.master_host.starts_with('[') {
        format!("[{}]:{}", config.master_host, config.master_port)
    } else {
        format!("{}:{}", config.master_host, config.master_port)
    }
}

fn url(config: &SlaveConfig) -> String {
    let path = match config.path.as_deref() {
        None | Some("") => "/".to_string(),
        Some(p) if p.starts_with('/') => p.to_string(),
        Some(p) => format!("/{p}"),
    };
    format!("ws://{}{}", host_port(config), path)
}

fn set_keepalive(stream: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a valid socket fd with a pointer to a c_int of the given size.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        log::debug!(
            "cannot enable TCP keepalive: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Opens the WebSocket session. Returns the stream and the extensions the master offers.
pub(crate) async fn connect(
    config: &SlaveConfig,
) -> Result<(WebSocketStream<TcpStream>, Vec<String>), ConnectError> {
    let hp = host_port(config);
    let attempt = async {
        let addrs: Vec<_> = (config.master_host.as_str(), config.master_port)
            .to_socket_addrs()
            .await
            .map_err(|e| {
                ConnectError::HostNotFound(format!("cannot resolve the master host {hp}: {e}"))
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ConnectError::HostNotFound(format!(
                "cannot resolve the master host {hp}: no addresses"
            )));
        }
        let stream = TcpStream::connect(&addrs[..]).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                ConnectError::Refused(format!(
                    "connection to the master at {hp} refused (is the master running?)"
                ))
            } else {
                ConnectError::Other(format!("cannot connect to the master at {hp}: {e}"))
            }
        })?;
        set_keepalive(&stream);
        let _ = stream.set_nodelay(true);
        let mut request = url(config)
            .into_client_request()
            .map_err(|e| ConnectError::Other(format!("invalid master URL for {hp}: {e}")))?;
        let encoding = super::output::Encoding::from_name(config.unicode_encoding.as_deref());
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(encoding.encode(&format!("{}:{}", config.name, config.password)));
        let value = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|e| ConnectError::Other(format!("invalid credentials: {e}")))?;
        request.headers_mut().insert("Authorization", value);
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_SIZE))
            .max_frame_size(Some(MAX_MESSAGE_SIZE));
        match async_tungstenite::client_async_with_config(request, stream, Some(ws_config)).await {
            Ok((ws, response)) => {
                let exts = response
                    .headers()
                    .get(EXTENSIONS_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(parse_extensions)
                    .unwrap_or_default();
                Ok((ws, exts))
            }
            Err(async_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status();
                if status.as_u16() == 401 || status.as_u16() == 400 {
                    Err(ConnectError::Auth(format!(
                        "the master at {hp} refused the credentials (HTTP {}): check the slave name and password ({:?}) in buildbot.tac",
                        status.as_u16(),
                        config.name
                    )))
                } else {
                    Err(ConnectError::Other(format!(
                        "WebSocket upgrade at {hp} failed: HTTP {status}"
                    )))
                }
            }
            Err(e) => Err(ConnectError::Other(format!(
                "WebSocket handshake with {hp} failed: {e}"
            ))),
        }
    };
    match async_std::future::timeout(config.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::TimedOut(format!(
            "connection attempt to {hp} timed out (is the port number correct?)"
        ))),
    }
}

/// Delay before retry number `retry` (1-based): ≈1 s, ×e each time, ±12 % jitter, capped at
/// `maxdelay`.
pub(crate) fn backoff(retry: u32, maxdelay: u64) -> Duration {
    let base = std::f64::consts::E.powi(retry.saturating_sub(1).min(60) as i32);
    let capped = base.min(maxdelay.max(1) as f64);
    let jitter = 1.0 + (rand::random::<f64>() * 0.24 - 0.12);
    Duration::from_secs_f64(capped * jitter)
}

enum Wait {
    Elapsed,
    Exit(SlaveExit),
}

/// Waits `delay` while still reacting to stop / graceful-shutdown requests.
async fn wait(ev_rx: &Receiver<Ev>, delay: Duration) -> Wait {
    let deadline = std::time::Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Wait::Elapsed;
        }
        match async_std::future::timeout(left, ev_rx.recv()).await {
            Err(_) => return Wait::Elapsed,
            Ok(Ok(Ev::Stop)) | Ok(Err(_)) => return Wait::Exit(SlaveExit::Stopped),
            Ok(Ok(Ev::Graceful)) => {
                log::info!("graceful shutdown while not connected: exiting now");
                return Wait::Exit(SlaveExit::GracefulShutdown);
            }
            Ok(Ok(_)) => {}
        }
    }
}

/// The connect / serve / reconnect loop.
pub(crate) async fn run_loop(shared: &Arc<Shared>, ev_rx: &Receiver<Ev>) -> SlaveExit {
    let config = &shared.config;
    let hp = host_port(config);
    let mut retry: u32 = 0;
    let mut generation: u64 = 0;
    loop {
        if shared.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return SlaveExit::Stopped;
        }
        generation += 1;
        log::info!("connecting to the master at {hp} (attempt {})", retry + 1);
        shared.emit(SlaveEvent::Connecting { attempt: retry + 1 });
        // connect, but stay responsive to stop / graceful requests
        let mut connecting = Box::pin(connect(config));
        let result = loop {
            let ev = Box::pin(ev_rx.recv());
            match futures::future::select(connecting, ev).await {
                Either::Left((r, _)) => break r,
                Either::Right((ev, pending)) => {
                    connecting = pending;
                    match ev {
                        Ok(Ev::Stop) | Err(_) => return SlaveExit::Stopped,
                        Ok(Ev::Graceful) => {
                            log::info!("graceful shutdown while not connected: exiting now");
                            return SlaveExit::GracefulShutdown;
                        }
                        Ok(_) => {}
                    }
                }
            }
        };
        match result {
            Ok((ws, exts)) => {
                log::info!(
                    "connected to the master at {hp}{}",
                    if exts.is_empty() {
                        String::new()
                    } else {
                        format!(" (extensions: {})", exts.join(", "))
                    }
                );
                shared.emit(SlaveEvent::Connected);
                match session::run(shared, ev_rx, ws, exts, generation).await {
                    SessionOutcome::Exit(exit) => return exit,
                    SessionOutcome::Lost { reason, started } => {
                        log::warn!("lost the connection to the master at {hp}: {reason}");
                        if shared.commands.len() > 0 {
                            shared.commands.kill_all("connection to the master lost");
                        }
                        shared.emit(SlaveEvent::Disconnected(reason));
                        if started {
                            retry = 0;
                        }
                        retry += 1;
                        let delay = backoff(retry, config.maxdelay);
                        log::info!("will retry in {:.1} seconds", delay.as_secs_f64());
                        if let Wait::Exit(e) = wait(ev_rx, delay).await {
                            return e;
                        }
                        continue;
                    }
                }
            }
            Err(e) => {
                retry += 1;
                match &e {
                    ConnectError::Auth(text) => {
                        log::error!("{text}");
                        shared.emit(SlaveEvent::AuthFailed(text.clone()));
                    }
                    other => log::warn!("{}", other.text()),
                }
                if let Some(max) = config.maxretries
                    && retry >= max
                {
                    log::error!(
                        "giving up after {retry} failed connection attempts to {hp} (maxretries)"
                    );
                    return SlaveExit::MaxRetriesReached;
                }
                let delay = backoff(retry, config.maxdelay);
                log::info!("will retry in {:.1} seconds", delay.as_secs_f64());
                shared.emit(SlaveEvent::ConnectFailed {
                    reason: e.text().to_string(),
                    retry_in: delay,
                });
                if let Wait::Exit(e) = wait(ev_rx, delay).await {
                    return e;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_schedule() {
        for _ in 0..50 {
            let d1 = backoff(1, 300).as_secs_f64();
            assert!((0.88..=1.12).contains(&d1), "{d1}");
            let d3 = backoff(3, 300).as_secs_f64();
            let e2 = std::f64::consts::E.powi(2);
            assert!((e2 * 0.88..=e2 * 1.12).contains(&d3), "{d3}");
            let d20 = backoff(20, 300).as_secs_f64();
            assert!((264.0..=336.0).contains(&d20));
        }
    }
}
