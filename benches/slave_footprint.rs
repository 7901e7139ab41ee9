//! The `buildslave` footprint (issue: "one small binary that runs builds"):
//!
//! * size of the stripped release binary (target ≤ 6 MiB);
//! * idle RSS of a connected slave after 10 s (target ≤ 4 MiB; buildbot-worker 4.3: 40–41 MiB);
//! * W3 log streaming (`../shared/bench/WORKLOADS.md`): the 50 MiB stdout command run through
//!   the slave to our master's worker port, against the same command alone into a pipe
//!   (target ≥ 90 % of the command's own speed).
//!
//! The slave is the real release binary, started with `buildslave start --nodaemon` as a child
//! process; the master side is `buildbot_core::master::workers::WorkerManager` in this process.
//! Run with `cargo bench --bench slave_footprint`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_std::task;
use buildbot::core::master::workers::{
    CommandArgs, CommandOutcome, CommandUpdate, ConnectionEvent, WorkerBuilder, WorkerManager,
    WorkerManagerConfig, WorkerRegistration,
};
use buildbot::core::protocol::Value;

/// The W3 program: 524,288 lines of exactly 100 bytes (50 MiB).
const W3_PROGRAM: &str = "import sys\na='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/'*3\nw=sys.stdout.write\nfor i in range(524288):\n    k=i%64\n    w('%08d %s\\n' % (i, a[k:k+90]))\n";
const W3_BYTES: u64 = 52_428_800;
const RUNS: usize = 3;

struct Slave(Child);

