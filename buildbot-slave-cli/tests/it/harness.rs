//! The `buildslave` binary, a tiny fake master, ports; temp dirs, daemons cleaned up on
//! drop and the rest come from the shared `cli_harness`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use sha1::{Digest, Sha1};

pub use crate::cli_harness::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_buildslave");

/// Runs `buildslave ARGS` with extra env vars, bounded by 40 s.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    run_program(
        "buildslave",
        Path::new(BIN),
        args,
        env,
        Duration::from_secs(40),
    )
}

pub fn run(args: &[&str]) -> Out {
    run_env(args, &[])
}

impl Scratch {
    /// A temp dir holding slave directories; on drop every slave started in it is killed
    /// (only a process that is one of ours: named buildslave or started for this dir).
    pub fn new() -> Self {
        Scratch::killing(|pid, dir| {
            let cmdline = String::from_utf8_lossy(
                &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
            )
            .into_owned();
            cmdline.contains("buildslave") || cmdline.contains(dir.to_str().unwrap_or("\0"))
        })
    }
}

/// A fake master on 127.0.0.1: completes the WebSocket handshake when the
/// credentials match (then keeps the connection open and silent), answers 401
/// otherwise.
pub struct FakeMaster {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeMaster {
    pub fn start(name: &str, password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
        );
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop2, conns) = (stop.clone(), connections.clone());
        thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        conns.fetch_add(1, Ordering::SeqCst);
                        let expected = expected.clone();
                        let stop3 = stop2.clone();
                        thread::spawn(move || serve(sock, &expected, &stop3));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeMaster {
            port,
            connections,
            stop,
        }
    }
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(sock: TcpStream, expected_auth: &str, stop: &AtomicBool) {
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reader = BufReader::new(sock.try_clone().unwrap());
    let mut key = None;
    let mut auth = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(_) if Instant::now() < deadline => continue,
            Err(_) => return,
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "sec-websocket-key" => key = Some(v.trim().to_owned()),
                "authorization" => auth = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut w = sock;
    if auth.as_deref() != Some(expected_auth) {
        let _ = w.write_all(b"HTTP/1.1 401 Unauthorized\r\n\r\n");
        return;
    }
    let mut h = Sha1::new();
    h.update(key.unwrap_or_default().as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(h.finalize());
    let _ = write!(
        w,
        "HTTP/1.1 101 Switching Protocols\r\nServer: fake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    // stay connected and silent until the slave goes away or the test ends
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

/// A listener that accepts connections and never answers.
pub fn silent_listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A free port with nothing listening.
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `create-slave -q -r DIR 127.0.0.1:PORT NAME PW EXTRA...`
pub fn create(dir: &Path, port: u16, extra: &[&str]) {
    let master = format!("127.0.0.1:{port}");
    let mut args = vec!["create-slave", "-q", "-r"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[s(dir), &master, "w1", "pw"]);
    run(&args).ok();
}
