//! What the integration tests of `buildbot` and `buildslave` share: running a program
//! with a time limit, temp dirs whose daemons are killed on drop, processes by pid, polls.
//!
//! Included by `buildbot-cli/tests/it/main.rs` and `buildbot-slave-cli/tests/it/main.rs`
//! (`#[path] mod cli_harness;`); each crate's `harness.rs` re-exports it and adds its own
//! binary and fixtures.

// each crate uses a part of it
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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

/// Runs the program `name` at `bin` with `args` and extra env vars; a run that takes
/// longer than `limit` is killed and fails the test.
pub fn run_program(
    name: &str,
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> Out {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
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
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{name} {args:?} did not finish within {} s",
                limit.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
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

/// A temp dir holding daemon directories; on drop, the daemon of each watched directory
/// is killed when it is one of ours (each crate's `Scratch::new` says how to tell).
pub struct Scratch {
    pub tmp: tempfile::TempDir,
    watched: std::cell::RefCell<Vec<PathBuf>>,
    ours: fn(u32, &Path) -> bool,
}

impl Scratch {
    /// A new temp dir; `ours(pid, dir)`: whether `pid`, read from `dir`'s pid file, is a
    /// daemon this test started (a recycled pid must not be killed).
    pub fn killing(ours: fn(u32, &Path) -> bool) -> Self {
        Scratch {
            tmp: tempfile::tempdir().unwrap(),
            watched: Default::default(),
            ours,
        }
    }

    /// Path of a (not yet existing) daemon dir; its daemon is killed on drop.
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
            if let Some(pid) = pid_of(d)
                && (self.ours)(pid, d)
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
