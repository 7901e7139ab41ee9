//! Shared code of the engine benches (`engine_w*.rs`, included with `#[path]`): the master
//! configuration of WORKLOADS.md, worker processes, `/proc` readings.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use buildbot::core::master::config::{Registry, parse_config};
use buildbot::core::master::{Master, MasterHandle, MasterOptions};
use buildbot::core::{Slave, SlaveConfig};

/// The W3 program: 524,288 lines of exactly 100 bytes (50 MiB).
pub const W3_PROGRAM: &str = "import sys\na='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/'*3\nw=sys.stdout.write\nfor i in range(524288):\n    k=i%64\n    w('%08d %s\\n' % (i, a[k:k+90]))\n";

/// `utime+stime` of a process in seconds (`None`: this process).
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = pid.map_or("/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the command name
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

/// A `/proc/<pid>/status` value in KiB (`None`: this process).
pub fn status_kib(pid: Option<u32>, key: &str) -> u64 {
    let path = pid.map_or("/proc/self/status".to_owned(), |p| {
        format!("/proc/{p}/status")
    });
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Median (upper for even lengths).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Master configuration: workers `w0..w{workers}` (password `pass`, `max_builds=1`), builder
/// `b0` on all of them with one shell step `cmd` running `command` (a TOML array), scheduler
/// `force`, gzip logs, no collapsing.
pub fn config_text(workers: usize, command: &str) -> String {
    let mut t = String::from(
        "logCompressionMethod = \"gz\"\ncollapseRequests = false\n[protocols.msgpack]\nport = 0\n",
    );
    for i in 0..workers {
        t.push_str(&format!(
            "[[workers]]\nname = \"w{i}\"\npassword = \"pass\"\nmax_builds = 1\n"
        ));
    }
    let names: Vec<String> = (0..workers).map(|i| format!("\"w{i}\"")).collect();
    t.push_str(&format!(
        "[[builders]]\nname = \"b0\"\nworkernames = [{}]\nsteps = [{{ type = \"ShellCommand\", name = \"cmd\", command = {command} }}]\n",
        names.join(", ")
    ));
    t.push_str(
        "[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"force\"\nbuilderNames = [\"b0\"]\n",
    );
    t
}

/// Starts a master in `basedir` (fresh SQLite DB, worker port on 127.0.0.1:0).
pub async fn start_master(text: &str, basedir: &Path) -> MasterHandle {
    // the executor `buildbot start` sets up (half the cores)
    buildbot::core::daemon::init_executor(buildbot::core::daemon::master_executor_threads());
    // `RUST_LOG=buildbot_db::sql=trace` lists every statement
    let _ = env_logger::builder().is_test(false).try_init();
    let cfg = parse_config(text, "master.cfg", &Registry::new())
        .unwrap()
        .config;
    let mut opts = MasterOptions::new(basedir)
        .upgrade_db(true)
        .worker_bind("127.0.0.1:0");
    if let Ok(url) = std::env::var("BB_BENCH_DB_URL") {
        opts = opts.db_url(url);
    }
    Master::start(cfg, opts).await.expect("master")
}

/// A worker process, killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM so a `buildslave` removes its pid file; the process is ours.
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// When this bench binary was started as a worker (by [`spawn_self_worker`]), runs it and
/// returns `true`.
pub fn maybe_run_as_worker() -> bool {
    let (Ok(port), Ok(dir), Ok(name)) = (
        std::env::var("BB_BENCH_WORKER_PORT"),
        std::env::var("BB_BENCH_WORKER_DIR"),
        std::env::var("BB_BENCH_WORKER_NAME"),
    ) else {
        return false;
    };
    async_std::task::block_on(async {
        let mut cfg = SlaveConfig::new("127.0.0.1", port.parse().unwrap(), &name, "pass", &dir);
        cfg.maxretries = Some(3);
        let _ = Slave::new(cfg).run().await;
    });
    true
}

/// Our slave runtime in its own OS process (this bench binary re-executed).
pub fn spawn_self_worker(port: u16, name: &str, dir: &Path) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    Proc(
        Command::new(std::env::current_exe().unwrap())
            .env("BB_BENCH_WORKER_PORT", port.to_string())
            .env("BB_BENCH_WORKER_DIR", dir)
            .env("BB_BENCH_WORKER_NAME", name)
            .spawn()
            .unwrap(),
    )
}

/// Builds the release `buildslave` the way benches/slave_footprint.rs does (profile `slave`,
/// static) and returns its path; `BUILDSLAVE_BIN` overrides.
pub fn release_buildslave() -> PathBuf {
    if let Some(p) = std::env::var_os("BUILDSLAVE_BIN") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "rustc",
            "--profile",
            "slave",
            "-p",
            "buildbot-slave-cli",
            "--bin",
            "buildslave",
            "--",
            "-C",
            "target-feature=+crt-static",
        ])
        .current_dir(&root)
        .status()
        .expect("run cargo rustc");
    assert!(status.success(), "building buildslave failed");
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("slave")
        .join("buildslave")
}

/// `buildslave create-slave` for worker `name` in `dir`.
pub fn create_buildslave(bin: &Path, port: u16, name: &str, dir: &Path) {
    let status = Command::new(bin)
        .args(["create-slave", "-q", "-r"])
        .arg(dir)
        .arg(format!("127.0.0.1:{port}"))
        .args([name, "pass"])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `buildslave start --nodaemon` as a child process.
pub fn start_buildslave(bin: &Path, dir: &Path) -> Proc {
    Proc(
        Command::new(bin)
            .args(["start", "--nodaemon"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Waits (bounded) until `n` workers are connected.
pub async fn wait_connected(master: &MasterHandle, n: usize, limit: Duration) -> Duration {
    let t = Instant::now();
    while master.connected_workers().len() < n {
        assert!(
            t.elapsed() < limit,
            "only {} of {n} workers connected",
            master.connected_workers().len()
        );
        async_std::task::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

/// A minimal HTTP/1.1 keep-alive client.
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Conn { s, buf: Vec::new() }
    }

    /// One GET; returns the body length.
    pub fn get(&mut self, path: &str) -> usize {
        write!(self.s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .expect("content-length");
                while self.buf.len() < end + 4 + len {
                    let n = self.s.read(&mut chunk).unwrap();
                    assert!(n > 0, "connection closed");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                self.buf.drain(..end + 4 + len);
                return len;
            }
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Builds the release `buildbot` (`cargo build --release`) and returns its path;
/// `BUILDBOT_BIN` overrides.
pub fn release_buildbot() -> PathBuf {
    if let Some(p) = std::env::var_os("BUILDBOT_BIN") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "buildbot-cli",
            "--bin",
            "buildbot",
        ])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building buildbot failed");
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("release")
        .join("buildbot")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `buildbot ARGS DIR`, which must succeed.
pub fn run_buildbot(bin: &Path, args: &[&str], dir: &Path) {
    let st = Command::new(bin)
        .args(args)
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "buildbot {args:?} failed");
}
