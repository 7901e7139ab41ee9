//! Running one child process the way the Python worker's `RunProcess` does (§12).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_std::channel::{Receiver, Sender, bounded};
use futures::future::Either;

use super::output::{CommandIo, Decoder, Encoding, Stream, secs};
use super::pyrepr::{bytes_repr, shell_quote};
use crate::protocol::UpdateEntry;

/// Messages a running command receives.
#[derive(Clone, Debug)]
pub(crate) enum Control {
    /// `interrupt_command` from the master.
    Interrupt(String),
    /// Connection lost or worker stopping: kill silently.
    Kill,
}

/// The command line: a shell string or an argv of (real, displayed) arguments.
#[derive(Clone, Debug)]
pub(crate) enum CommandLine {
    Shell(String),
    Argv(Vec<(String, String)>),
}

/// A watched logfile.
#[derive(Clone, Debug)]
pub(crate) struct LogfileSpec {
    pub name: String,
    pub path: PathBuf,
    pub follow: bool,
}

/// Everything needed to run a process.
#[derive(Clone, Debug)]
pub(crate) struct ProcessSpec {
    pub command: CommandLine,
    pub workdir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub want_stdout: bool,
    pub want_stderr: bool,
    pub logfiles: Vec<LogfileSpec>,
    pub logfiles_repr: String,
    /// (seconds, display text)
    pub timeout: Option<(f64, String)>,
    pub max_time: Option<(f64, String)>,
    pub max_lines: Option<u64>,
    pub sigterm_time: Option<f64>,
    pub use_pty: bool,
    pub pty_warning: bool,
    pub log_environ: bool,
    pub initial_stdin: Option<Vec<u8>>,
    pub interrupt_signal: (i32, String),
    pub send_rc: bool,
    pub encoding: Encoding,
}

/// Outcome of a process run.
#[derive(Debug)]
pub(crate) struct ProcessResult {
    pub rc: i64,
    pub failure: Option<String>,
}

/// Shared slot holding the process group of the running child, so that the worker can kill
/// it from anywhere (stop, connection loss).
pub(crate) type PgidSlot = Arc<Mutex<Option<i32>>>;

/// Sends `sig` to the process group in the slot (if any).
pub(crate) fn kill_slot(slot: &PgidSlot, sig: i32) {
    let pgid = *slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pgid) = pgid {
        kill_group(pgid, sig);
    }
}

fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: killpg has no memory-safety preconditions.
        let r = unsafe { libc::killpg(pgid, sig) };
        if r != 0 {
            log::debug!(
                "killpg({pgid}, {sig}) failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Maps a signal name (`KILL`, `TERM`, `SIGINT`, a number) to its number.
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    let n = name.trim().trim_start_matches("SIG");
    if let Ok(num) = n.parse::<i32>() {
        return Some(num);
    }
    Some(match n {
        "KILL" => libc::SIGKILL,
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "ABRT" => libc::SIGABRT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "ALRM" => libc::SIGALRM,
        "PIPE" => libc::SIGPIPE,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Out,
    Err,
}

enum Ev {
    Data(Src, Vec<u8>),
    Eof(Src),
    Exit(std::io::Result<ExitStatus>),
    Control(Control),
}

impl ProcessSpec {
    fn argv_bytes(&self) -> Vec<Vec<u8>> {
        match &self.command {
            CommandLine::Shell(s) => {
                vec![b"/bin/sh".to_vec(), b"-c".to_vec(), self.encoding.encode(s)]
            }
            CommandLine::Argv(a) => a.iter().map(|(r, _)| self.encoding.encode(r)).collect(),
        }
    }

    /// The display line of the header.
    pub(crate) fn display(&self) -> String {
        match &self.command {
            CommandLine::Shell(s) => s.clone(),
            CommandLine::Argv(a) => a
                .iter()
                .map(|(_, shown)| shell_quote(shown))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// Python repr of the argv (bytes), as in ` argv:` and the kill messages.
    pub(crate) fn argv_repr(&self) -> String {
        match &self.command {
            CommandLine::Shell(s) => bytes_repr(&self.encoding.encode(s)),
            CommandLine::Argv(a) => format!(
                "[{}]",
                a.iter()
                    .map(|(_, shown)| bytes_repr(&self.encoding.encode(shown)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn header_text(&self) -> String {
        let mut h = String::new();
        if self.pty_warning {
            h.push_str("WARNING: disabling usePTY for this command\n");
        }
        h.push_str(&self.display());
        h.push('\n');
        h.push_str(&format!(" in dir {}", self.workdir.display()));
        if let Some((t, shown)) = &self.timeout {
            let unit = if *t == 1.0 { "sec" } else { "secs" };
            h.push_str(&format!(" (timeout {shown} {unit})"));
        }
        if let Some((t, shown)) = &self.max_time {
            let unit = if *t == 1.0 { "sec" } else { "secs" };
            h.push_str(&format!(" (maxTime {shown} {unit})"));
        }
        h.push('\n');
        h.push_str(&format!(" watching logfiles {}\n", self.logfiles_repr));
        h.push_str(&format!(" argv: {}\n", self.argv_repr()));
        if self.log_environ {
            h.push_str(" environment:\n");
            for (k, v) in &self.env {
                h.push_str(&format!("  {k}={v}\n"));
            }
        }
        if let Some(stdin) = &self.initial_stdin {
            h.push_str(&format!(" writing {} bytes to stdin\n", stdin.len()));
        }
        h.push_str(&format!(
            " using PTY: {}\n",
            if self.use_pty { "True" } else { "False" }
        ));
        h
    }
}

struct LogWatcher {
    name: String,
    path: PathBuf,
    follow: bool,
    initial: Option<(i64, i64, i64, i64, u64)>,
    file: Option<std::fs::File>,
    decoder: Decoder,
}

fn file_sig(md: &std::fs::Metadata) -> (i64, i64, i64, i64, u64) {
    (
        md.ctime(),
        md.ctime_nsec(),
        md.mtime(),
        md.mtime_nsec(),
        md.size(),
    )
}

impl LogWatcher {
    fn poll(&mut self, io: &Arc<CommandIo>) -> bool {
        if self.file.is_none() {
            let Ok(md) = std::fs::metadata(&self.path) else {
                return false;
            };
            if Some(file_sig(&md)) == self.initial {
                return false;
            }
            let Ok(mut f) = std::fs::File::open(&self.path) else {
                return false;
            };
            if self.follow {
                let _ = f.seek(SeekFrom::Start(md.size()));
            }
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return false;
        };
        let mut any = false;
        let mut buf = vec![0u8; 10000];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    any = true;
                    let text = self.decoder.decode(&buf[..n]);
                    io.text(Stream::Log(self.name.clone()), &text);
                }
            }
        }
        any
    }
}

/// Capacity asked for the output pipes (Linux default: 64 KiB): room for a fast command to
/// keep writing while the reader pauses (see [`BULK_READ`]).
const PIPE_SIZE: libc::c_int = 1 << 20;

/// A read at least this large means bulk output: the reader pauses [`BULK_PAUSE`] before the
/// next read so that it gets large blocks instead of one wake-up (and one channel message)
/// per block the command writes (8 KiB for Python and stdio).
const BULK_READ: usize = 8192;
const BULK_PAUSE: Duration = Duration::from_millis(1);

/// Enlarges a pipe's buffer; best effort (the limit is `/proc/sys/fs/pipe-max-size`).
fn enlarge_pipe(f: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on an fd we own; F_SETPIPE_SZ takes an int and fails harmlessly on a
    // non-pipe.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
}

/// A boxed `async_std::task::sleep`.
type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

fn spawn_reader(mut r: std::fs::File, src: Src, tx: Sender<Ev>) {
    async_std::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send_blocking(Ev::Data(src, buf[..n].to_vec())).is_err() {
                        break;
                    }
                    if n >= BULK_READ {
                        std::thread::sleep(BULK_PAUSE);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break, // EIO on a PTY master once the slave side is gone
            }
        }
        let _ = tx.send_blocking(Ev::Eof(src));
    });
}

fn count_lines(text: &str) -> u64 {
    let b = text.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                n += 1;
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

struct Spawned {
    pid: i32,
    stdout: std::fs::File,
    stderr: Option<std::fs::File>,
    child: std::process::Child,
}

fn open_pty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: openpty writes two fds into the provided integers; the other pointers may be
    // null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just returned by openpty and are owned by nobody else.
    unsafe { Ok((OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave))) }
}

/// Where `execvpe` would find `program` (a name without `/`): the first directory of the
/// child's `PATH` (its default `/bin:/usr/bin` when unset; empty and relative entries are
/// relative to the child's working directory) that holds an executable file of that name.
/// `None`: no such file (or a name with a `/`), and exec itself looks it up and reports.
///
/// Looking the program up here, rather than leaving it to exec, lets the standard library
/// start the child with `posix_spawn` (a `vfork`, no copy of this process's page tables):
/// it can only do so for a program it does not have to look up in a changed `PATH`.
fn find_program(program: &[u8], env: &BTreeMap<String, String>, cwd: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    if program.is_empty() || program.contains(&b'/') {
        return None;
    }
    let path = env.get("PATH").map_or("/bin:/usr/bin", String::as_str);
    path.split(':')
        .find_map(|dir| {
            let cand = cwd
                .join(if dir.is_empty() { "." } else { dir })
                .join(std::ffi::OsStr::from_bytes(program));
            let c = std::ffi::CString::new(cand.as_os_str().as_bytes()).ok()?;
            // SAFETY: access() only reads the NUL-terminated path.
            let executable = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
            (executable && cand.is_file()).then_some(cand)
        })
        // a relative result would be taken from the slave's directory, not the command's
        .filter(|p| p.is_absolute())
}

fn spawn(spec: &ProcessSpec) -> std::io::Result<Spawned> {
    let argv = spec.argv_bytes();
    let arg0 = OsString::from_vec(argv[0].clone());
    let mut cmd = match find_program(&argv[0], &spec.env, &spec.workdir) {
        Some(path) => {
            // argv[0] stays the name the command gave
            let mut c = std::process::Command::new(path);
            c.arg0(&arg0);
            c
        }
        None => std::process::Command::new(arg0),
    };
    cmd.args(argv[1..].iter().map(|a| OsString::from_vec(a.clone())));
    cmd.current_dir(&spec.workdir);
    cmd.env_clear();
    cmd.envs(&spec.env);
    if spec.use_pty {
        let (master, slave) = open_pty()?;
        cmd.stdin(Stdio::from(slave.try_clone()?));
        cmd.stdout(Stdio::from(slave.try_clone()?));
        cmd.stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop(cmd); // closes our copies of the slave side
        Ok(Spawned {
            pid: child.id() as i32,
            stdout: std::fs::File::from(master),
            stderr: None,
            child,
        })
    } else {
        cmd.stdin(if spec.initial_stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped());
        cmd.stderr(Stdio::piped());
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .map(|s| std::fs::File::from(OwnedFd::from(s)))
            .ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
        let stderr = child
            .stderr
            .take()
            .map(|s| std::fs::File::from(OwnedFd::from(s)));
        enlarge_pipe(&stdout);
        if let Some(e) = &stderr {
            enlarge_pipe(e);
        }
        if let (Some(mut stdin), Some(data)) = (child.stdin.take(), spec.initial_stdin.clone()) {
            async_std::task::spawn_blocking(move || {
                let _ = stdin.write_all(&data);
            });
        }
        Ok(Spawned {
            pid: child.id() as i32,
            stdout,
            stderr,
            child,
        })
    }
}

fn python_errno_name(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "FileNotFoundError",
        Some(libc::EACCES) | Some(libc::EPERM) => "PermissionError",
        Some(libc::ENOTDIR) => "NotADirectoryError",
        Some(libc::EISDIR) => "IsADirectoryError",
        _ => "OSError",
    }
}

/// Text of an OS error without Rust's " (os error N)" suffix.
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Runs the process; streams header/output/rc into `io`.
pub(crate) async fn run(
    spec: ProcessSpec,
    io: &Arc<CommandIo>,
    control: Receiver<Control>,
    pgid_slot: &PgidSlot,
) -> ProcessResult {
    let start = Instant::now();
    io.header(&spec.header_text());
    let argv_repr = spec.argv_repr();

    // Logfiles: remember their state before the process starts.
    let mut watchers: Vec<LogWatcher> = spec
        .logfiles
        .iter()
        .map(|l| LogWatcher {
            name: l.name.clone(),
            path: l.path.clone(),
            follow: l.follow,
            initial: std::fs::metadata(&l.path).ok().map(|m| file_sig(&m)),
            file: None,
            decoder: Decoder::new(spec.encoding),
        })
        .collect();

    let spawned = match spawn(&spec) {
        Ok(s) => s,
        Err(e) => {
            let argv = spec.argv_bytes();
            let arg0 = bytes_repr(&argv[0]);
            io.text(
                Stream::Stderr,
                &format!(
                    "Upon execvpe {arg0} {} in environment id 0\n:{}: [Errno {}] {}: {arg0}\n",
                    argv_repr,
                    python_errno_name(&e),
                    e.raw_os_error().unwrap_or(0),
                    strerror(&e)
                ),
            );
            if spec.send_rc {
                io.entry(UpdateEntry::Rc(1));
            }
            io.header(&format!(
                "elapsedTime={:.6}\n",
                start.elapsed().as_secs_f64()
            ));
            return ProcessResult {
                rc: 1,
                failure: None,
            };
        }
    };
    let pgid = spawned.pid;
    *pgid_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(pgid);

    let (tx, rx) = bounded::<Ev>(64);
    spawn_reader(spawned.stdout, Src::Out, tx.clone());
    let mut eof_err = true;
    if let Some(err) = spawned.stderr {
        eof_err = false;
        spawn_reader(err, Src::Err, tx.clone());
    }
    let mut eof_out = false;
    {
        let tx = tx.clone();
        let mut child = spawned.child;
        async_std::task::spawn_blocking(move || {
            let status = child.wait();
            let _ = tx.send_blocking(Ev::Exit(status));
        });
    }
    {
        let tx = tx.clone();
        async_std::task::spawn(async move {
            while let Ok(c) = control.recv().await {
                if tx.send(Ev::Control(c)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut dec_out = Decoder::new(spec.encoding);
    let mut dec_err = Decoder::new(spec.encoding);
    let mut last_output = Instant::now();
    let mut next_poll = Instant::now() + Duration::from_secs(2);
    let mut killed_at: Option<Instant> = None;
    let mut escalate_at: Option<Instant> = None;
    let mut exited: Option<(std::io::Result<ExitStatus>, Instant)> = None;
    let mut lines = 0u64;
    let mut drop_output = false;
    let mut failure = None;
    let mut fake_rc = false;
    let mut text = String::new();
    let mut timer: Option<(Instant, Sleep)> = None;

    let kill_signal = spec.interrupt_signal.0;
    let kill = |reason: Option<&str>,
                msg: String,
                killed_at: &mut Option<Instant>,
                escalate_at: &mut Option<Instant>| {
        if killed_at.is_some() {
            return;
        }
        if let Some(r) = reason {
            io.entry(UpdateEntry::FailureReason(r.to_string()));
        }
        log::info!("{msg}, attempting to kill");
        io.header(&format!("\n{msg}, attempting to kill\n"));
        if let Some(st) = spec.sigterm_time {
            kill_group(pgid, libc::SIGTERM);
            *escalate_at = Some(Instant::now() + secs(st));
        } else {
            kill_group(pgid, kill_signal);
        }
        *killed_at = Some(Instant::now());
    };

    loop {
        if exited.is_some() && eof_out && eof_err {
            break;
        }
        let now = Instant::now();
        // deadlines
        let mut deadline = next_poll;
        if killed_at.is_none() {
            if let Some((t, _)) = &spec.timeout {
                deadline = deadline.min(last_output + secs(*t));
            }
            if let Some((t, _)) = &spec.max_time {
                deadline = deadline.min(start + secs(*t));
            }
        }
        if let Some(e) = escalate_at {
            deadline = deadline.min(e);
        }
        if let (Some(k), None) = (killed_at, &exited) {
            deadline = deadline.min(k + Duration::from_secs(5));
        }
        if let Some((_, at)) = &exited {
            // pipes held open by an escaped grandchild: do not wait forever after a kill
            if killed_at.is_some() {
                deadline = deadline.min(*at + Duration::from_secs(2));
            }
        }
        let wait = deadline.saturating_duration_since(now);
        // One timer per deadline: arming a timer wakes the reactor thread, and while output
        // streams the deadline (normally the next logfile poll) does not change.
        if !matches!(&timer, Some((d, _)) if *d == deadline) {
            timer = Some((deadline, Box::pin(async_std::task::sleep(wait))));
        }
        let received = match timer.as_mut() {
            Some((_, sleep)) => {
                match futures::future::select(std::pin::pin!(rx.recv()), sleep.as_mut()).await {
                    Either::Left((r, _)) => Ok(r),
                    Either::Right(((), _)) => Err(()),
                }
            }
            None => Err(()),
        };
        if received.is_err() {
            timer = None;
        }
        match received {
            Ok(Ok(Ev::Data(src, bytes))) => {
                last_output = Instant::now();
                let (dec, want, stream) = match src {
                    Src::Out => (&mut dec_out, spec.want_stdout, Stream::Stdout),
                    Src::Err => (&mut dec_err, spec.want_stderr, Stream::Stderr),
                };
                text.clear();
                dec.decode_into(&bytes, &mut text);
                if want && !drop_output {
                    if let Some(max) = spec.max_lines {
                        lines += count_lines(&text);
                        if lines > max {
                            drop_output = true;
                            kill(
                                Some("max_lines_failure"),
                                format!(
                                    "command exceeds max lines: {lines}/{max} written/allowed running {argv_repr}"
                                ),
                                &mut killed_at,
                                &mut escalate_at,
                            );
                        }
                    }
                    io.text(stream, &text);
                }
            }
            Ok(Ok(Ev::Eof(Src::Out))) => eof_out = true,
            Ok(Ok(Ev::Eof(Src::Err))) => eof_err = true,
            Ok(Ok(Ev::Exit(status))) => {
                *pgid_slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
                // kill what is left of the group (grandchildren holding our pipes)
                if killed_at.is_some() {
                    kill_group(pgid, libc::SIGKILL);
                }
                exited = Some((status, Instant::now()));
                escalate_at = None;
            }
            Ok(Ok(Ev::Control(Control::Interrupt(why)))) => {
                log::info!("command interrupted: {why}");
                if exited.is_none() && killed_at.is_none() {
                    io.flush_all();
                    kill(
                        None,
                        "command interrupted".to_string(),
                        &mut killed_at,
                        &mut escalate_at,
                    );
                }
            }
            Ok(Ok(Ev::Control(Control::Kill))) => {
                if exited.is_none() {
                    kill_group(pgid, libc::SIGKILL);
                    killed_at.get_or_insert_with(Instant::now);
                }
            }
            Ok(Err(_)) => break,
            Err(_) => {}
        }
        let now = Instant::now();
        if killed_at.is_none()
            && exited.is_none()
            && let Some((t, shown)) = &spec.timeout
            && now.duration_since(last_output).as_secs_f64() >= *t
        {
            kill(
                Some("timeout_without_output"),
                format!("command timed out: {shown} seconds without output running {argv_repr}"),
                &mut killed_at,
                &mut escalate_at,
            );
        }
        if killed_at.is_none()
            && exited.is_none()
            && let Some((t, shown)) = &spec.max_time
            && now.duration_since(start).as_secs_f64() >= *t
        {
            kill(
                Some("timeout"),
                format!("command timed out: {shown} seconds elapsed running {argv_repr}"),
                &mut killed_at,
                &mut escalate_at,
            );
        }
        if let Some(e) = escalate_at
            && now >= e
            && exited.is_none()
        {
            kill_group(pgid, kill_signal);
            escalate_at = None;
        }
        if let (Some(k), None) = (killed_at, &exited)
            && now >= k + Duration::from_secs(5)
        {
            io.header(&format!(
                "SIG{} failed to kill process\n",
                spec.interrupt_signal.1
            ));
            io.header("using fake rc=-1\n");
            failure = Some(format!(
                "[Failure instance: Traceback (failure with no frames): <class 'RuntimeError'>: SIG{} failed to kill process\n]",
                spec.interrupt_signal.1
            ));
            fake_rc = true;
            break;
        }
        if let Some((_, at)) = &exited
            && killed_at.is_some()
            && now >= *at + Duration::from_secs(2)
        {
            break;
        }
        if now >= next_poll {
            for w in &mut watchers {
                if w.poll(io) {
                    last_output = Instant::now();
                }
            }
            next_poll = now + Duration::from_secs(2);
        }
    }
    *pgid_slot.lock().unwrap_or_else(|p| p.into_inner()) = None;

    let mut rc: i64 = -1;
    if !fake_rc {
        match exited.as_ref().map(|(s, _)| s) {
            Some(Ok(status)) => {
                if let Some(sig) = status.signal() {
                    io.header(&format!("process killed by signal {sig}\n"));
                    rc = -1;
                } else {
                    rc = i64::from(status.code().unwrap_or(-1));
                }
            }
            Some(Err(e)) => {
                log::warn!("waiting for the child failed: {e}");
                rc = -1;
            }
            None => rc = -1,
        }
        if killed_at.is_some() && rc == 0 {
            rc = -1;
        }
    }
    for w in &mut watchers {
        w.poll(io);
    }
    for w in &mut watchers {
        let rest = w.decoder.finish();
        io.text(Stream::Log(w.name.clone()), &rest);
    }
    let rest = dec_out.finish();
    if spec.want_stdout && !drop_output {
        io.text(Stream::Stdout, &rest);
    }
    let rest = dec_err.finish();
    if spec.want_stderr && !drop_output {
        io.text(Stream::Stderr, &rest);
    }
    if spec.send_rc {
        io.entry(UpdateEntry::Rc(rc));
    }
    io.header(&format!(
        "elapsedTime={:.6}\n",
        start.elapsed().as_secs_f64()
    ));
    ProcessResult { rc, failure }
}
