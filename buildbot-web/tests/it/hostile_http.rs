//! Issue 19, items 2, 5 and 9 and the connection limits: a hostile client against the real
//! HTTP front end on 127.0.0.1 — malformed heads, 1 GB bodies, slow bodies, connection
//! floods from one address and from many.
//!
//! Each test asserts the status (or the close) seen on the socket, that the answer closes
//! the connection, and, while it runs, that `GET /api/v2/builders` keeps answering: within
//! [`GET_BOUND`] (1 s, not the issue's 100 ms: these tests run beside the whole workspace's
//! on 2 cores in a debug build; they print what they measured, typically a few ms). The
//! body test also bounds the process's RSS while a 1 GB body is offered ([`RSS_BOUND`];
//! the body is streamed, never allocated) and completes a build forced meanwhile.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Bound on `GET /api/v2/builders` while the server is attacked.
const GET_BOUND: Duration = Duration::from_secs(1);
/// Bound on the process's RSS growth while a 1 GB body is offered, in KiB (other tests of
/// this binary run meanwhile, so this leaves them room; a body held in memory is 1 GB).
const RSS_BOUND: u64 = 100 << 10;
/// What a hostile client offers.
const ONE_GB: u64 = 1 << 30;

/// `header_timeout`/`body_timeout` short so that the slow clients are cut off quickly; the
/// change hook limit low so that a `chunked` body passes it quickly.
const CONFIG: &str = r#"
[protocols.msgpack]
port = 0

[www]
header_timeout = 3
body_timeout = 2
change_hook_max_body = 1048576

[www.change_hook_dialects]
base = true

[[workers]]
name = "w1"
password = "pass1"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["good"]

[[builders]]
name = "good"
workernames = ["w1"]
steps = [{ type = "ShellCommand", command = ["sh", "-c", "sleep 1; echo done"] }]
"#;

async fn start(config: &str) -> (Env, buildbot_web::WebServer) {
    let env = Env::start_toml(config).await;
    let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    (env, server)
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// `GET /api/v2/builders` every 100 ms from 127.0.0.1 until [`Prober::finish`].
struct Prober {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u32, Duration)>,
}

