//! Temp dirs, the binary, daemons killed on drop, free ports, the F1 fixture config.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_buildbot");

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

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `buildbot ARGS` with extra env vars, bounded by 60 s.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn buildbot");
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
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("buildbot {args:?} did not finish within 60 s");
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

/// A temp dir holding master directories; on drop every master started in one is killed.
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

    /// Path of a (not yet existing) master dir; its daemon is killed on drop.
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
            let cwd = |pid: u32| std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
            // only a process that is one of ours: running in this dir
            if let Some(pid) = pid_of(d)
                && cwd(pid).is_some_and(|c| c == *d)
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

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The seed's fixture F1: worker w1/pw on `wport`, web on `web`, builder b1, force scheduler.
pub fn f1(wport: u16, web: u16, builder: &str) -> String {
    format!(
        r#"[[workers]]
name = "w1"
password = "pw"

[protocols.msgpack]
port = {wport}
interface = "127.0.0.1"

[www]
port = {web}
listen = "127.0.0.1"

[[builders]]
name = "{builder}"
workernames = ["w1"]
steps = [{{ type = "ShellCommand", command = ["sh", "-c", "echo hello"] }}]

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["{builder}"]
"#
    )
}

/// `mkm`: a relocatable master with F1 on free ports; returns (dir, worker port).
pub fn mkm(sc: &Scratch, name: &str) -> (PathBuf, u16) {
    let b = sc.dir(name);
    run(&["create-master", "-q", "-r", s(&b)]).ok();
    let p = free_port();
    std::fs::write(b.join("master.cfg"), f1(p, free_port(), "b1")).unwrap();
    (b, p)
}

/// sha256-free fingerprint of every file under `dir` (except logs and SQLite side files).
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let name = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !name.ends_with("-wal")
                && !name.ends_with("-shm")
                && !name.starts_with("twistd.log")
            {
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
