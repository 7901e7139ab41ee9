//! The `buildbot` binary, free ports, the F1 fixture config, HTTP calls; temp dirs,
//! daemons killed on drop and the rest come from the shared `cli_harness`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::cli_harness::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_buildbot");

/// Runs `buildbot ARGS` with extra env vars, bounded by 60 s.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    run_bin(Path::new(BIN), args, env)
}

/// Runs the `buildbot` program at `bin` (a copy, say) with `args` and extra env vars,
/// bounded by 60 s.
pub fn run_bin(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    run_program("buildbot", bin, args, env, Duration::from_secs(60))
}

pub fn run(args: &[&str]) -> Out {
    run_env(args, &[])
}

impl Scratch {
    /// A temp dir holding master directories; on drop every master started in one is
    /// killed (only a process that runs in that directory: one of ours).
    pub fn new() -> Self {
        Scratch::killing(|pid, dir| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
        })
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
/// A free port on 127.0.0.1, never one this test process handed out before (the kernel may
/// hand a just-closed port out again: a master's web and worker ports must differ).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
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

/// `GET path` on 127.0.0.1:`port`: (status, JSON body or `Null`).
pub fn http_get(port: u16, path: &str) -> (u16, serde_json::Value) {
    use std::io::Write;
    let Ok(mut st) = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(2),
    ) else {
        return (0, serde_json::Value::Null);
    };
    st.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        st,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    let _ = st.read_to_string(&mut resp);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, serde_json::from_str(body).unwrap_or_default())
}

/// Names of the builders `GET /api/v2/builders` lists (active or not).
pub fn api_builders(web: u16) -> Vec<String> {
    let (code, v) = http_get(web, "/api/v2/builders");
    assert_eq!(code, 200, "{v}");
    let mut names: Vec<String> = v["builders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The `[www] port` of `dir/master.cfg`.
pub fn web_port(dir: &Path) -> u16 {
    let v: toml::Value = read(&dir.join("master.cfg")).parse().unwrap();
    v["www"]["port"].as_integer().unwrap() as u16
}

/// POST a JSON body to 127.0.0.1:`port` `path`: (status, JSON body).
pub fn http_post(port: u16, path: &str, body: &str) -> (u16, serde_json::Value) {
    use std::io::Write;
    let mut st = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(2),
    )
    .unwrap();
    st.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        st,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    let _ = st.read_to_string(&mut resp);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, serde_json::from_str(body).unwrap_or_default())
}
