//! Typed protocol messages and their msgpack codec.
//!
//! Messages are encoded through [`rmpv::Value`] maps built in the key order the Python
//! programs emit (`op`, op-specific keys, `seq_number` last; responses `op, seq_number,
//! result[, is_exception]`), so encoding is byte-identical to msgpack-python for the same
//! values. Decoding goes through a generic value as well, which gives exact control over the
//! error texts the Python peers produce.

use rmpv::Value;

use super::error::ProtocolError;

/// Maximum nesting depth accepted when decoding.
const MAX_DEPTH: usize = 256;

/// One protocol message: a request or a response.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request (`op` other than `response`).
    Request(Request),
    /// A response to an earlier request.
    Response(Response),
}

/// A request: an operation plus the sender's sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Sender-assigned request number.
    pub seq_number: u64,
    /// The operation with its arguments.
    pub op: Op,
}

/// A response (`op: "response"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// Number of the request being answered.
    pub seq_number: u64,
    /// Return value, or the error text when `is_exception`.
    pub result: Value,
    /// `true` when the request failed; the key is omitted on the wire otherwise.
    pub is_exception: bool,
}

/// Settings sent by `set_worker_settings` (§8).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerSettings {
    /// Maximum accounted size of one `update`.
    pub buffer_size: u64,
    /// Seconds after the first buffered entry until a forced send.
    pub buffer_timeout: f64,
    /// Python regular expression of newline sequences.
    pub newline_re: String,
    /// Longer lines are split.
    pub max_line_length: u64,
}

/// The default `newline_re` of Buildbot (Python syntax).
pub const DEFAULT_NEWLINE_RE: &str =
    "(\\r\\n|\\r(?=.)|\\033\\[u|\\033\\[[0-9]+;[0-9]+[Hf]|\\033\\[2J|\\x08+)";

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            buffer_size: 65536,
            buffer_timeout: 5.0,
            newline_re: DEFAULT_NEWLINE_RE.to_string(),
            max_line_length: 4096,
        }
    }
}

/// The text triple `[text, newline_offsets, line_times]` of `stdout`/`stderr`/`header`/`log`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextChunk {
    /// Whole lines, each terminated by `"\n"`.
    pub text: String,
    /// Code-point index of every `"\n"` in `text`.
    pub newline_offsets: Vec<u64>,
    /// Unix time at which each line started to arrive.
    pub line_times: Vec<f64>,
}

impl TextChunk {
    /// Accounting size used by the update buffer (§11.2).
    pub fn accounted_size(&self) -> usize {
        self.text.chars().count() + 8 * (self.newline_offsets.len() + self.line_times.len())
    }

    fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::from(self.text.as_str()),
            Value::Array(
                self.newline_offsets
                    .iter()
                    .map(|o| Value::from(*o))
                    .collect(),
            ),
            Value::Array(self.line_times.iter().map(|t| Value::F64(*t)).collect()),
        ])
    }

    fn from_value(v: &Value) -> Option<TextChunk> {
        match v {
            Value::String(s) => Some(TextChunk {
                text: s.as_str()?.to_string(),
                ..TextChunk::default()
            }),
            Value::Array(items) => {
                let text = items.first()?.as_str()?.to_string();
                let newline_offsets = match items.get(1) {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).collect(),
                    _ => Vec::new(),
                };
                let line_times = match items.get(2) {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
                    _ => Vec::new(),
                };
                Some(TextChunk {
                    text,
                    newline_offsets,
                    line_times,
                })
            }
            _ => None,
        }
    }
}

/// One `[key, value]` pair of an `update` (§4.1).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateEntry {
    /// Standard output text.
    Stdout(TextChunk),
    /// Standard error text.
    Stderr(TextChunk),
    /// Header text (worker-generated information).
    Header(TextChunk),
    /// Text of a watched logfile.
    Log {
        /// Name of the log.
        name: String,
        /// The text.
        chunk: TextChunk,
    },
    /// Exit status.
    Rc(i64),
    /// Run time in seconds.
    Elapsed(f64),
    /// `timeout_without_output`, `timeout` or `max_lines_failure`.
    FailureReason(String),
    /// Result of `listdir` / `glob`.
    Files(Vec<String>),
    /// Result of `stat`: ten integers.
    Stat(Vec<i64>),
    /// Any other key (kept as is).
    Other {
        /// The key.
        key: String,
        /// The value.
        value: Value,
    },
}

