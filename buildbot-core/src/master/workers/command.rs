//! Remote commands: argument translation (§9), the handle a step holds while a command
//! runs, and the master-side table of running commands of one connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_std::channel::{Receiver, Sender};

use super::connection::WorkerConnection;
use super::error::WorkerManagerError;
use super::paths::PathFlavour;
use super::transfer::{DirectoryWriter, FileWriter, Reader};
use crate::protocol::{UpdateEntry, Value};

/// Process-wide command id counter (ids are its decimal text, like the Python master).
static NEXT_COMMAND_ID: AtomicU64 = AtomicU64::new(0);

pub(crate) fn next_command_id() -> String {
    NEXT_COMMAND_ID.fetch_add(1, Ordering::SeqCst).to_string()
}

/// Step-side arguments of a remote command, in order (keys as Buildbot's steps use them:
/// `workdir`, `command`, `dir`, `workersrc`, `want_stdout`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandArgs(Vec<(String, Value)>);

impl CommandArgs {
    /// No arguments.
    pub fn new() -> Self {
        CommandArgs(Vec::new())
    }

    /// Adds (or replaces) an argument, builder style.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    /// Sets an argument, replacing an earlier value in place.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    /// The value of an argument.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes an argument and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// Sets `key` to nil unless present (for keys the worker requires even when nil).
    fn ensure(&mut self, key: &str, default: Value) {
        if self.get(key).is_none() {
            self.0.push((key.to_string(), default));
        }
    }

    /// The pairs, in order.
    pub fn into_pairs(self) -> Vec<(String, Value)> {
        self.0
    }
}

