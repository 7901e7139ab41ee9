//! The `get_worker_info` result (§7).

use rmpv::Value;

use super::Shared;
use super::commands::worker_environ;
use super::commands::{COMMAND_VERSION, WORKER_COMMANDS};

fn s(v: &str) -> Value {
    Value::from(v)
}

/// Parses `/etc/os-release` text into `os_*` pairs; `Err` carries Python's error text.
pub(crate) fn parse_os_release(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err("not enough values to unpack (expected 2, got 1)".to_string());
        };
        let value = value.trim_matches('"');
        if value.is_empty() {
            continue;
        }
        out.push((format!("os_{}", key.to_lowercase()), value.to_string()));
    }
    Ok(out)
}

/// Collects the information map; files in `info/` are re-read on every call.
pub(crate) fn collect(shared: &Shared) -> Result<Value, String> {
    let config = &shared.config;
    let mut map: Vec<(Value, Value)> = Vec::new();
    let info_dir = config.basedir.join("info");
    if let Ok(rd) = std::fs::read_dir(&info_dir) {
        let mut names: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let path = info_dir.join(&name);
            // follows symlinks: a symlinked file counts as a file
            if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let key = name.to_string_lossy().into_owned();
            match std::fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => map.push((s(&key), s(&text))),
                    Err(_) => log::warn!("info file {} is not valid text; skipped", path.display()),
                },
                Err(e) => log::warn!("cannot read info file {}: {e}", path.display()),
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/os-release") {
        for (k, v) in parse_os_release(&text)? {
            map.push((s(&k), s(&v)));
        }
    }
    map.push((
        s("environ"),
        Value::Map(
            worker_environ()
                .into_iter()
                .map(|(k, v)| (s(&k), s(&v)))
                .collect(),
        ),
    ));
    map.push((s("system"), s("posix")));
    map.push((s("basedir"), s(&config.basedir.to_string_lossy())));
    let numcpus = config
        .numcpus
        .map(u64::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    map.push((s("numcpus"), Value::from(numcpus)));
    map.push((s("version"), s(env!("CARGO_PKG_VERSION"))));
    map.push((
        s("worker_commands"),
        Value::Map(
            WORKER_COMMANDS
                .iter()
                .map(|c| (s(c), s(COMMAND_VERSION)))
                .collect(),
        ),
    ));
    map.push((
        s("delete_leftover_dirs"),
        Value::Boolean(config.delete_leftover_dirs),
    ));
    Ok(Value::Map(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release() {
        let v = parse_os_release("ID=debian\nPRETTY_NAME=\"Debian 12\"\n# c\n\nEMPTY=\n").unwrap();
        assert_eq!(
            v,
            vec![
                ("os_id".to_string(), "debian".to_string()),
                ("os_pretty_name".to_string(), "Debian 12".to_string())
            ]
        );
        assert!(parse_os_release("garbage").is_err());
    }
}