impl UpdateEntry {
    /// The key of the pair.
    pub fn key(&self) -> &str {
        match self {
            UpdateEntry::Stdout(_) => "stdout",
            UpdateEntry::Stderr(_) => "stderr",
            UpdateEntry::Header(_) => "header",
            UpdateEntry::Log { .. } => "log",
            UpdateEntry::Rc(_) => "rc",
            UpdateEntry::Elapsed(_) => "elapsed",
            UpdateEntry::FailureReason(_) => "failure_reason",
            UpdateEntry::Files(_) => "files",
            UpdateEntry::Stat(_) => "stat",
            UpdateEntry::Other { key, .. } => key,
        }
    }

    /// The value as a msgpack value.
    pub fn value(&self) -> Value {
        match self {
            UpdateEntry::Stdout(c) | UpdateEntry::Stderr(c) | UpdateEntry::Header(c) => {
                c.to_value()
            }
            UpdateEntry::Log { name, chunk } => {
                Value::Array(vec![Value::from(name.as_str()), chunk.to_value()])
            }
            UpdateEntry::Rc(rc) => Value::from(*rc),
            UpdateEntry::Elapsed(e) => Value::F64(*e),
            UpdateEntry::FailureReason(r) => Value::from(r.as_str()),
            UpdateEntry::Files(f) => {
                Value::Array(f.iter().map(|s| Value::from(s.as_str())).collect())
            }
            UpdateEntry::Stat(s) => Value::Array(s.iter().map(|n| Value::from(*n)).collect()),
            UpdateEntry::Other { value, .. } => value.clone(),
        }
    }

    /// Builds an entry from a key and a value, keeping unknown or malformed pairs as
    /// [`UpdateEntry::Other`].
    pub fn from_pair(key: &str, value: &Value) -> UpdateEntry {
        let typed = match key {
            "stdout" => TextChunk::from_value(value).map(UpdateEntry::Stdout),
            "stderr" => TextChunk::from_value(value).map(UpdateEntry::Stderr),
            "header" => TextChunk::from_value(value).map(UpdateEntry::Header),
            "log" => match value {
                Value::Array(a) if a.len() == 2 => a[0].as_str().and_then(|name| {
                    TextChunk::from_value(&a[1]).map(|chunk| UpdateEntry::Log {
                        name: name.to_string(),
                        chunk,
                    })
                }),
                _ => None,
            },
            "rc" => value.as_i64().map(UpdateEntry::Rc),
            "elapsed" => value.as_f64().map(UpdateEntry::Elapsed),
            "failure_reason" => value
                .as_str()
                .map(|s| UpdateEntry::FailureReason(s.to_string())),
            "files" => match value {
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .map(UpdateEntry::Files),
                _ => None,
            },
            "stat" => match value {
                Value::Array(a) => a
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<_>>>()
                    .map(UpdateEntry::Stat),
                _ => None,
            },
            _ => None,
        };
        typed.unwrap_or_else(|| UpdateEntry::Other {
            key: key.to_string(),
            value: value.clone(),
        })
    }

    /// Accounting size used by the update buffer (§11.2): text length plus 8 per offset and
    /// time for text entries, 20 for anything else.
    pub fn accounted_size(&self) -> usize {
        match self {
            UpdateEntry::Stdout(c) | UpdateEntry::Stderr(c) | UpdateEntry::Header(c) => {
                c.accounted_size()
            }
            UpdateEntry::Log { chunk, .. } => chunk.accounted_size(),
            _ => 20,
        }
    }
}

