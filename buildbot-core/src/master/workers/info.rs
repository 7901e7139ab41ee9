//! The `get_worker_info` map (§7) as a typed value.

use std::collections::BTreeMap;

use crate::protocol::Value;

use super::paths::PathFlavour;

/// What a worker reported about itself at attach time (`get_worker_info`, §7).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// Contents of `info/admin` (with its trailing newline), if present.
    pub admin: Option<String>,
    /// Contents of `info/host`, if present.
    pub host: Option<String>,
    /// Contents of `info/access_uri`, if present.
    pub access_uri: Option<String>,
    /// Worker software version (`"4.3.0"` for buildbot-worker 4.3.0).
    pub version: Option<String>,
    /// Absolute base directory of the worker (required).
    pub basedir: String,
    /// Python `os.name` of the worker (`"posix"` or `"nt"`).
    pub system: Option<String>,
    /// Number of CPUs.
    pub numcpus: Option<i64>,
    /// The worker process environment.
    pub environ: BTreeMap<String, String>,
    /// Supported command names → command protocol version.
    pub worker_commands: BTreeMap<String, String>,
    /// Whether the master should delete unknown directories in the base directory (§5.2).
    pub delete_leftover_dirs: bool,
    /// Every other string-valued key (other `info/` files, `os_*` keys, ...).
    pub other: BTreeMap<String, String>,
    /// The map exactly as received.
    pub raw: Vec<(String, Value)>,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::Boolean(b) => *b,
        Value::Integer(i) => i.as_i64() != Some(0),
        Value::F32(f) => *f != 0.0,
        Value::F64(f) => *f != 0.0,
        Value::String(s) => !s.as_bytes().is_empty(),
        Value::Binary(b) => !b.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Map(m) => !m.is_empty(),
        Value::Ext(..) => true,
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    match v {
        Value::Map(m) => m
            .iter()
            .filter_map(|(k, v)| {
                let k = k.as_str()?.to_string();
                let v = match v {
                    Value::String(s) => s.as_str()?.to_string(),
                    other => other.to_string(),
                };
                Some((k, v))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

impl WorkerInfo {
    /// Parses the result of `get_worker_info`. Fails when it is not a map or lacks
    /// `basedir`.
    pub fn from_value(value: &Value) -> Result<WorkerInfo, String> {
        let Value::Map(map) = value else {
            return Err(format!("get_worker_info returned {value} instead of a map"));
        };
        let mut info = WorkerInfo::default();
        let mut basedir = None;
        for (k, v) in map {
            let Some(key) = k.as_str() else { continue };
            info.raw.push((key.to_string(), v.clone()));
            let text = v.as_str().map(str::to_string);
            match key {
                "admin" => info.admin = text,
                "host" => info.host = text,
                "access_uri" => info.access_uri = text,
                "version" => info.version = text,
                "basedir" => basedir = text,
                "system" => info.system = text,
                "numcpus" => info.numcpus = v.as_i64(),
                "environ" => info.environ = str_map(v),
                "worker_commands" => info.worker_commands = str_map(v),
                "delete_leftover_dirs" => info.delete_leftover_dirs = truthy(v),
                _ => {
                    if let Some(t) = text {
                        info.other.insert(key.to_string(), t);
                    }
                }
            }
        }
        info.basedir = basedir.ok_or("the worker info lacks \"basedir\"")?;
        Ok(info)
    }

    /// The worker's path flavour (from `system`).
    pub fn path_flavour(&self) -> PathFlavour {
        PathFlavour::from_system(self.system.as_deref())
    }

    /// The command-protocol version the worker advertises for `command`, if any.
    pub fn command_version(&self, command: &str) -> Option<&str> {
        self.worker_commands.get(command).map(String::as_str)
    }
}
