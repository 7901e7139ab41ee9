//! Remote commands (§9, §10): validation, registry, life cycle.

mod fs;
mod shell;
mod transfer;

pub(crate) use shell::worker_environ;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_std::channel::{Receiver, Sender, unbounded};
use rmpv::Value;

use super::Shared;
use super::output::CommandIo;
use super::runprocess::{Control, PgidSlot, kill_slot};
use crate::protocol::{RpcPeer, UpdateEntry, WorkerSettings};

/// Every command name the worker accepts, with its protocol version.
pub(crate) const WORKER_COMMANDS: [&str; 14] = [
    "shell",
    "uploadFile",
    "upload_file",
    "uploadDirectory",
    "upload_directory",
    "downloadFile",
    "download_file",
    "mkdir",
    "rmdir",
    "cpdir",
    "stat",
    "glob",
    "listdir",
    "rmfile",
];

/// Version advertised for every command.
pub(crate) const COMMAND_VERSION: &str = "3.3";

/// Arguments of a command, looked up by key.
#[derive(Clone, Debug)]
pub(crate) struct Args(Vec<(String, Value)>);

impl Args {
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Value present and not nil.
    pub(crate) fn some(&self, key: &str) -> Option<&Value> {
        self.get(key).filter(|v| !v.is_nil())
    }
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(value_text)
    }
    pub(crate) fn bool_or(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None | Some(Value::Nil) => default,
            Some(v) => truthy(v),
        }
    }
    pub(crate) fn f64(&self, key: &str) -> Option<f64> {
        self.some(key).and_then(Value::as_f64)
    }
    pub(crate) fn u64(&self, key: &str) -> Option<u64> {
        self.some(key)
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
    }
    fn missing(&self, class: &str, required: &[&str]) -> Result<(), String> {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| self.get(k).is_none())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("{class} is missing args: {}", missing.join(", ")))
        }
    }
    fn key_required(&self, key: &str) -> Result<(), String> {
        if self.get(key).is_none() {
            Err(format!("'{key}'"))
        } else {
            Ok(())
        }
    }
}

/// Text of a str value (bin is decoded lossily; numbers are formatted).
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.as_str().map(str::to_string),
        Value::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Python truthiness of a value.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::Boolean(b) => *b,
        Value::Integer(i) => i.as_i64() != Some(0) && i.as_u64() != Some(0),
        Value::F64(f) => *f != 0.0,
        Value::F32(f) => *f != 0.0,
        Value::String(s) => !s.as_bytes().is_empty(),
        Value::Binary(b) => !b.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Map(m) => !m.is_empty(),
        Value::Ext(..) => true,
    }
}

/// Failure text in the shape of a Twisted failure, as the Python worker sends it.
pub(crate) fn failure_text(class: &str, message: &str) -> String {
    format!("[Failure instance: Traceback: <class '{class}'>: {message}\n]")
}

enum Kind {
    Shell(Args),
    UploadFile(Args),
    UploadDirectory(Args),
    DownloadFile(Args),
    Mkdir(Args),
    Rmdir(Args),
    Cpdir(Args),
    Stat(Args),
    Glob(Args),
    Listdir(Args),
    Rmfile(Args),
}

fn construct(command_id: &str, name: &str, args: Args) -> Result<Kind, String> {
    Ok(match name {
        "shell" => {
            args.missing("WorkerShellCommand", &["workdir", "command"])?;
            Kind::Shell(args)
        }
        "upload_file" | "uploadFile" => {
            args.missing("WorkerFileUploadCommand", &["path", "blocksize"])?;
            args.key_required("maxsize")?;
            Kind::UploadFile(args)
        }
        "upload_directory" | "uploadDirectory" => {
            args.missing("WorkerDirectoryUploadCommand", &["path", "blocksize"])?;
            args.key_required("maxsize")?;
            args.key_required("compress")?;
            Kind::UploadDirectory(args)
        }
        "download_file" | "downloadFile" => {
            args.missing("WorkerFileDownloadCommand", &["path", "blocksize"])?;
            args.key_required("maxsize")?;
            args.key_required("mode")?;
            Kind::DownloadFile(args)
        }
        "mkdir" => {
            args.missing("MakeDirectory", &["paths"])?;
            Kind::Mkdir(args)
        }
        "rmdir" => {
            args.missing("RemoveDirectory", &["paths"])?;
            Kind::Rmdir(args)
        }
        "cpdir" => {
            args.missing("CopyDirectory", &["from_path", "to_path"])?;
            Kind::Cpdir(args)
        }
        "stat" => Kind::Stat(args),
        "glob" => {
            args.missing("GlobPath", &["path"])?;
            Kind::Glob(args)
        }
        "listdir" => Kind::Listdir(args),
        "rmfile" => {
            args.missing("RemoveFile", &["path"])?;
            Kind::Rmfile(args)
        }
        other => {
            return Err(format!(
                "(command {command_id}): unrecognized WorkerCommand '{other}'"
            ));
        }
    })
}