/// Every operation of the protocol, in both directions (§3, §4), plus our extensions.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// M→W: log a message (`print`).
    Print {
        /// The text.
        message: String,
    },
    /// Liveness probe (M→W always; W→M only with the `keepalive` extension).
    Keepalive,
    /// M→W: ask for the worker information map (§7).
    GetWorkerInfo,
    /// M→W: output settings (§8).
    SetWorkerSettings {
        /// The four settings.
        args: WorkerSettings,
    },
    /// M→W: start a remote command.
    StartCommand {
        /// Builder name (absent for set-up commands).
        builder_name: Option<String>,
        /// Opaque command id.
        command_id: String,
        /// Command name (§10).
        command_name: String,
        /// Command arguments, in wire order.
        args: Vec<(String, Value)>,
    },
    /// M→W: interrupt a running command.
    InterruptCommand {
        /// Builder name (sent by Python, ignored).
        builder_name: Option<String>,
        /// Command id.
        command_id: String,
        /// Reason text.
        why: String,
    },
    /// M→W: stop the worker.
    Shutdown,
    /// W→M (extension `shutdown-request`): the worker asks for a graceful shutdown.
    ShutdownRequest,
    /// W→M: command output/status.
    Update {
        /// Command id.
        command_id: String,
        /// The `[key, value]` pairs.
        args: Vec<UpdateEntry>,
    },
    /// W→M: command finished; `failure` is the failure text (nil on success).
    Complete {
        /// Command id.
        command_id: String,
        /// `None` on success.
        failure: Option<String>,
    },
    /// W→M: one block of an uploaded file.
    UploadFileWrite {
        /// Command id.
        command_id: String,
        /// The bytes (msgpack bin).
        data: Vec<u8>,
    },
    /// W→M: uploaded file complete.
    UploadFileClose {
        /// Command id.
        command_id: String,
    },
    /// W→M: times of the uploaded file (`keepstamp`).
    UploadFileUtime {
        /// Command id.
        command_id: String,
        /// Access time (Unix seconds).
        access_time: f64,
        /// Modification time (Unix seconds).
        modified_time: f64,
    },
    /// W→M: one block of a directory archive.
    UploadDirectoryWrite {
        /// Command id.
        command_id: String,
        /// The bytes (msgpack bin).
        data: Vec<u8>,
    },
    /// W→M: archive complete, unpack it.
    UploadDirectoryUnpack {
        /// Command id.
        command_id: String,
    },
    /// W→M: ask for up to `length` bytes of a downloaded file.
    ReadFile {
        /// Command id.
        command_id: String,
        /// Maximum number of bytes wanted.
        length: u64,
    },
    /// W→M: download finished.
    ReadFileClose {
        /// Command id.
        command_id: String,
    },
    /// An operation this crate does not know, with its raw fields.
    Unknown {
        /// The operation name.
        op: String,
        /// All other fields except `seq_number`.
        fields: Vec<(String, Value)>,
    },
}

impl Op {
    /// The wire name of the operation.
    pub fn name(&self) -> &str {
        match self {
            Op::Print { .. } => "print",
            Op::Keepalive => "keepalive",
            Op::GetWorkerInfo => "get_worker_info",
            Op::SetWorkerSettings { .. } => "set_worker_settings",
            Op::StartCommand { .. } => "start_command",
            Op::InterruptCommand { .. } => "interrupt_command",
            Op::Shutdown => "shutdown",
            Op::ShutdownRequest => "shutdown_request",
            Op::Update { .. } => "update",
            Op::Complete { .. } => "complete",
            Op::UploadFileWrite { .. } => "update_upload_file_write",
            Op::UploadFileClose { .. } => "update_upload_file_close",
            Op::UploadFileUtime { .. } => "update_upload_file_utime",
            Op::UploadDirectoryWrite { .. } => "update_upload_directory_write",
            Op::UploadDirectoryUnpack { .. } => "update_upload_directory_unpack",
            Op::ReadFile { .. } => "update_read_file",
            Op::ReadFileClose { .. } => "update_read_file_close",
            Op::Unknown { op, .. } => op,
        }
    }