impl From<Vec<(String, Value)>> for CommandArgs {
    fn from(v: Vec<(String, Value)>) -> Self {
        CommandArgs(v)
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for CommandArgs {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut a = CommandArgs::new();
        for (k, v) in iter {
            a.set(&k.into(), v);
        }
        a
    }
}

/// Where a builder's commands run on one worker, for path computations.
#[derive(Clone, Debug)]
pub(crate) struct BuilderBase {
    /// Absolute builder directory on the worker.
    pub(crate) dir: String,
    pub(crate) flavour: PathFlavour,
    pub(crate) environ: BTreeMap<String, String>,
}

impl BuilderBase {
    fn join(&self, rel: &str) -> String {
        self.flavour.join(&self.dir, rel)
    }
    fn join2(&self, a: &str, b: &str) -> String {
        self.flavour.join(&self.join(a), b)
    }
    fn expand(&self, p: &str) -> String {
        self.flavour.expanduser(p, &self.environ)
    }
}

fn as_text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn truthy_bool(v: &Value) -> bool {
    match v {
        Value::Boolean(b) => *b,
        Value::Integer(i) => i.as_i64() == Some(1),
        _ => false,
    }
}

/// The wire name of a step-side command name (§9.1).
pub fn wire_command_name(name: &str) -> &str {
    match name {
        "uploadFile" => "upload_file",
        "uploadDirectory" => "upload_directory",
        "downloadFile" => "download_file",
        other => other,
    }
}

/// Translates step-side arguments into wire arguments with absolute paths (§9.2).
pub(crate) fn translate(
    command: &str,
    mut args: CommandArgs,
    base: &BuilderBase,
) -> Result<Vec<(String, Value)>, String> {
    let text = |args: &CommandArgs, key: &str| -> Result<Option<String>, String> {
        match args.get(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => as_text(v)
                .map(Some)
                .ok_or_else(|| format!("argument {key:?} must be a string, not {v}")),
        }
    };
    let dir_list = |v: Value| -> Result<Value, String> {
        let list = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        list.iter()
            .map(|d| {
                as_text(d)
                    .map(|d| Value::from(base.join(&d)))
                    .ok_or_else(|| format!("directory {d} must be a string"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    };
    match wire_command_name(command) {
        "shell" => {
            let workdir = text(&args, "workdir")?.unwrap_or_else(|| "build".to_string());
            args.set("workdir", base.join(&workdir));
            for key in ["want_stdout", "want_stderr"] {
                if let Some(v) = args.get(key) {
                    let b = truthy_bool(v);
                    args.set(key, b);
                }
            }
        }
        "mkdir" | "rmdir" => {
            if let Some(dir) = args.remove("dir") {
                args.set("paths", dir_list(dir)?);
            }
        }
        "cpdir" => {
            if let Some(from) = text(&args, "fromdir")? {
                args.remove("fromdir");
                args.set("from_path", base.join(&from));
            }
            if let Some(to) = text(&args, "todir")? {
                args.remove("todir");
                args.set("to_path", base.join(&to));
            }
        }
        "stat" => {
            if let Some(file) = text(&args, "file")? {
                args.remove("file");
                let workdir = text(&args, "workdir")?.unwrap_or_default();
                args.set("path", base.join2(&workdir, &file));
            }
        }
        "glob" => {
            if let Some(p) = text(&args, "path")? {
                args.set("path", base.join(&p));
            }
        }
        "listdir" => {
            if let Some(d) = text(&args, "dir")? {
                args.remove("dir");
                args.set("path", base.join(&d));
            }
        }
        "rmfile" => {
            if let Some(p) = text(&args, "path")? {
                args.set("path", base.join(&base.expand(&p)));
            }
        }
        "upload_file" | "upload_directory" => {
            let workdir = text(&args, "workdir")?.unwrap_or_default();
            let src = text(&args, "workersrc")?
                .ok_or("argument \"workersrc\" is required".to_string())?;
            args.remove("writer");
            args.ensure("maxsize", Value::Nil);
            let dir = wire_command_name(command) == "upload_directory";
            args.ensure("blocksize", Value::from(if dir { 16384 } else { 262144 }));
            if dir {
                args.ensure("compress", Value::Nil);
            }
            args.set("path", base.join2(&workdir, &base.expand(&src)));
        }
        "download_file" => {
            let workdir = text(&args, "workdir")?.unwrap_or_default();
            let dest = text(&args, "workerdest")?
                .ok_or("argument \"workerdest\" is required".to_string())?;
            args.remove("reader");
            args.ensure("maxsize", Value::Nil);
            args.ensure("blocksize", Value::from(16384));
            args.ensure("mode", Value::Nil);
            args.set("path", base.join2(&workdir, &base.expand(&dest)));
        }
        _ => {}
    }
    Ok(args.into_pairs())
}

/// One piece of progress of a running command (an `update` entry, §4.1). Text entries
/// carry only the text (whole lines).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum CommandUpdate {
    /// Standard output text.
    Stdout(String),
    /// Standard error text.
    Stderr(String),
    /// Header text (worker-generated lines).
    Header(String),
    /// Text of a watched log file.
    Log {
        /// The log name.
        name: String,
        /// The text.
        text: String,
    },
    /// Exit status.
    Rc(i64),
    /// Run time in seconds.
    Elapsed(f64),
    /// `timeout_without_output`, `timeout` or `max_lines_failure`.
    FailureReason(String),
    /// Result of `listdir` / `glob`.
    Files(Vec<String>),
    /// Result of `stat` (ten integers).
    Stat(Vec<i64>),
    /// Any other key.
    Other {
        /// The key.
        key: String,
        /// The value.
        value: Value,
    },
}

impl From<UpdateEntry> for CommandUpdate {
    fn from(e: UpdateEntry) -> Self {
        match e {
            UpdateEntry::Stdout(c) => CommandUpdate::Stdout(c.text),
            UpdateEntry::Stderr(c) => CommandUpdate::Stderr(c.text),
            UpdateEntry::Header(c) => CommandUpdate::Header(c.text),
            UpdateEntry::Log { name, chunk } => CommandUpdate::Log {
                name,
                text: chunk.text,
            },
            UpdateEntry::Rc(rc) => CommandUpdate::Rc(rc),
            UpdateEntry::Elapsed(e) => CommandUpdate::Elapsed(e),
            UpdateEntry::FailureReason(r) => CommandUpdate::FailureReason(r),
            UpdateEntry::Files(f) => CommandUpdate::Files(f),
            UpdateEntry::Stat(s) => CommandUpdate::Stat(s),
            other => CommandUpdate::Other {
                key: other.key().to_string(),
                value: other.value(),
            },
        }
    }
}

/// How a remote command ended.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum CommandOutcome {
    /// The worker sent `complete` with nil: the command ran (look at `rc`).
    Completed,
    /// The command was interrupted ([`CommandHandle::interrupt`]) and then completed; a
    /// step reports CANCELLED.
    Interrupted {
        /// The reason given to `interrupt`.
        why: String,
    },
    /// The worker sent `complete` with a failure text (a step reports EXCEPTION), or a
    /// master-side part of a transfer failed.
    Failed {
        /// The failure text.
        message: String,
    },
    /// The connection was lost before `complete` (a build is retried).
    ConnectionLost,
}

/// Everything known about a finished command.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct CommandResult {
    /// How it ended.
    pub outcome: CommandOutcome,
    /// The first `rc` received, if any.
    pub rc: Option<i64>,
    /// The `elapsed` value (absent after an interrupt).
    pub elapsed: Option<f64>,
    /// The `failure_reason`, if any.
    pub failure_reason: Option<String>,
    /// The last `files` value (`listdir`, `glob`).
    pub files: Option<Vec<String>>,
    /// The last `stat` value.
    pub stat: Option<Vec<i64>>,
    /// The updates not consumed through [`RemoteCommand::next_update`], in order.
    pub updates: Vec<CommandUpdate>,
}

impl CommandResult {
    /// All text of one stream (`"stdout"`, `"stderr"`, `"header"`, or a log name) among
    /// [`CommandResult::updates`].
    pub fn text(&self, stream: &str) -> String {
        let mut s = String::new();
        for u in &self.updates {
            match u {
                CommandUpdate::Stdout(t) if stream == "stdout" => s.push_str(t),
                CommandUpdate::Stderr(t) if stream == "stderr" => s.push_str(t),
                CommandUpdate::Header(t) if stream == "header" => s.push_str(t),
                CommandUpdate::Log { name, text } if name == stream => s.push_str(text),
                _ => {}
            }
        }
        s
    }

    /// `true` when the command completed normally with `rc == 0` (or without `rc` when
    /// `rc_optional`, as transfer steps decide).
    pub fn succeeded(&self, rc_optional: bool) -> bool {
        self.outcome == CommandOutcome::Completed
            && match self.rc {
                Some(rc) => rc == 0,
                None => rc_optional,
            }
    }
}

/// What the connection delivers to a command handle.
#[derive(Debug)]
pub(crate) enum CommandEvent {
    Update(CommandUpdate),
    Done(Option<String>),
    Lost,
}

/// The master-side end of a transfer attached to a command.
#[derive(Debug)]
pub(crate) enum Transfer {
    File(FileWriter),
    Directory(DirectoryWriter),
    Read(Reader),
}

impl Transfer {
    pub(crate) fn cancel(&mut self) {
        match self {
            Transfer::File(w) => w.cancel(),
            Transfer::Directory(w) => w.cancel(),
            Transfer::Read(r) => r.close(),
        }
    }
}

/// Bytes of command output the connection's reader may queue for one command before it stops
/// reading the socket until the command's reader catches up (TCP then pushes back on the
/// worker). Keeps a fast command's log in memory to about this much instead of all of it.
pub(crate) const BACKLOG_LIMIT: usize = 2 << 20;

/// The output text delivered to a command's queue and not yet read by its owner.
#[derive(Debug)]
pub(crate) struct Backlog {
    bytes: AtomicUsize,
    /// Set while the connection's reader waits for the backlog to shrink.
    waiting: AtomicBool,
    drained: (Sender<()>, Receiver<()>),
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            bytes: AtomicUsize::new(0),
            waiting: AtomicBool::new(false),
            drained: async_std::channel::bounded(1),
        }
    }
}

