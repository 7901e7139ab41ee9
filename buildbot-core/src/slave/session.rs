//! One WebSocket session with the master: reading and writing frames, answering requests.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_std::channel::Receiver;
use async_std::net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use rmpv::Value;

use super::{Ev, Shared, SlaveExit, commands, info};
use crate::protocol::{
    EXT_KEEPALIVE, EXT_SHUTDOWN_REQUEST, IncomingRequest, Op, RpcPeer, WorkerSettings,
};

/// How a session ended.
pub(crate) enum SessionOutcome {
    /// The worker must exit.
    Exit(SlaveExit),
    /// The connection was lost; `started` tells whether the master had spoken first.
    Lost { reason: String, started: bool },
}

struct SessionCtx {
    shared: Arc<Shared>,
    peer: RpcPeer,
    settings: Mutex<WorkerSettings>,
    generation: u64,
}

impl SessionCtx {
    fn handle(&self, req: IncomingRequest) {
        let IncomingRequest {
            seq_number,
            op_name,
            op,
        } = req;
        let mut shutdown = false;
        let result: Result<Value, String> = match op {
            Err(text) => Err(text),
            Ok(op) => match op {
                Op::Print { message } => {
                    log::info!("message from master: {message}");
                    Ok(Value::Nil)
                }
                Op::Keepalive => {
                    log::info!("Connection keepalive confirmed.");
                    Ok(Value::Nil)
                }
                Op::GetWorkerInfo => info::collect(&self.shared),
                Op::SetWorkerSettings { args } => {
                    if args.newline_re != crate::protocol::DEFAULT_NEWLINE_RE {
                        log::warn!(
                            "master sent a non-default newline_re {:?}; the default rules are used",
                            args.newline_re
                        );
                    }
                    *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = args;
                    Ok(Value::Nil)
                }
                Op::StartCommand {
                    command_id,
                    command_name,
                    args,
                    ..
                } => {
                    if self.shared.shutting_down.load(Ordering::SeqCst) {
                        Err("worker is shutting down".to_string())
                    } else {
                        let settings = self
                            .settings
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clone();
                        commands::start(
                            &self.shared,
                            &self.peer,
                            settings,
                            command_id,
                            &command_name,
                            args,
                        )
                        .map(|()| Value::Nil)
                    }
                }
                Op::InterruptCommand {
                    command_id, why, ..
                } => {
                    self.shared.commands.interrupt(&command_id, &why);
                    Ok(Value::Nil)
                }
                Op::Shutdown => {
                    log::info!("the master asked the worker to shut down");
                    shutdown = true;
                    Ok(Value::Nil)
                }
                _ => Err(format!("Command {op_name} does not exist.")),
            },
        };
        if let Err(e) = &result {
            log::info!("request {op_name} (seq {seq_number}) failed: {e}");
        }
        self.peer.respond(seq_number, result);
        if shutdown {
            self.shared.send_ev(Ev::MasterShutdown {
                generation: self.generation,
            });
        }
    }
}