    /// The op-specific fields in Python's key order (without `op` and `seq_number`).
    fn fields(&self) -> Vec<(String, Value)> {
        fn s(v: &str) -> Value {
            Value::from(v)
        }
        let kv = |k: &str, v: Value| (k.to_string(), v);
        match self {
            Op::Print { message } => vec![kv("message", s(message))],
            Op::Keepalive | Op::GetWorkerInfo | Op::Shutdown | Op::ShutdownRequest => vec![],
            Op::SetWorkerSettings { args } => {
                let timeout =
                    if args.buffer_timeout.fract() == 0.0 && args.buffer_timeout.abs() < 1e15 {
                        Value::from(args.buffer_timeout as i64)
                    } else {
                        Value::F64(args.buffer_timeout)
                    };
                vec![kv(
                    "args",
                    Value::Map(vec![
                        (s("newline_re"), s(&args.newline_re)),
                        (s("max_line_length"), Value::from(args.max_line_length)),
                        (s("buffer_timeout"), timeout),
                        (s("buffer_size"), Value::from(args.buffer_size)),
                    ]),
                )]
            }
            Op::StartCommand {
                builder_name,
                command_id,
                command_name,
                args,
            } => {
                let mut f = Vec::new();
                if let Some(b) = builder_name {
                    f.push(kv("builder_name", s(b)));
                }
                f.push(kv("command_id", s(command_id)));
                f.push(kv("command_name", s(command_name)));
                f.push(kv(
                    "args",
                    Value::Map(args.iter().map(|(k, v)| (s(k), v.clone())).collect()),
                ));
                f
            }
            Op::InterruptCommand {
                builder_name,
                command_id,
                why,
            } => {
                let mut f = Vec::new();
                if let Some(b) = builder_name {
                    f.push(kv("builder_name", s(b)));
                }
                f.push(kv("command_id", s(command_id)));
                f.push(kv("why", s(why)));
                f
            }
            Op::Update { command_id, args } => vec![
                kv(
                    "args",
                    Value::Array(
                        args.iter()
                            .map(|e| Value::Array(vec![s(e.key()), e.value()]))
                            .collect(),
                    ),
                ),
                kv("command_id", s(command_id)),
            ],
            Op::Complete {
                command_id,
                failure,
            } => vec![
                kv(
                    "args",
                    match failure {
                        Some(f) => s(f),
                        None => Value::Nil,
                    },
                ),
                kv("command_id", s(command_id)),
            ],
            Op::UploadFileWrite { command_id, data }
            | Op::UploadDirectoryWrite { command_id, data } => vec![
                kv("args", Value::Binary(data.clone())),
                kv("command_id", s(command_id)),
            ],
            Op::UploadFileClose { command_id }
            | Op::UploadDirectoryUnpack { command_id }
            | Op::ReadFileClose { command_id } => vec![kv("command_id", s(command_id))],
            Op::UploadFileUtime {
                command_id,
                access_time,
                modified_time,
            } => vec![
                kv("access_time", Value::F64(*access_time)),
                kv("modified_time", Value::F64(*modified_time)),
                kv("command_id", s(command_id)),
            ],
            Op::ReadFile { command_id, length } => vec![
                kv("length", Value::from(*length)),
                kv("command_id", s(command_id)),
            ],
            Op::Unknown { fields, .. } => fields.clone(),
        }
    }
}

/// What a received payload turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A request whose arguments were decoded (or whose decoding error text is ready to be
    /// sent back as an `is_exception` response).
    Request {
        /// Sender's sequence number.
        seq_number: u64,
        /// Name of the operation.
        op_name: String,
        /// The decoded operation, or the exact Python error text for missing keys.
        op: Result<Op, String>,
    },
    /// A response.
    Response(Response),
    /// Something to ignore (map without `op`/`seq_number`, an array, a string); the reason
    /// is meant for a log line.
    Ignored(String),
}

fn missing(key: &str) -> String {
    format!("'message did not contain obligatory \"{key}\" key'")
}

struct Fields<'a> {
    map: &'a [(Value, Value)],
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
    fn require(&self, key: &str) -> Result<&'a Value, String> {
        self.get(key).ok_or_else(|| missing(key))
    }
    fn string(&self, key: &str) -> Result<String, String> {
        value_to_string(self.require(key)?).ok_or_else(|| format!("'{key}' must be a string"))
    }
    fn opt_string(&self, key: &str) -> Option<String> {
        self.get(key).and_then(value_to_string)
    }
    fn bytes(&self, key: &str) -> Result<Vec<u8>, String> {
        match self.require(key)? {
            Value::Binary(b) => Ok(b.clone()),
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(format!("'{key}' must be bytes")),
        }
    }
}