impl Backlog {
    fn add(&self, n: usize) -> usize {
        self.bytes.fetch_add(n, Ordering::SeqCst) + n
    }

    fn take(&self, n: usize) {
        if n == 0 {
            return;
        }
        let left = self.bytes.fetch_sub(n, Ordering::SeqCst) - n;
        if left <= BACKLOG_LIMIT && self.waiting.load(Ordering::SeqCst) {
            let _ = self.drained.0.try_send(());
        }
    }

    /// Waits until the backlog is at most [`BACKLOG_LIMIT`] or `gone()` says the command's
    /// owner went away; `tick` runs about every 250 ms while waiting. Gives up (and lets the
    /// queue grow) after 30 s without progress, so a stuck owner never stalls the connection
    /// for good.
    pub(crate) async fn wait_below_limit(&self, gone: impl Fn() -> bool, tick: impl Fn()) {
        self.waiting.store(true, Ordering::SeqCst);
        let mut last = self.bytes.load(Ordering::SeqCst);
        let mut since = std::time::Instant::now();
        loop {
            let now = self.bytes.load(Ordering::SeqCst);
            if now <= BACKLOG_LIMIT || gone() {
                break;
            }
            if now < last {
                last = now;
                since = std::time::Instant::now();
            } else if since.elapsed() > std::time::Duration::from_secs(30) {
                log::warn!("command output not consumed for 30 s ({now} bytes queued); reading on");
                break;
            }
            let _ = async_std::future::timeout(
                std::time::Duration::from_millis(250),
                self.drained.1.recv(),
            )
            .await;
            tick();
        }
        self.waiting.store(false, Ordering::SeqCst);
    }
}