impl Prober {
    fn start(addr: SocketAddr) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut n, mut slowest) = (0, Duration::ZERO);
            while !flag.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, _, body) = http_get(addr, "/api/v2/builders");
                let took = t.elapsed();
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                assert!(took < GET_BOUND, "GET /api/v2/builders took {took:?}");
                slowest = slowest.max(took);
                n += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (n, slowest)
        });
        Prober { stop, thread }
    }

    /// `(probes, slowest)`.
    fn finish(self) -> (u32, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Runs `f` while sampling the process's RSS: `(f's result, peak growth in KiB)`.
fn peak_rss_during<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let base = vm_rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while !flag.load(Ordering::Relaxed) {
            peak = peak.max(vm_rss_kib());
            std::thread::sleep(Duration::from_millis(5));
        }
        peak.max(vm_rss_kib())
    });
    let r = f();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    (r, peak.saturating_sub(base))
}

/// A final answer, with the interim (1xx) statuses sent before it.
#[derive(Debug)]
struct Answer {
    interim: Vec<u16>,
    /// 0: no answer.
    status: u16,
    /// Lowercase.
    head: String,
    body: String,
    /// The server closed the connection after it.
    closed: bool,
}

impl Answer {
    fn says_close(&self) -> bool {
        self.head.contains("\r\nconnection: close")
    }
}

fn parse_answer(raw: &[u8], closed: bool) -> Answer {
    let mut a = Answer {
        interim: Vec::new(),
        status: 0,
        head: String::new(),
        body: String::new(),
        closed,
    };
    let mut rest = raw;
    while let Some(split) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..split]).to_ascii_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        rest = &rest[split + 4..];
        if (100..200).contains(&status) {
            a.interim.push(status);
            continue;
        }
        a.status = status;
        a.head = head;
        a.body = String::from_utf8_lossy(rest).into_owned();
        break;
    }
    a
}

/// Reads until the server closes the connection or sends nothing for `wait`:
/// `(bytes, closed by the server)`.
fn read_all(s: &mut TcpStream, wait: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, false);
            }
            Err(_) => return (out, true),
        }
    }
}

/// Sends `raw` (the server may stop reading it) and reads the answer until the close.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(raw);
    let (raw, closed) = read_all(&mut s, Duration::from_secs(20));
    parse_answer(&raw, closed)
}

/// Sends `head` then offers a body of `len` zero bytes (streamed in 64 KiB blocks, chunked
/// or not) until the server answers and closes or stops reading: `(answer, bytes sent)`.
fn offer_body(addr: SocketAddr, head: &str, len: u64, chunked: bool) -> (Answer, u64) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut r = s.try_clone().unwrap();
    let reader = std::thread::spawn(move || read_all(&mut r, Duration::from_secs(30)));
    let block = vec![0u8; 64 << 10];
    let mut sent = 0u64;
    while sent < len && !reader.is_finished() {
        let n = (len - sent).min(block.len() as u64) as usize;
        let ok = if chunked {
            s.write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|_| s.write_all(&block[..n]))
                .and_then(|_| s.write_all(b"\r\n"))
        } else {
            s.write_all(&block[..n])
        };
        if ok.is_err() {
            break;
        }
        sent += n as u64;
    }
    if chunked && sent == len {
        let _ = s.write_all(b"0\r\n\r\n");
    }
    let (raw, closed) = reader.join().unwrap();
    (parse_answer(&raw, closed), sent)
}

/// A connection from the loopback address `src` (e.g. `[127, 0, 0, 2]`).
fn connect_from(src: [u8; 4], addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, SockAddr, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.bind(&SockAddr::from(SocketAddr::from((src, 0))))
        .unwrap();
    sock.connect(&SockAddr::from(addr)).unwrap();
    sock.into()
}

/// Whether the server has answered or closed `s` (without waiting).
fn refused(mut s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 64];
    let r = match s.read(&mut b) {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    r
}

/// Issue 19 item 9: every malformed head is answered with its status and
/// `Connection: close`, then closed; none is left hanging.
#[test]
fn issue19_malformed_heads_get_a_status_and_are_closed() {
    within(240, async move {
        let (_env, server) = start(CONFIG).await;
        let addr = server.addr();
        let probe = Prober::start(addr);
        let headers = |n: usize| -> String { (0..n).map(|i| format!("X-H{i}: v\r\n")).collect() };
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            (
                "head over 8 KiB",
                format!(
                    "GET /api/v2/builders HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                    "a".repeat(9 << 10)
                )
                .into_bytes(),
                431,
            ),
            (
                "200 headers",
                format!(
                    "GET /api/v2/builders HTTP/1.1\r\nHost: x\r\n{}\r\n",
                    headers(200)
                )
                .into_bytes(),
                431,
            ),
            (
                "101 header lines",
                format!(
                    "GET /api/v2/builders HTTP/1.1\r\nHost: x\r\n{}\r\n",
                    headers(100)
                )
                .into_bytes(),
                431,
            ),
            (
                "request-target over 8 KiB",
                format!(
                    "GET /api/v2/builders?{} HTTP/1.1\r\nHost: x\r\n\r\n",
                    "a=1&".repeat(2100)
                )
                .into_bytes(),
                414,
            ),
            (
                "endless request line",
                format!("GET /{}", "a".repeat(20 << 10)).into_bytes(),
                414,
            ),
            (
                "missing Host",
                b"GET /api/v2/builders HTTP/1.1\r\n\r\n".to_vec(),
                400,
            ),
            (
                "non-ASCII header value",
                "GET /api/v2/builders HTTP/1.1\r\nHost: x\r\nX-Name: caf\u{e9}\r\n\r\n"
                    .as_bytes()
                    .to_vec(),
                400,
            ),
            (
                "control byte in a header value",
                b"GET /api/v2/builders HTTP/1.1\r\nHost: x\r\nX-Name: a\x01b\r\n\r\n".to_vec(),
                400,
            ),
            (
                "Content-Length and Transfer-Encoding",
                b"POST /api/v2/forceschedulers/force HTTP/1.1\r\nHost: x\r\n\
                  Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                    .to_vec(),
                400,
            ),
            (
                "two different Content-Length",
                b"POST /api/v2/forceschedulers/force HTTP/1.1\r\nHost: x\r\n\
                  Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}"
                    .to_vec(),
                400,
            ),
            (
                "invalid Content-Length",
                b"POST /api/v2/forceschedulers/force HTTP/1.1\r\nHost: x\r\n\
                  Content-Length: 2x\r\n\r\n{}"
                    .to_vec(),
                400,
            ),
            (
                "unknown transfer coding",
                b"POST /api/v2/forceschedulers/force HTTP/1.1\r\nHost: x\r\n\
                  Transfer-Encoding: gzip\r\n\r\n"
                    .to_vec(),
                501,
            ),
            (
                "HTTP/1.0",
                b"GET /api/v2/builders HTTP/1.0\r\n\r\n".to_vec(),
                505,
            ),
            (
                "HTTP/2.0",
                b"GET /api/v2/builders HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(),
                505,
            ),
            (
                "garbage",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
                400,
            ),
        ];
        for (what, raw, want) in cases {
            let t = Instant::now();
            let a = async_std::task::spawn_blocking(move || exchange(addr, &raw)).await;
            eprintln!("{what}: {} in {:?}", a.status, t.elapsed());
            assert_eq!(a.status, want, "{what}: {a:?}");
            assert!(a.says_close() && a.closed, "{what}: {a:?}");
        }
        // at the limits: 100 header lines and an 8 KiB target are served
        for (raw, want) in [
            (
                format!(
                    "GET /api/v2/builders HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
                    headers(98)
                ),
                200,
            ),
            (
                format!(
                    "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    "a".repeat((8 << 10) - 1)
                ),
                404,
            ),
        ] {
            let a = async_std::task::spawn_blocking(move || exchange(addr, raw.as_bytes())).await;
            assert_eq!(a.status, want, "{a:?}");
        }
        // a head begun but not finished: 408 after header_timeout (3 s); an idle
        // connection is closed then without an answer
        let t = Instant::now();
        let a = async_std::task::spawn_blocking(move || {
            exchange(addr, b"GET /api/v2/builders HTTP/1.1\r\nHost: x\r\n")
        })
        .await;
        let took = t.elapsed();
        eprintln!("unfinished head: {} after {took:?}", a.status);
        assert_eq!(a.status, 408, "{a:?}");
        assert!(a.closed && took >= Duration::from_millis(2900), "{took:?}");
        let a = async_std::task::spawn_blocking(move || exchange(addr, b"")).await;
        assert!(a.status == 0 && a.closed, "{a:?}");

        let (n, slowest) = probe.finish();
        eprintln!("GET /api/v2/builders: {n} probes, slowest {slowest:?}");
        server.stop().await;
    });
}

/// Issue 19 item 2: bodies are checked against their route's limit before they are read;
/// a 1 GB body costs no memory; `100 Continue` only for a body that will be read.
#[test]
fn issue19_bodies_are_refused_before_they_are_read() {
    within(300, async move {
        let (env, server) = start(CONFIG).await;
        let addr = server.addr();
        let probe = Prober::start(addr);

        // a build forced meanwhile, with Expect: 100-continue (the body is read: 100 first)
        let rpc = r#"{"jsonrpc":"2.0","method":"force","id":1,"params":{"builderNames":["good"]}}"#;
        let forced = async_std::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(
                s,
                "POST /api/v2/forceschedulers/force HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/json\r\nExpect: 100-continue\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                rpc.len()
            )
            .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut interim = [0u8; 25];
            s.read_exact(&mut interim).unwrap();
            assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
            s.write_all(rpc.as_bytes()).unwrap();
            let (raw, closed) = read_all(&mut s, Duration::from_secs(20));
            parse_answer(&raw, closed)
        })
        .await;
        assert_eq!(forced.status, 200, "{forced:?}");
        let v: serde_json::Value = serde_json::from_str(&forced.body).unwrap();
        let brid = v["result"][1]["1"].as_i64().expect("a build request");

        let post = |path: &str, extra: &str| {
            format!("POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {ONE_GB}\r\n\r\n")
        };
        let post_chunked = |path: &str| {
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        };
        let cases = [
            // a dialect that is not enabled: Buildbot's 400, the body never read
            (
                "github hook, not enabled",
                post("/change_hook/github", ""),
                false,
                400,
            ),
            (
                "github hook, not enabled, Expect",
                post("/change_hook/github", "Expect: 100-continue\r\n"),
                false,
                400,
            ),
            // an enabled one: above its limit (1 MiB here)
            (
                "base hook, declared",
                post("/change_hook/base", ""),
                false,
                413,
            ),
            (
                "base hook, declared, Expect",
                post("/change_hook/base", "Expect: 100-continue\r\n"),
                false,
                413,
            ),
            (
                "base hook, chunked",
                post_chunked("/change_hook/base"),
                true,
                413,
            ),
            // page forms (64 KiB) and JSON-RPC (1 MiB)
            (
                "worker pause form",
                post("/workers/nosuch/pause", ""),
                false,
                413,
            ),
            ("force form", post("/builders/nosuch/force", ""), false, 413),
            (
                "JSON-RPC",
                post("/api/v2/forceschedulers/force", ""),
                false,
                413,
            ),
            (
                "JSON-RPC, chunked",
                post_chunked("/api/v2/forceschedulers/force"),
                true,
                413,
            ),
            // routes that read no body: answered, the body left unread
            (
                "GET with a body",
                {
                    format!(
                        "GET /api/v2/builders HTTP/1.1\r\nHost: x\r\nContent-Length: {ONE_GB}\r\n\r\n"
                    )
                },
                false,
                200,
            ),
            ("unknown route", post("/nosuch", ""), false, 405),
        ];
        for (what, head, chunked, want) in cases {
            let t = Instant::now();
            let ((a, sent), grew) = async_std::task::spawn_blocking(move || {
                peak_rss_during(|| offer_body(addr, &head, ONE_GB, chunked))
            })
            .await;
            eprintln!(
                "{what}: {} after {:?}, {} KiB sent, RSS +{grew} KiB",
                a.status,
                t.elapsed(),
                sent >> 10
            );
            assert_eq!(a.status, want, "{what}: {a:?}");
            assert!(a.says_close() && a.closed, "{what}: {a:?}");
            assert!(a.interim.is_empty(), "{what}: 100 Continue sent: {a:?}");
            assert!(sent < 256 << 20, "{what}: the server read {sent} bytes");
            assert!(grew < RSS_BOUND, "{what}: RSS grew by {grew} KiB");
        }

        // a WebSocket handshake carrying a body is not upgraded
        let a = async_std::task::spawn_blocking(move || {
            exchange(
                addr,
                b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                  Content-Length: 5\r\n\r\nhello",
            )
        })
        .await;
        assert_eq!(a.status, 400, "{a:?}");
        assert!(a.says_close() && a.closed, "{a:?}");

        // a body within its limit is still read, and the connection kept
        let form = "author=eve&comments=small&revision=r1&branch=main";
        let raw = format!(
            "POST /change_hook/base HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}\
             GET /api/v2/builders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            form.len()
        );
        let (raw, closed) = async_std::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(raw.as_bytes()).unwrap();
            read_all(&mut s, Duration::from_secs(20))
        })
        .await;
        let text = String::from_utf8_lossy(&raw);
        assert!(closed, "{text}");
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
        assert!(text.contains("1 change found"), "{text}");

        let buildid = env.build_of(brid).await;
        let build = env.wait_build(buildid).await;
        assert_eq!(build["results"], 0, "{build}");
        let (n, slowest) = probe.finish();
        eprintln!("GET /api/v2/builders: {n} probes, slowest {slowest:?}");
        server.stop().await;
    });
}

/// Issue 19 item 5: a body sent one byte at a time is cut off at `body_timeout` with a
/// `408`, however many such clients there are.
#[test]
fn issue19_slow_bodies_are_cut_off() {
    within(240, async move {
        let (_env, server) = start(CONFIG).await;
        let addr = server.addr();
        let probe = Prober::start(addr);
        let t = Instant::now();
        let slow: Vec<_> = (0..20)
            .map(|i| {
                let path = if i % 2 == 0 {
                    "/api/v2/forceschedulers/force"
                } else {
                    "/change_hook/base"
                };
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    write!(
                        s,
                        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                    )
                    .unwrap();
                    // a byte every 200 ms: 1000 bytes would take 200 s
                    let mut r = s.try_clone().unwrap();
                    let reader =
                        std::thread::spawn(move || read_all(&mut r, Duration::from_secs(60)));
                    for _ in 0..1000 {
                        if reader.is_finished() || s.write_all(b"{").is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    let (raw, closed) = reader.join().unwrap();
                    (parse_answer(&raw, closed), t.elapsed())
                })
            })
            .collect();
        for s in slow {
            let (a, took) = async_std::task::spawn_blocking(move || s.join().unwrap()).await;
            assert_eq!(a.status, 408, "{a:?}");
            assert!(a.says_close() && a.closed, "{a:?}");
            // body_timeout is 2 s: cut off after it, long before the body's 200 s
            assert!(
                took >= Duration::from_millis(1900) && took < Duration::from_secs(60),
                "{took:?}"
            );
        }
        eprintln!("20 slow bodies cut off after {:?}", t.elapsed());
        let (n, slowest) = probe.finish();
        eprintln!("GET /api/v2/builders: {n} probes, slowest {slowest:?}");
        server.stop().await;
    });
}

/// Connection limits: one address cannot hold more than `max_connections_per_ip` (the
/// others are not affected), and no more than `max_connections` are open in total, so a
/// flood of connections never exhausts the process's file descriptors.
#[test]
fn issue19_connections_are_capped_per_address_and_in_total() {
    let config = CONFIG.replace(
        "header_timeout = 3",
        "header_timeout = 60\nmax_connections = 40\nmax_connections_per_ip = 10",
    );
    within(240, async move {
        let (_env, server) = start(&config).await;
        let addr = server.addr();
        let fds_before = open_fds();

        // 30 idle connections from 127.0.0.2: 10 held, 20 refused at once
        let from2: Vec<TcpStream> = (0..30)
            .map(|_| connect_from([127, 0, 0, 2], addr))
            .collect();
        let mut held = 0;
        for _ in 0..100 {
            held = from2.iter().filter(|s| !refused(s)).count();
            if held <= 10 {
                break;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(held, 10, "connections held from one address");
        let refusal = async_std::task::spawn_blocking(move || {
            let mut s = connect_from([127, 0, 0, 2], addr);
            read_all(&mut s, Duration::from_secs(20))
        })
        .await;
        let refusal = parse_answer(&refusal.0, refusal.1);
        assert_eq!(refusal.status, 503, "{refusal:?}");
        assert!(refusal.says_close() && refusal.closed, "{refusal:?}");

        // everyone else is served
        let t = Instant::now();
        let (status, _, _) =
            async_std::task::spawn_blocking(move || http_get(addr, "/api/v2/builders")).await;
        assert_eq!(status, 200);
        assert!(t.elapsed() < GET_BOUND, "{:?}", t.elapsed());

        // 300 more from 30 addresses: at most 40 open in total, the rest refused
        let flood: Vec<TcpStream> = (3..33u8)
            .flat_map(|a| (0..10).map(move |_| [127, 0, 0, a]))
            .map(|src| connect_from(src, addr))
            .collect();
        let clients = from2.len() + flood.len();
        let mut open = 0;
        for _ in 0..100 {
            open = from2
                .iter()
                .chain(flood.iter())
                .filter(|s| !refused(s))
                .count();
            if open <= 40 {
                break;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(open, 40, "connections held in total");
        let fds = open_fds() - fds_before;
        eprintln!("{clients} client connections: {open} held, {fds} more fds in the process");
        // the other tests of this binary open files and sockets meanwhile: 100 to spare
        // (were every flood connection held, it would be `2 * clients`)
        assert!(fds <= clients + 40 + 100, "{fds} fds for {clients} clients");
        let a = async_std::task::spawn_blocking(move || {
            exchange(addr, b"GET /api/v2/builders HTTP/1.1\r\nHost: x\r\n\r\n")
        })
        .await;
        assert!(a.status == 503 || (a.status == 0 && a.closed), "{a:?}");

        // once they are gone, everyone is served again, 127.0.0.2 too
        drop(from2);
        drop(flood);
        let mut ok = false;
        for _ in 0..100 {
            let r = async_std::task::spawn_blocking(move || {
                let mut s = connect_from([127, 0, 0, 2], addr);
                s.write_all(
                    b"GET /api/v2/builders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .ok();
                let (raw, closed) = read_all(&mut s, Duration::from_secs(20));
                parse_answer(&raw, closed)
            })
            .await;
            if r.status == 200 {
                ok = true;
                break;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "127.0.0.2 is served again");
        server.stop().await;
    });
}