/// Converts a str (or a number, as Python would use it as a dict key) into a string.
fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.as_str().map(str::to_string),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn check_value(v: &Value) -> Result<(), ProtocolError> {
    match v {
        Value::String(s) if s.as_str().is_none() => Err(ProtocolError::InvalidUtf8),
        Value::Array(a) => a.iter().try_for_each(check_value),
        Value::Map(m) => m.iter().try_for_each(|(k, x)| {
            if !k.is_str() {
                return Err(if matches!(k, Value::String(_)) {
                    ProtocolError::InvalidUtf8
                } else {
                    ProtocolError::NonStringKey
                });
            }
            check_value(x)
        }),
        _ => Ok(()),
    }
}

/// Decodes one payload into a generic value, applying the Python decoder's rules (valid
/// UTF-8 strings, string map keys, exactly one object).
pub fn decode_value(payload: &[u8]) -> Result<Value, ProtocolError> {
    let mut rd = payload;
    let value = rmpv::decode::read_value_with_max_depth(&mut rd, MAX_DEPTH)
        .map_err(ProtocolError::InvalidMsgpack)?;
    if !rd.is_empty() {
        return Err(ProtocolError::TrailingBytes(rd.len()));
    }
    check_value(&value)?;
    Ok(value)
}

/// Decodes one received payload.
///
/// `Err` means the connection must be dropped (as the Python programs do); `Ok(Ignored)`
/// means "log and carry on".
pub fn decode(payload: &[u8]) -> Result<Incoming, ProtocolError> {
    let value = decode_value(payload)?;
    let map = match &value {
        Value::Map(m) => m,
        Value::Array(_) => {
            return Ok(Incoming::Ignored(format!(
                "received an array instead of a map: {}",
                crate::util::log_preview(&value)
            )));
        }
        Value::String(_) => {
            return Ok(Incoming::Ignored(format!(
                "received a string instead of a map: {}",
                crate::util::log_preview(&value)
            )));
        }
        other => {
            return Err(ProtocolError::UnexpectedValue(crate::util::log_preview(
                other,
            )));
        }
    };
    let f = Fields { map };
    let Some(op_name) = f.get("op").and_then(value_to_string) else {
        return Ok(Incoming::Ignored(format!(
            "message without \"op\" ignored: {}",
            crate::util::log_preview(&value)
        )));
    };
    let Some(seq_number) = f.get("seq_number").and_then(Value::as_u64) else {
        return Ok(Incoming::Ignored(format!(
            "message without \"seq_number\" ignored: {}",
            crate::util::log_preview(&value)
        )));
    };
    if op_name == "response" {
        return Ok(Incoming::Response(Response {
            seq_number,
            result: f.get("result").cloned().unwrap_or(Value::Nil),
            is_exception: f.get("is_exception").is_some(),
        }));
    }
    let op = decode_op(&op_name, &f);
    Ok(Incoming::Request {
        seq_number,
        op_name,
        op,
    })
}