/// A running command as the registry knows it.
pub(crate) struct Running {
    token: u64,
    control: Sender<Control>,
    pgid: PgidSlot,
    interrupted: Arc<AtomicBool>,
}

/// All running commands of the worker, by command id.
#[derive(Default)]
pub(crate) struct Registry {
    map: Mutex<HashMap<String, Running>>,
    next_token: AtomicU64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of running commands.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Interrupts a command (no-op for unknown ids).
    pub(crate) fn interrupt(&self, command_id: &str, why: &str) {
        let map = self.lock();
        if let Some(r) = map.get(command_id) {
            r.interrupted.store(true, Ordering::SeqCst);
            let _ = r.control.try_send(Control::Interrupt(why.to_string()));
        } else {
            log::info!("interrupt for unknown command {command_id} ignored");
        }
    }

    /// Kills every running command's process group at once (stop, connection loss).
    pub(crate) fn kill_all(&self, why: &str) {
        let map = self.lock();
        for (id, r) in map.iter() {
            log::info!("killing command {id}: {why}");
            r.interrupted.store(true, Ordering::SeqCst);
            kill_slot(&r.pgid, libc::SIGKILL);
            let _ = r.control.try_send(Control::Kill);
        }
    }
}

/// Everything a command body needs.
pub(crate) struct Ctx {
    pub io: Arc<CommandIo>,
    pub shared: Arc<Shared>,
    pub interrupted: Arc<AtomicBool>,
    pub control: Receiver<Control>,
    pub pgid: PgidSlot,
}

impl Ctx {
    pub(crate) fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Checks a path against the base directory; on refusal reports `rc 1` and a header
    /// line naming the path.
    pub(crate) fn check_path(
        &self,
        cmd: &str,
        path: &str,
        allow_base: bool,
    ) -> Option<std::path::PathBuf> {
        match self.shared.jail.check(path, allow_base) {
            Ok(p) => Some(p),
            Err(text) => {
                self.refuse(cmd, &text);
                None
            }
        }
    }

    /// Reports a refused path: `rc 1` and a header line.
    pub(crate) fn refuse(&self, cmd: &str, text: &str) {
        log::warn!("{cmd}: {text}");
        self.io.entry(UpdateEntry::Rc(1));
        self.io.header(&format!("{cmd}: {text}"));
    }
}

/// Validates and starts a command; `Err` is the text of the `is_exception` response.
pub(crate) fn start(
    shared: &Arc<Shared>,
    peer: &RpcPeer,
    settings: WorkerSettings,
    command_id: String,
    command_name: &str,
    args: Vec<(String, Value)>,
) -> Result<(), String> {
    let kind = construct(&command_id, command_name, Args(args))?;
    let (control_tx, control_rx) = unbounded();
    let pgid: PgidSlot = Arc::new(Mutex::new(None));
    let interrupted = Arc::new(AtomicBool::new(false));
    let token = shared.commands.next_token.fetch_add(1, Ordering::SeqCst);
    let io = CommandIo::new(peer.clone(), command_id.clone(), settings);
    let ctx = Ctx {
        io: io.clone(),
        shared: shared.clone(),
        interrupted: interrupted.clone(),
        control: control_rx,
        pgid: pgid.clone(),
    };
    shared.commands.lock().insert(
        command_id.clone(),
        Running {
            token,
            control: control_tx,
            pgid,
            interrupted: interrupted.clone(),
        },
    );
    log::info!("starting command {command_id}: {command_name}");
    let shared2 = shared.clone();
    async_std::task::spawn(async move {
        let started = Instant::now();
        let failure = match kind {
            Kind::Shell(a) => shell::run(&ctx, a).await,
            Kind::UploadFile(a) => transfer::upload_file(&ctx, a).await,
            Kind::UploadDirectory(a) => transfer::upload_directory(&ctx, a).await,
            Kind::DownloadFile(a) => transfer::download_file(&ctx, a).await,
            Kind::Mkdir(a) => fs::mkdir(&ctx, a).await,
            Kind::Rmdir(a) => fs::rmdir(&ctx, a).await,
            Kind::Cpdir(a) => fs::cpdir(&ctx, a).await,
            Kind::Stat(a) => fs::stat(&ctx, a).await,
            Kind::Glob(a) => fs::glob(&ctx, a).await,
            Kind::Listdir(a) => fs::listdir(&ctx, a).await,
            Kind::Rmfile(a) => fs::rmfile(&ctx, a).await,
        }
        .err();
        if !ctx.is_interrupted() {
            io.entry(UpdateEntry::Elapsed(started.elapsed().as_secs_f64()));
        }
        {
            let mut map = shared2.commands.lock();
            if map.get(&command_id).is_some_and(|r| r.token == token) {
                map.remove(&command_id);
            }
        }
        log::info!(
            "command {command_id} finished{}",
            failure
                .as_deref()
                .map(|f| format!(" with failure: {f}"))
                .unwrap_or_default()
        );
        io.complete(failure);
        shared2.commands_changed();
    });
    Ok(())
}