/// Bytes of output text an update carries (what [`Backlog`] counts).
fn text_len(u: &CommandUpdate) -> usize {
    match u {
        CommandUpdate::Stdout(t) | CommandUpdate::Stderr(t) | CommandUpdate::Header(t) => t.len(),
        CommandUpdate::Log { text, .. } => text.len(),
        _ => 0,
    }
}

/// An entry of a connection's command table.
#[derive(Debug)]
pub(crate) struct CommandEntry {
    pub(crate) tx: Sender<CommandEvent>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) transfer: Option<Arc<Mutex<Transfer>>>,
    /// First master-side transfer error, reported as the command's failure.
    pub(crate) transfer_error: Arc<Mutex<Option<String>>>,
}

/// A cheap handle to interrupt a running command from another task.
#[derive(Clone, Debug)]
pub struct CommandHandle {
    pub(crate) id: String,
    pub(crate) builder: Option<String>,
    pub(crate) conn: WorkerConnection,
    pub(crate) interrupted: Arc<Mutex<Option<String>>>,
}

impl CommandHandle {
    /// The command id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends `interrupt_command` with the reason `why`. The command still ends with its
    /// normal `complete`; its outcome is then [`CommandOutcome::Interrupted`]. Does
    /// nothing when the command already finished or the worker is gone.
    pub async fn interrupt(&self, why: &str) -> Result<(), WorkerManagerError> {
        if !self.conn.has_command(&self.id) {
            return Ok(());
        }
        {
            let mut slot = self.interrupted.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(why.to_string());
            }
        }
        self.conn
            .interrupt_command(&self.id, self.builder.clone(), why)
            .await
    }
}

/// A command running on a worker. Read its progress with
/// [`RemoteCommand::next_update`], then (or instead) [`RemoteCommand::wait`] for the end.
#[derive(Debug)]
pub struct RemoteCommand {
    handle: CommandHandle,
    name: String,
    rx: Receiver<CommandEvent>,
    backlog: Arc<Backlog>,
    transfer_error: Arc<Mutex<Option<String>>>,
    end: Option<CommandEvent>,
    rc: Option<i64>,
    elapsed: Option<f64>,
    failure_reason: Option<String>,
    files: Option<Vec<String>>,
    stat: Option<Vec<i64>>,
}

impl RemoteCommand {
    pub(crate) fn new(
        handle: CommandHandle,
        name: String,
        rx: Receiver<CommandEvent>,
        backlog: Arc<Backlog>,
        transfer_error: Arc<Mutex<Option<String>>>,
    ) -> Self {
        RemoteCommand {
            handle,
            name,
            rx,
            backlog,
            transfer_error,
            end: None,
            rc: None,
            elapsed: None,
            failure_reason: None,
            files: None,
            stat: None,
        }
    }

    /// The command id (decimal text of a process-wide counter).
    pub fn id(&self) -> &str {
        &self.handle.id
    }

    /// The wire command name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle to interrupt the command from elsewhere.
    pub fn handle(&self) -> CommandHandle {
        self.handle.clone()
    }