fn decode_op(op_name: &str, f: &Fields<'_>) -> Result<Op, String> {
    Ok(match op_name {
        "print" => Op::Print {
            message: match f.require("message")? {
                Value::String(s) => s.as_str().unwrap_or_default().to_string(),
                other => other.to_string(),
            },
        },
        "keepalive" => Op::Keepalive,
        "get_worker_info" => Op::GetWorkerInfo,
        "shutdown" => Op::Shutdown,
        "shutdown_request" => Op::ShutdownRequest,
        "set_worker_settings" => {
            let args = f.require("args")?;
            let bad = || "'message did not contain obligatory settings for worker'".to_string();
            let Value::Map(m) = args else {
                return Err(bad());
            };
            let a = Fields { map: m };
            let (Some(bs), Some(bt), Some(nr), Some(ml)) = (
                a.get("buffer_size"),
                a.get("buffer_timeout"),
                a.get("newline_re"),
                a.get("max_line_length"),
            ) else {
                return Err(bad());
            };
            Op::SetWorkerSettings {
                args: WorkerSettings {
                    buffer_size: bs.as_u64().ok_or_else(bad)?,
                    buffer_timeout: bt.as_f64().ok_or_else(bad)?,
                    newline_re: nr.as_str().ok_or_else(bad)?.to_string(),
                    max_line_length: ml.as_u64().ok_or_else(bad)?,
                },
            }
        }
        "start_command" => {
            let command_id = f.string("command_id")?;
            let command_name = f.string("command_name")?;
            let args = match f.require("args")? {
                Value::Map(m) => m
                    .iter()
                    .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v.clone())))
                    .collect(),
                Value::Nil => Vec::new(),
                _ => return Err("'args' must be a map".to_string()),
            };
            Op::StartCommand {
                builder_name: f.opt_string("builder_name"),
                command_id,
                command_name,
                args,
            }
        }
        "interrupt_command" => {
            let command_id = f.string("command_id")?;
            let why = match f.require("why")? {
                Value::String(s) => s.as_str().unwrap_or_default().to_string(),
                other => other.to_string(),
            };
            Op::InterruptCommand {
                builder_name: f.opt_string("builder_name"),
                command_id,
                why,
            }
        }
        "update" => {
            let command_id = f.string("command_id")?;
            let args = match f.require("args")? {
                Value::Array(a) => a
                    .iter()
                    .map(|pair| match pair {
                        Value::Array(kv) if kv.len() == 2 => match kv[0].as_str() {
                            Some(k) => Ok(UpdateEntry::from_pair(k, &kv[1])),
                            None => Err("update keys must be strings".to_string()),
                        },
                        _ => Err("update args must be [key, value] pairs".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err("update args must be a list".to_string()),
            };
            Op::Update { command_id, args }
        }
        "complete" => {
            let command_id = f.string("command_id")?;
            let failure = match f.require("args")? {
                Value::Nil => None,
                Value::String(s) => Some(s.as_str().unwrap_or_default().to_string()),
                other => Some(other.to_string()),
            };
            Op::Complete {
                command_id,
                failure,
            }
        }
        "update_upload_file_write" => Op::UploadFileWrite {
            command_id: f.string("command_id")?,
            data: f.bytes("args")?,
        },
        "update_upload_directory_write" => Op::UploadDirectoryWrite {
            command_id: f.string("command_id")?,
            data: f.bytes("args")?,
        },
        "update_upload_file_close" => Op::UploadFileClose {
            command_id: f.string("command_id")?,
        },
        "update_upload_directory_unpack" => Op::UploadDirectoryUnpack {
            command_id: f.string("command_id")?,
        },
        "update_read_file_close" => Op::ReadFileClose {
            command_id: f.string("command_id")?,
        },
        "update_upload_file_utime" => {
            let command_id = f.string("command_id")?;
            Op::UploadFileUtime {
                access_time: f
                    .require("access_time")?
                    .as_f64()
                    .ok_or("'access_time' must be a number")?,
                modified_time: f
                    .require("modified_time")?
                    .as_f64()
                    .ok_or("'modified_time' must be a number")?,
                command_id,
            }
        }
        "update_read_file" => {
            let command_id = f.string("command_id")?;
            Op::ReadFile {
                length: f
                    .require("length")?
                    .as_u64()
                    .ok_or("'length' must be an integer")?,
                command_id,
            }
        }
        other => Op::Unknown {
            op: other.to_string(),
            fields: f
                .map
                .iter()
                .filter_map(|(k, v)| {
                    let k = k.as_str()?;
                    (k != "op" && k != "seq_number").then(|| (k.to_string(), v.clone()))
                })
                .collect(),
        },
    })
}

fn write(value: &Value, op: &str) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).map_err(|source| ProtocolError::Encode {
        op: op.to_string(),
        source,
    })?;
    Ok(out)
}