impl Drop for Slave {
    fn drop(&mut self) {
        // SIGTERM so the slave removes its pid file; the process is ours.
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How the shipped `buildslave` is built: the `slave` profile (release, optimised for size
/// except the streaming hot path) and linked statically (`crt-static`: glibc's `libc.a`, a
/// static-pie; only the final crate needs the flag). The kernel maps nearly all of a
/// program's code into its RSS (fault-around over large page-cache folios), so the idle RSS
/// is mostly the binary's size; a static binary maps no `libc.so`/`ld.so`/`libgcc_s.so`
/// (about 1.5 MiB of RSS) and runs without matching shared libraries.
const PROFILE: &str = "slave";
const BUILD_ARGS: &[&str] = &[
    "rustc",
    "--profile",
    PROFILE,
    "-p",
    "buildbot-slave-cli",
    "--bin",
    "buildslave",
    "--",
    "-C",
    "target-feature=+crt-static",
];

/// Builds the release `buildslave` (a no-op when it is up to date) and returns its path.
fn release_buildslave() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(BUILD_ARGS)
        .current_dir(workspace_root())
        .status()
        .expect("run cargo rustc");
    assert!(status.success(), "cargo {} failed", BUILD_ARGS.join(" "));
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    target.join(PROFILE).join("buildslave")
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The W3 command alone, stdout into a pipe that is read and discarded; `big_pipe`: a 1 MiB
/// pipe buffer like the slave asks for (so that the slave's larger pipe does not make the
/// command look slow when run alone).
fn command_alone(big_pipe: bool) -> f64 {
    use std::os::fd::AsRawFd;
    let start = Instant::now();
    let mut child = Command::new("python3")
        .args(["-c", W3_PROGRAM])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut out = child.stdout.take().unwrap();
    if big_pipe {
        // SAFETY: fcntl on the pipe fd we own.
        unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    child.wait().unwrap();
    assert_eq!(total, W3_BYTES);
    start.elapsed().as_secs_f64()
}

fn create_slave(bin: &Path, dir: &Path, port: u16) {
    let status = Command::new(bin)
        .args(["create-slave", "-q", "-r"])
        .arg(dir)
        .arg(format!("127.0.0.1:{port}"))
        .args(["w0", "pass"])
        .status()
        .unwrap();
    assert!(status.success());
}

fn main() {
    // `BUILDSLAVE_BIN=/path/to/buildslave`: measure that binary instead (e.g. one built with
    // symbols, for profiling the slave with `perf record -p`).
    let bin = std::env::var_os("BUILDSLAVE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(release_buildslave);
    let size = std::fs::metadata(&bin).unwrap().len();
    let tmp = tempfile::tempdir().unwrap();

    task::block_on(async {
        let manager = WorkerManager::start(
            WorkerManagerConfig::new("127.0.0.1:0"),
            [WorkerRegistration::new("w0", "pass").builders([WorkerBuilder::new("b0")])],
        )
        .await
        .unwrap();
        let port = manager.local_addr().port();
        let events = manager.events();

        let dir = tmp.path().join("slave");
        create_slave(&bin, &dir, port);
        let slave = Slave(
            Command::new(&bin)
                .args(["start", "--nodaemon"])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let pid = slave.0.id();

        let conn = async_std::future::timeout(Duration::from_secs(30), async {
            loop {
                if let ConnectionEvent::Attached(conn) = events.recv().await.unwrap() {
                    break conn;
                }
            }
        })
        .await
        .expect("slave attached within 30 s");

        task::sleep(Duration::from_secs(10)).await;
        let idle_rss = proc_status_kib(pid, "VmRSS:");
        let idle_hwm = proc_status_kib(pid, "VmHWM:");
        let idle_anon = proc_status_kib(pid, "RssAnon:");
        let idle_file = proc_status_kib(pid, "RssFile:");
        let idle_threads = proc_status_kib(pid, "Threads:");

        let mut alone = Vec::new();
        let mut alone_big = Vec::new();
        let mut remote = Vec::new();
        let mut slave_cpu = Vec::new();
        for _ in 0..RUNS {
            alone.push(command_alone(false));
            alone_big.push(command_alone(true));

            let cpu0 = cpu_seconds(pid);
            let start = Instant::now();
            let args = CommandArgs::new()
                .with(
                    "command",
                    Value::Array(vec!["python3".into(), "-c".into(), W3_PROGRAM.into()]),
                )
                .with("workdir", "build")
                .with("logEnviron", false)
                .with("timeout", 1200);
            let mut cmd = conn.start_command("b0", "shell", args).await.unwrap();
            let mut stdout_bytes = 0u64;
            let mut rc = None;
            while let Some(update) = cmd.next_update().await {
                match update {
                    CommandUpdate::Stdout(text) => stdout_bytes += text.len() as u64,
                    CommandUpdate::Rc(code) => rc = Some(code),
                    _ => {}
                }
            }
            let result = cmd.wait().await;
            let secs = start.elapsed().as_secs_f64();
            assert!(
                matches!(result.outcome, CommandOutcome::Completed),
                "{:?}",
                result.outcome
            );
            assert_eq!(rc.or(result.rc), Some(0));
            assert_eq!(
                stdout_bytes, W3_BYTES,
                "every stdout byte reached the master"
            );
            remote.push(secs);
            slave_cpu.push(cpu_seconds(pid) - cpu0);
        }
        let after_hwm = proc_status_kib(pid, "VmHWM:");
        drop(slave);
        manager.stop().await;

        let mib = |b: u64| b as f64 / 1048576.0;
        // the faster of the two baselines
        let alone_m = median(alone.clone()).min(median(alone_big.clone()));
        let remote_m = median(remote.clone());
        println!(
            "buildslave footprint ({} runs of W3; nproc={})",
            RUNS,
            num_cpus()
        );
        println!("| measure | ours | target | buildbot-worker 4.3 |");
        println!("|---|---|---|---|");
        println!(
            "| release binary, stripped | {:.2} MiB | <= 6 MiB | (Python + Twisted) |",
            mib(size)
        );
        println!(
            "| idle RSS (connected, 10 s) | {:.2} MiB (HWM {:.2}) | <= 4 MiB | 40.3-40.9 MiB |",
            idle_rss as f64 / 1024.0,
            idle_hwm as f64 / 1024.0
        );
        println!(
            "| W3 command alone (best of 64 KiB / 1 MiB pipe) | {:.3} s ({:.1} MiB/s) | | 1.05-1.11 s |",
            alone_m,
            50.0 / alone_m
        );
        println!(
            "| W3 through slave to master | {:.3} s ({:.1} MiB/s) = {:.0} % of alone | >= 90 % | |",
            remote_m,
            50.0 / remote_m,
            100.0 * alone_m / remote_m
        );
        println!(
            "| slave CPU per W3 run | {:.2} s | | 1.9-5.0 s |",
            median(slave_cpu.clone())
        );
        let slave_cpu_raw = slave_cpu;
        println!(
            "| slave VmHWM after W3 | {:.2} MiB | | |",
            after_hwm as f64 / 1024.0
        );
        println!(
            "idle detail: RssAnon {idle_anon} kB, RssFile {idle_file} kB, {idle_threads} threads"
        );
        println!("slave CPU per run: {slave_cpu_raw:?}");
        println!("raw: alone {alone:?} alone (1 MiB pipe) {alone_big:?} remote {remote:?}");
    });
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
