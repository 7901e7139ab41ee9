//! Issue 19 on the worker port, against the real daemon: a client cannot forge `twistd.log`
//! lines through the name it logs in with, and a worker's oversized message drops its
//! connection with a short logged reason instead of becoming a huge log line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Base64 (standard alphabet, padded), enough for a Basic header.
fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Opens the worker WebSocket with `user:password`; returns the socket and the status line.
fn ws_open(port: u16, user: &str, password: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = b64(format!("{user}:{password}").as_bytes());
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Basic {auth}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    (s, status)
}

/// Writes one masked binary WebSocket frame of `len` bytes (a msgpack `bin32` value).
fn send_big_binary(s: &mut TcpStream, len: usize) -> std::io::Result<()> {
    let mut payload = vec![0xc6u8];
    payload.extend_from_slice(&((len - 5) as u32).to_be_bytes());
    payload.resize(len, b'x');
    let mut frame = vec![0x82u8, 0x80 | 127];
    frame.extend_from_slice(&(len as u64).to_be_bytes());
    let mask = [1u8, 2, 3, 4];
    frame.extend_from_slice(&mask);
    s.write_all(&frame)?;
    for chunk in payload.chunks_mut(1 << 16) {
        for (i, byte) in chunk.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        s.write_all(chunk)?;
    }
    Ok(())
}

#[test]
fn worker_port_log_injection_and_oversized_messages() {
    let sc = Scratch::new();
    let (b, port) = mkm(&sc, "m");
    run(&["start", s(&b)]).ok();
    let web = web_port(&b);
    let log = b.join("twistd.log");

    // a name with a line break and an escape sequence: refused, logged on one line, escaped
    let (_s, status) = ws_open(port, "w1\n2026-01-01 [-] FORGED\u{1b}[2J", "pw");
    assert!(status.contains(" 401 "), "{status}");
    assert!(
        wait_for(10, || read(&log).contains("FORGED")),
        "the refusal is logged: {}",
        read(&log)
    );
    let text = read(&log);
    assert!(
        !text
            .lines()
            .any(|l| l.contains("FORGED") && !l.contains("refused")),
        "a forged line: {text}"
    );
    assert!(text.contains("w1\\n2026-01-01"), "{text}");
    assert!(!text.contains('\u{1b}'), "raw escape in the log: {text}");

    // a worker with the right password sends a 20 MiB message: dropped, briefly logged
    let (mut ws, status) = ws_open(port, "w1", "pw");
    assert!(status.contains(" 101 "), "{status}");
    let _ = send_big_binary(&mut ws, 20 << 20);
    assert!(
        wait_for(20, || read(&log).contains("exceeds the limit")),
        "{}",
        read(&log)
    );
    let text = read(&log);
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2000, "a {longest}-byte log line");
    // the web stays responsive and shows the worker gone
    let t = Instant::now();
    let (code, workers) = http_get(web, "/api/v2/workers");
    assert_eq!(code, 200);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        wait_for(10, || {
            http_get(web, "/api/v2/workers").1["workers"][0]["connected_to"]
                .as_array()
                .is_some_and(|a| a.is_empty())
        }),
        "{workers}"
    );
    run(&["stop", s(&b)]).ok();
}