/// Encodes a request in Python's key order (`op`, arguments, `seq_number`).
pub fn encode_request(seq_number: u64, op: &Op) -> Result<Vec<u8>, ProtocolError> {
    if let Op::Update { command_id, args } = op {
        return encode_update(seq_number, command_id, args);
    }
    let mut map = vec![(Value::from("op"), Value::from(op.name()))];
    map.extend(op.fields().into_iter().map(|(k, v)| (Value::from(k), v)));
    map.push((Value::from("seq_number"), Value::from(seq_number)));
    write(&Value::Map(map), op.name())
}

/// Minimal msgpack writers, byte for byte what `rmpv::encode::write_value` produces.
mod mp {
    pub(super) fn str(out: &mut Vec<u8>, s: &str) {
        let n = s.len();
        if n < 32 {
            out.push(0xa0 | n as u8);
        } else if n < 256 {
            out.extend_from_slice(&[0xd9, n as u8]);
        } else if n < 65536 {
            out.push(0xda);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(0xdb);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        out.extend_from_slice(s.as_bytes());
    }

    pub(super) fn array_len(out: &mut Vec<u8>, n: usize) {
        if n < 16 {
            out.push(0x90 | n as u8);
        } else if n < 65536 {
            out.push(0xdc);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(0xdd);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    pub(super) fn map_len(out: &mut Vec<u8>, n: usize) {
        if n < 16 {
            out.push(0x80 | n as u8);
        } else if n < 65536 {
            out.push(0xde);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(0xdf);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    pub(super) fn uint(out: &mut Vec<u8>, v: u64) {
        if v < 128 {
            out.push(v as u8);
        } else if v < 256 {
            out.extend_from_slice(&[0xcc, v as u8]);
        } else if v < 65536 {
            out.push(0xcd);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v < 1 << 32 {
            out.push(0xce);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub(super) fn f64(out: &mut Vec<u8>, v: f64) {
        out.push(0xcb);
        out.extend_from_slice(&v.to_bits().to_be_bytes());
    }
}

/// Writes `[text, newline_offsets, line_times]` like `TextChunk::to_value` + rmpv would.
fn write_chunk(out: &mut Vec<u8>, c: &TextChunk) {
    mp::array_len(out, 3);
    mp::str(out, &c.text);
    mp::array_len(out, c.newline_offsets.len());
    for &o in &c.newline_offsets {
        mp::uint(out, o);
    }
    mp::array_len(out, c.line_times.len());
    for &t in &c.line_times {
        mp::f64(out, t);
    }
}

/// [`encode_request`] for `update`, the bulk of the traffic: written directly instead of
/// through a `Value` tree (same bytes; see the `update_fast_path_is_byte_exact` test).
fn encode_update(
    seq_number: u64,
    command_id: &str,
    args: &[UpdateEntry],
) -> Result<Vec<u8>, ProtocolError> {
    let text: usize = args
        .iter()
        .map(|e| match e {
            UpdateEntry::Stdout(c) | UpdateEntry::Stderr(c) | UpdateEntry::Header(c) => {
                c.text.len() + 9 * (c.newline_offsets.len() + c.line_times.len())
            }
            UpdateEntry::Log { chunk, name } => {
                name.len()
                    + chunk.text.len()
                    + 9 * (chunk.newline_offsets.len() + chunk.line_times.len())
            }
            _ => 16,
        })
        .sum();
    let mut out = Vec::with_capacity(text + 32 * args.len() + command_id.len() + 64);
    mp::map_len(&mut out, 4);
    mp::str(&mut out, "op");
    mp::str(&mut out, "update");
    mp::str(&mut out, "args");
    mp::array_len(&mut out, args.len());
    for e in args {
        mp::array_len(&mut out, 2);
        mp::str(&mut out, e.key());
        match e {
            UpdateEntry::Stdout(c) | UpdateEntry::Stderr(c) | UpdateEntry::Header(c) => {
                write_chunk(&mut out, c);
            }
            UpdateEntry::Log { name, chunk } => {
                mp::array_len(&mut out, 2);
                mp::str(&mut out, name);
                write_chunk(&mut out, chunk);
            }
            other => {
                rmpv::encode::write_value(&mut out, &other.value()).map_err(|source| {
                    ProtocolError::Encode {
                        op: "update".to_string(),
                        source,
                    }
                })?;
            }
        }
    }
    mp::str(&mut out, "command_id");
    mp::str(&mut out, command_id);
    mp::str(&mut out, "seq_number");
    mp::uint(&mut out, seq_number);
    Ok(out)
}

/// Encodes a response (`op, seq_number, result[, is_exception]`).
pub fn encode_response(response: &Response) -> Result<Vec<u8>, ProtocolError> {
    let mut map = vec![
        (Value::from("op"), Value::from("response")),
        (Value::from("seq_number"), Value::from(response.seq_number)),
        (Value::from("result"), response.result.clone()),
    ];
    if response.is_exception {
        map.push((Value::from("is_exception"), Value::Boolean(true)));
    }
    write(&Value::Map(map), "response")
}

/// Encodes any message.
pub fn encode(message: &Message) -> Result<Vec<u8>, ProtocolError> {
    match message {
        Message::Request(r) => encode_request(r.seq_number, &r.op),
        Message::Response(r) => encode_response(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn response_bytes() {
        let r = Response {
            seq_number: 31,
            result: Value::Nil,
            is_exception: false,
        };
        assert_eq!(
            hex(&encode_response(&r).unwrap()),
            "83a26f70a8726573706f6e7365aa7365715f6e756d6265721fa6726573756c74c0"
        );
    }

    /// The generic (`Value` tree) encoding of an `update`, to compare the fast path with.
    fn update_via_value(seq_number: u64, op: &Op) -> Vec<u8> {
        let mut map = vec![(Value::from("op"), Value::from(op.name()))];
        map.extend(op.fields().into_iter().map(|(k, v)| (Value::from(k), v)));
        map.push((Value::from("seq_number"), Value::from(seq_number)));
        write(&Value::Map(map), op.name()).unwrap()
    }

    #[test]
    fn update_fast_path_is_byte_exact() {
        let chunk = |text: String, n: usize| TextChunk {
            text,
            newline_offsets: (0..n as u64).map(|i| i * i * 977).collect(),
            line_times: (0..n).map(|i| 1.7e9 + i as f64 * 0.25).collect(),
        };
        let sizes = [0usize, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000];
        for (i, &len) in sizes.iter().enumerate() {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let lines = [0usize, 1, 15, 16, 300, 70000][i % 6];
            let args = vec![
                UpdateEntry::Header(chunk("h\n".into(), 1)),
                UpdateEntry::Stdout(chunk(text.clone(), lines)),
                UpdateEntry::Stderr(chunk(text.clone(), 3)),
                UpdateEntry::Log {
                    name: "x".repeat(len.min(300)),
                    chunk: chunk(text, 2),
                },
                UpdateEntry::Rc(-3),
                UpdateEntry::Rc(1 << 40),
                UpdateEntry::Elapsed(0.5),
                UpdateEntry::FailureReason("timeout".into()),
                UpdateEntry::Other {
                    key: "k".into(),
                    value: Value::Map(vec![(Value::from("a"), Value::from(-200))]),
                },
            ];
            for n in [0, 1, 2, 9, 17] {
                let op = Op::Update {
                    command_id: "c".repeat(len.min(40)),
                    args: args[..n.min(args.len())].to_vec(),
                };
                for seq in [0u64, 127, 128, 255, 256, 65535, 65536, 1 << 32, u64::MAX] {
                    assert_eq!(
                        encode_request(seq, &op).unwrap(),
                        update_via_value(seq, &op),
                        "len {len} entries {n} seq {seq}"
                    );
                }
            }
        }
    }

    #[test]
    fn missing_message_key() {
        let payload = encode_request(
            4,
            &Op::Unknown {
                op: "print".into(),
                fields: vec![],
            },
        )
        .unwrap();
        match decode(&payload).unwrap() {
            Incoming::Request { op, .. } => assert_eq!(
                op.unwrap_err(),
                "'message did not contain obligatory \"message\" key'"
            ),
            other => panic!("{other:?}"),
        }
    }
}
