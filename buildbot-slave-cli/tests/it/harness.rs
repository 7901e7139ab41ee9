//! Temp dirs, the binary, daemons cleaned up on drop, a tiny fake master.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use sha1::{Digest, Sha1};

pub const BIN: &str = env!("CARGO_BIN_EXE_buildslave");

/// Result of one run of the binary.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    #[track_caller]
    pub fn fails_with(&self, needle: &str) -> &Self {
        assert_eq!(self.code, 1, "expected exit 1: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }
}

/// Runs `buildslave ARGS` with extra env vars, bounded by 40 s.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn buildslave");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let t_out = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("buildslave {args:?} did not finish within 40 s");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

pub fn run(args: &[&str]) -> Out {
    run_env(args, &[])
}

pub fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks existence.
    if unsafe { libc::kill(pid as i32, 0) } != 0 {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat
        .rsplit_once(')')
        .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Polls `cond` every 50 ms for at most `secs` seconds.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A temp dir holding slave directories; on drop every slave started in it is killed.
pub struct Scratch {
    pub tmp: tempfile::TempDir,
    watched: std::cell::RefCell<Vec<PathBuf>>,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            tmp: tempfile::tempdir().unwrap(),
            watched: Default::default(),
        }
    }

    /// Path of a (not yet existing) slave dir; its daemon is killed on drop.
    pub fn dir(&self, name: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        self.watch(&p);
        p
    }

    pub fn watch(&self, p: &Path) {
        self.watched.borrow_mut().push(p.to_path_buf());
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for d in self.watched.borrow().iter() {
            let cmdline = |pid: u32| {
                String::from_utf8_lossy(
                    &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
                )
                .into_owned()
            };
            // only a process that is one of ours: named buildslave or started for this dir
            if let Some(pid) = pid_of(d)
                && (cmdline(pid).contains("buildslave")
                    || cmdline(pid).contains(d.to_str().unwrap_or("\0")))
            {
                signal(pid, libc::SIGKILL);
            }
        }
    }
}

pub fn pid_of(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("twistd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
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