    /// Sends `interrupt_command` (see [`CommandHandle::interrupt`]).
    pub async fn interrupt(&self, why: &str) -> Result<(), WorkerManagerError> {
        self.handle.interrupt(why).await
    }

    fn note(&mut self, u: &CommandUpdate) {
        match u {
            CommandUpdate::Rc(rc) if self.rc.is_none() => self.rc = Some(*rc),
            CommandUpdate::Elapsed(e) => self.elapsed = Some(*e),
            CommandUpdate::FailureReason(r) => self.failure_reason = Some(r.clone()),
            CommandUpdate::Files(f) => self.files = Some(f.clone()),
            CommandUpdate::Stat(s) => self.stat = Some(s.clone()),
            _ => {}
        }
    }

    /// The next update, in the order the worker sent them; `None` once the command has
    /// ended (then [`RemoteCommand::wait`] returns at once).
    pub async fn next_update(&mut self) -> Option<CommandUpdate> {
        if self.end.is_some() {
            return None;
        }
        match self.rx.recv().await {
            Ok(CommandEvent::Update(u)) => {
                self.backlog.take(text_len(&u));
                self.note(&u);
                Some(u)
            }
            Ok(end) => {
                self.end = Some(end);
                None
            }
            Err(_) => {
                self.end = Some(CommandEvent::Lost);
                None
            }
        }
    }

    /// Waits for the end of the command and returns its result (with every update not
    /// read through [`RemoteCommand::next_update`]).
    pub async fn wait(mut self) -> CommandResult {
        let mut updates = Vec::new();
        while let Some(u) = self.next_update().await {
            updates.push(u);
        }
        let interrupted = self
            .handle
            .interrupted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let transfer_error = self
            .transfer_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let outcome = match self.end.take() {
            Some(CommandEvent::Done(Some(message))) => CommandOutcome::Failed { message },
            Some(CommandEvent::Done(None)) => match (interrupted, transfer_error) {
                (Some(why), _) => CommandOutcome::Interrupted { why },
                (None, Some(message)) => CommandOutcome::Failed { message },
                (None, None) => CommandOutcome::Completed,
            },
            _ => CommandOutcome::ConnectionLost,
        };
        CommandResult {
            outcome,
            rc: self.rc,
            elapsed: self.elapsed,
            failure_reason: self.failure_reason,
            files: self.files,
            stat: self.stat,
            updates,
        }
    }
}

/// A command's transfer and its error slot.
pub(crate) type TransferSlot = (Arc<Mutex<Transfer>>, Arc<Mutex<Option<String>>>);

/// The command table of one connection.
#[derive(Debug, Default)]
pub(crate) struct CommandTable {
    entries: Mutex<Option<HashMap<String, CommandEntry>>>,
}