/// Runs one session until it ends.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    ev_rx: &Receiver<Ev>,
    ws: WebSocketStream<TcpStream>,
    extensions: Vec<String>,
    generation: u64,
) -> SessionOutcome {
    let (peer, out_rx) = RpcPeer::new();
    let (mut sink, mut stream) = ws.split();
    let ctx = Arc::new(SessionCtx {
        shared: shared.clone(),
        peer: peer.clone(),
        settings: Mutex::new(WorkerSettings::default()),
        generation,
    });

    let writer = {
        let shared = shared.clone();
        async_std::task::spawn(async move {
            while let Ok(frame) = out_rx.recv().await {
                if let Err(e) = sink.send(WsMessage::binary(frame)).await {
                    shared.send_ev(Ev::SessionEnded {
                        generation,
                        reason: format!("write failed: {e}"),
                    });
                    break;
                }
            }
            // dropping the sink without a close frame, like the Python worker
        })
    };

    let reader = {
        let shared = shared.clone();
        let ctx = ctx.clone();
        async_std::task::spawn(async move {
            let mut first = true;
            let reason = loop {
                match stream.next().await {
                    Some(Ok(WsMessage::Binary(payload))) => {
                        if first {
                            first = false;
                            shared.send_ev(Ev::FirstMessage { generation });
                        }
                        match ctx.peer.receive(&payload) {
                            Ok(Some(req)) => ctx.handle(req),
                            Ok(None) => {}
                            Err(e) => {
                                log::error!("protocol error, dropping the connection: {e}");
                                break format!("protocol error: {e}");
                            }
                        }
                    }
                    Some(Ok(WsMessage::Text(t))) => {
                        log::warn!("ignoring a text frame from the master: {}", t.as_str());
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        break format!("the master closed the connection ({frame:?})");
                    }
                    Some(Ok(_)) => {} // ping/pong: answered by tungstenite
                    Some(Err(async_tungstenite::tungstenite::Error::Capacity(
                        async_tungstenite::tungstenite::error::CapacityError::MessageTooLong {
                            size,
                            max_size,
                        },
                    ))) => {
                        let e = crate::protocol::ProtocolError::MessageTooLarge {
                            size,
                            limit: max_size,
                        };
                        log::error!("protocol error, dropping the connection: {e}");
                        break format!("protocol error: {e}");
                    }
                    Some(Err(e)) => break format!("connection error: {e}"),
                    None => break "connection closed by the master".to_string(),
                }
            };
            shared.send_ev(Ev::SessionEnded { generation, reason });
        })
    };

    let keepalive = if extensions.iter().any(|e| e == EXT_KEEPALIVE) && shared.config.keepalive > 0
    {
        let interval = Duration::from_secs(shared.config.keepalive);
        let peer = peer.clone();
        let shared = shared.clone();
        Some(async_std::task::spawn(async move {
            loop {
                async_std::task::sleep(interval).await;
                match async_std::future::timeout(interval, peer.call(Op::Keepalive)).await {
                    Ok(Ok(_)) => log::debug!("keepalive answered"),
                    Ok(Err(e)) => {
                        shared.send_ev(Ev::SessionEnded {
                            generation,
                            reason: format!("keepalive failed: {e}"),
                        });
                        break;
                    }
                    Err(_) => {
                        shared.send_ev(Ev::SessionEnded {
                            generation,
                            reason: format!(
                                "no keepalive response within {} seconds",
                                interval.as_secs()
                            ),
                        });
                        break;
                    }
                }
            }
        }))
    } else {
        None
    };

    let supports_shutdown_request = extensions.iter().any(|e| e == EXT_SHUTDOWN_REQUEST);
    let mut started = false;
    let mut graceful = false;
    let mut draining = false;
    let start_draining = |shared: &Arc<Shared>| {
        shared.shutting_down.store(true, Ordering::SeqCst);
        log::info!(
            "graceful shutdown: waiting for {} running command(s), then disconnecting",
            shared.commands.len()
        );
    };
    let outcome = loop {
        let ev = match ev_rx.recv().await {
            Ok(ev) => ev,
            Err(_) => break SessionOutcome::Exit(SlaveExit::Stopped),
        };
        match ev {
            Ev::Stop => break SessionOutcome::Exit(SlaveExit::Stopped),
            Ev::Graceful => {
                if graceful {
                    continue;
                }
                graceful = true;
                if supports_shutdown_request {
                    log::info!("asking the master for a graceful shutdown");
                    let fut = peer.send(Op::ShutdownRequest);
                    let shared = shared.clone();
                    async_std::task::spawn(async move {
                        if let Err(e) = fut.await {
                            log::warn!("the master refused the shutdown request: {e}");
                            shared.send_ev(Ev::ShutdownRequestRefused { generation });
                        }
                    });
                } else {
                    log::info!(
                        "the master does not support shutdown requests; shutting down on our own"
                    );
                    draining = true;
                    start_draining(shared);
                    if shared.commands.len() == 0 {
                        break SessionOutcome::Exit(SlaveExit::GracefulShutdown);
                    }
                }
            }
            Ev::ShutdownRequestRefused { generation: g } if g == generation => {
                draining = true;
                start_draining(shared);
                if shared.commands.len() == 0 {
                    break SessionOutcome::Exit(SlaveExit::GracefulShutdown);
                }
            }
            Ev::CommandsChanged if draining && shared.commands.len() == 0 => {
                log::info!("all commands finished: disconnecting");
                break SessionOutcome::Exit(SlaveExit::GracefulShutdown);
            }
            Ev::MasterShutdown { generation: g } if g == generation => {
                // let the response go out, then leave (the Python worker waits ~0.2 s)
                async_std::task::sleep(Duration::from_millis(200)).await;
                break SessionOutcome::Exit(if graceful {
                    SlaveExit::GracefulShutdown
                } else {
                    SlaveExit::ShutdownByMaster
                });
            }
            Ev::FirstMessage { generation: g } if g == generation => started = true,
            Ev::SessionEnded {
                generation: g,
                reason,
            } if g == generation => break SessionOutcome::Lost { reason, started },
            _ => {}
        }
    };
    if matches!(outcome, SessionOutcome::Exit(SlaveExit::GracefulShutdown)) {
        // flush what is queued (e.g. the last responses) before dropping the connection
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while peer.pending_count() > 0 && std::time::Instant::now() < deadline {
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
    }
    peer.close();
    if let Some(k) = keepalive {
        k.cancel().await;
    }
    reader.cancel().await;
    let _ = async_std::future::timeout(Duration::from_secs(2), writer).await;
    outcome
}