impl CommandTable {
    pub(crate) fn new() -> Self {
        CommandTable {
            entries: Mutex::new(Some(HashMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<String, CommandEntry>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a command; `false` when the connection is already closed.
    pub(crate) fn insert(&self, id: String, entry: CommandEntry) -> bool {
        match self.lock().as_mut() {
            Some(t) => {
                t.insert(id, entry);
                true
            }
            None => false,
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.lock().as_ref().is_some_and(|t| t.contains_key(id))
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().as_ref().map_or(0, HashMap::len)
    }

    /// Delivers updates; `None` for an unknown id, else `Some(backlog)` where `backlog`
    /// is the command's queue when it now holds more than [`BACKLOG_LIMIT`] bytes of text
    /// (the caller should wait for it before reading more from the worker).
    #[allow(clippy::type_complexity)]
    pub(crate) fn update(
        &self,
        id: &str,
        entries: Vec<UpdateEntry>,
    ) -> Option<Option<(Arc<Backlog>, Sender<CommandEvent>)>> {
        let guard = self.lock();
        let e = guard.as_ref().and_then(|t| t.get(id))?;
        let mut queued = 0;
        for entry in entries {
            let u: CommandUpdate = entry.into();
            let n = text_len(&u);
            // counted before it is sent: the owner may read (and `take`) it at once
            let now = e.backlog.add(n);
            if e.tx.try_send(CommandEvent::Update(u)).is_ok() {
                queued = now;
            } else {
                e.backlog.take(n);
            }
        }
        Some((queued > BACKLOG_LIMIT).then(|| (e.backlog.clone(), e.tx.clone())))
    }

    /// Finishes a command; `false` for an unknown id.
    pub(crate) fn complete(&self, id: &str, failure: Option<String>) -> bool {
        let entry = self.lock().as_mut().and_then(|t| t.remove(id));
        let Some(e) = entry else { return false };
        if let Some(t) = &e.transfer {
            t.lock().unwrap_or_else(|p| p.into_inner()).cancel();
        }
        let _ = e.tx.try_send(CommandEvent::Done(failure));
        true
    }

    /// Removes a command that could not be started.
    pub(crate) fn remove(&self, id: &str) {
        let entry = self.lock().as_mut().and_then(|t| t.remove(id));
        if let Some(e) = entry
            && let Some(t) = &e.transfer
        {
            t.lock().unwrap_or_else(|p| p.into_inner()).cancel();
        }
    }

    /// The transfer of a command (`None`: unknown id or no transfer).
    pub(crate) fn transfer(&self, id: &str) -> Option<TransferSlot> {
        let guard = self.lock();
        let e = guard.as_ref()?.get(id)?;
        Some((e.transfer.clone()?, e.transfer_error.clone()))
    }

    /// Closes the table: every command ends with "connection lost".
    pub(crate) fn close(&self) {
        let table = self.lock().take();
        for (_, e) in table.into_iter().flatten() {
            if let Some(t) = &e.transfer {
                t.lock().unwrap_or_else(|p| p.into_inner()).cancel();
            }
            let _ = e.tx.try_send(CommandEvent::Lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BuilderBase {
        let mut environ = BTreeMap::new();
        environ.insert("HOME".to_string(), "/home/w".to_string());
        BuilderBase {
            dir: "/w/main".into(),
            flavour: PathFlavour::Posix,
            environ,
        }
    }

    fn get<'a>(pairs: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
        pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[test]
    fn translate_args() {
        let b = base();
        let shell = translate(
            "shell",
            CommandArgs::new()
                .with("workdir", "build")
                .with("want_stdout", 1)
                .with("want_stderr", 0),
            &b,
        )
        .unwrap();
        assert_eq!(get(&shell, "workdir"), Some(&Value::from("/w/main/build")));
        assert_eq!(get(&shell, "want_stdout"), Some(&Value::Boolean(true)));
        assert_eq!(get(&shell, "want_stderr"), Some(&Value::Boolean(false)));

        let mk = translate("mkdir", CommandArgs::new().with("dir", "build/x"), &b).unwrap();
        assert_eq!(
            mk,
            vec![(
                "paths".to_string(),
                Value::Array(vec![Value::from("/w/main/build/x")])
            )]
        );
        let st = translate(
            "stat",
            CommandArgs::new()
                .with("file", "f")
                .with("workdir", "build"),
            &b,
        )
        .unwrap();
        assert_eq!(get(&st, "path"), Some(&Value::from("/w/main/build/f")));
        let up = translate(
            "uploadFile",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "~/x.txt"),
            &b,
        )
        .unwrap();
        assert_eq!(get(&up, "path"), Some(&Value::from("/home/w/x.txt")));
        assert_eq!(get(&up, "maxsize"), Some(&Value::Nil));
        assert_eq!(get(&up, "workersrc"), Some(&Value::from("~/x.txt")));
        let dl = translate(
            "downloadFile",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workerdest", "a/b"),
            &b,
        )
        .unwrap();
        assert_eq!(get(&dl, "mode"), Some(&Value::Nil));
        assert_eq!(get(&dl, "path"), Some(&Value::from("/w/main/build/a/b")));
        let cp = translate(
            "cpdir",
            CommandArgs::new().with("fromdir", "a").with("todir", "b"),
            &b,
        )
        .unwrap();
        assert_eq!(get(&cp, "from_path"), Some(&Value::from("/w/main/a")));
        assert_eq!(get(&cp, "to_path"), Some(&Value::from("/w/main/b")));
        assert!(get(&cp, "fromdir").is_none());
    }
}
