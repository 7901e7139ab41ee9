//! Interoperability with a real Python Buildbot 4.3 master (SKIP unless
//! `BUILDBOT_TEST_PYTHON_VENV` is set): the same builds run on our worker and on the real
//! `buildbot-worker`, and their results, step states and stdio logs are compared.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::harness::{TestWorker, init_log, test_config};

trait Blocking {
    type Output;
    fn await_blocking(self) -> Self::Output;
}

impl<F: std::future::Future> Blocking for F {
    type Output = F::Output;
    fn await_blocking(self) -> F::Output {
        async_std::task::block_on(self)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal blocking HTTP/1.0 client for the REST API on 127.0.0.1.
fn http(port: u16, method: &str, path: &str, body: Option<&Json>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn get(port: u16, path: &str) -> Json {
    let (status, body) = http(port, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn rpc(port: u16, path: &str, method: &str, params: Json) -> Json {
    let (status, body) = http(
        port,
        "POST",
        path,
        Some(&json!({"jsonrpc": "2.0", "method": method, "id": 1, "params": params})),
    );
    assert!(status == 200, "POST {path} {method}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Json::Null)
}

/// (name, results, state_string, contents of all its logs) of a step.
type StepInfo = (String, i64, String, String);

/// A Python master in a temp dir; stopped on drop.
struct PyMaster {
    venv: PathBuf,
    dir: tempfile::TempDir,
    www: u16,
    pb: u16,
}

impl PyMaster {
    fn basedir(&self) -> PathBuf {
        self.dir.path().join("master")
    }

    fn start(venv: &Path, workers: &[&str]) -> PyMaster {
        let dir = tempfile::tempdir().unwrap();
        let basedir = dir.path().join("master");
        let pb = free_port();
        let www = free_port();
        let out = Command::new(venv.join("bin/buildbot"))
            .args(["create-master", "-q"])
            .arg(&basedir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(basedir.join("payload.bin"), b"file payload\n").unwrap();
        let names: Vec<String> = workers.iter().map(|w| format!("{w:?}")).collect();
        let cfg = format!(
            r#"
from buildbot.plugins import steps, util, worker, schedulers
import os
c = BuildmasterConfig = {{}}
WORKERS = [{names}]
c['workers'] = [worker.Worker(n, "pass1") for n in WORKERS]
c['protocols'] = {{'msgpack_experimental_v7': {{'port': {pb}}}}}
c['www'] = dict(port={www}, plugins={{}})
c['db'] = {{'db_url': 'sqlite:///state.sqlite'}}
c['buildbotURL'] = 'http://127.0.0.1:{www}/'
c['title'] = 'interop'
BASE = os.path.abspath(os.path.dirname(__file__))

def main_factory(w):
    f = util.BuildFactory()
    f.addStep(steps.ShellCommand(name='echo', command=['echo', 'hello world']))
    f.addStep(steps.ShellCommand(name='stderr', logEnviron=False,
        command='echo to-stderr 1>&2; echo line1; printf "no-newline"'))
    f.addStep(steps.ShellCommand(name='env', logEnviron=False,
        command=['sh', '-c', 'echo "FOO=$FOO"; echo "P=$PYTHONPATH"'],
        env={{'FOO': 'bar', 'PYTHONPATH': ['/a', '/b']}}))
    f.addStep(steps.ShellCommand(name='stdin', logEnviron=False, command=['cat'],
        initialStdin='line via stdin\n'))
    f.addStep(steps.ShellCommand(name='pty', logEnviron=False, usePTY=True,
        command=['sh', '-c', 'test -t 1 && echo is-a-tty; echo crlf-check']))
    f.addStep(steps.ShellCommand(name='logfile', logEnviron=False,
        command=['sh', '-c', 'echo one > my.log; echo two >> my.log; echo out'],
        logfiles={{'mylog': 'my.log'}}))
    f.addStep(steps.StringDownload('payload\n', workerdest='dl.txt'))
    f.addStep(steps.FileDownload(mastersrc=os.path.join(BASE, 'payload.bin'),
        workerdest='sub/dl2.bin', mode=0o640))
    f.addStep(steps.ShellCommand(name='prepare', logEnviron=False,
        command=['sh', '-c', 'wc -c dl.txt sub/dl2.bin; printf "upload-content\\n" > up.txt; mkdir -p d/e; echo x > d/e/f.txt']))
    f.addStep(steps.FileUpload(workersrc='up.txt',
        masterdest=os.path.join(BASE, 'uploaded-%s.txt' % w)))
    f.addStep(steps.DirectoryUpload(workersrc='d',
        masterdest=os.path.join(BASE, 'dir-%s' % w)))
    f.addStep(steps.MakeDirectory(dir='build/newdir'))
    f.addStep(steps.RemoveDirectory(dir='build/newdir'))
    return f

def fail_factory():
    f = util.BuildFactory()
    f.addStep(steps.ShellCommand(name='fail', logEnviron=False,
        command=['sh', '-c', 'echo failing; exit 1']))
    return f

def timeout_factory():
    f = util.BuildFactory()
    f.addStep(steps.ShellCommand(name='sleep', logEnviron=False, command=['sleep', '30'], timeout=2))
    f.addStep(steps.ShellCommand(name='maxtime', logEnviron=False, command=['sleep', '30'],
        maxTime=2, sigtermTime=1, alwaysRun=True))
    return f

def stop_factory():
    f = util.BuildFactory()
    f.addStep(steps.ShellCommand(name='sleep', logEnviron=False, command=['sh', '-c', 'echo started; sleep 60']))
    return f

c['builders'] = []
for w in WORKERS:
    c['builders'] += [
        util.BuilderConfig(name='main-' + w, workernames=[w], factory=main_factory(w)),
        util.BuilderConfig(name='fail-' + w, workernames=[w], factory=fail_factory()),
        util.BuilderConfig(name='timeout-' + w, workernames=[w], factory=timeout_factory()),
        util.BuilderConfig(name='stop-' + w, workernames=[w], factory=stop_factory()),
    ]
c['schedulers'] = [schedulers.ForceScheduler(name='force',
    builderNames=[b.name for b in c['builders']])]
"#,
            names = names.join(", ")
        );
        std::fs::write(basedir.join("master.cfg"), cfg).unwrap();
        let master = PyMaster {
            venv: venv.to_path_buf(),
            dir,
            www,
            pb,
        };
        let out = Command::new(venv.join("bin/buildbot"))
            .arg("start")
            .arg(&basedir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "buildbot start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(basedir.join("twistd.log")).unwrap_or_default()
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", www)) {
                let _ = s.write_all(b"GET /api/v2/masters HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the Python master did not come up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        master
    }

    fn builderid(&self, name: &str) -> i64 {
        let r = get(self.www, &format!("/api/v2/builders?name={name}"));
        r["builders"][0]["builderid"].as_i64().unwrap()
    }

    fn force(&self, builder: &str) {
        let r = rpc(
            self.www,
            "/api/v2/forceschedulers/force",
            "force",
            json!({"builderNames": [builder]}),
        );
        assert!(r.get("error").is_none(), "force {builder}: {r}");
    }

    fn builds(&self, builderid: i64) -> Vec<Json> {
        get(self.www, &format!("/api/v2/builds?builderid={builderid}"))["builds"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn wait_build(&self, builder: &str, timeout: Duration) -> Json {
        let id = self.builderid(builder);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(b) = self.builds(id).into_iter().find(|b| b["complete"] == true) {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "build of {builder} did not finish"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// (name, results, state_string, stdio contents) of every step.
    fn steps(&self, buildid: i64) -> Vec<StepInfo> {
        let steps = get(self.www, &format!("/api/v2/builds/{buildid}/steps"));
        steps["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| {
                let number = st["number"].as_i64().unwrap();
                let logs = get(
                    self.www,
                    &format!("/api/v2/builds/{buildid}/steps/{number}/logs"),
                );
                let mut text = String::new();
                for l in logs["logs"].as_array().unwrap() {
                    let slug = l["slug"].as_str().unwrap();
                    let j = get(
                        self.www,
                        &format!("/api/v2/builds/{buildid}/steps/{number}/logs/{slug}/contents"),
                    );
                    text.push_str(&format!("== log {slug}\n"));
                    for c in j["logchunks"].as_array().unwrap() {
                        text.push_str(c["content"].as_str().unwrap_or(""));
                    }
                }
                let stdio = text;
                (
                    st["name"].as_str().unwrap().to_string(),
                    st["results"].as_i64().unwrap_or(-1),
                    st["state_string"].as_str().unwrap_or("").to_string(),
                    stdio,
                )
            })
            .collect()
    }
}

impl Drop for PyMaster {
    fn drop(&mut self) {
        let _ = Command::new(self.venv.join("bin/buildbot"))
            .arg("stop")
            .arg(self.basedir())
            .output();
        // belt and braces: the pid we started
        if let Ok(pid) = std::fs::read_to_string(self.basedir().join("twistd.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            // SAFETY: plain kill(2) of the master we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The real Python worker; stopped on drop.
struct PyWorker {
    venv: PathBuf,
    dir: PathBuf,
}

impl PyWorker {
    fn start(venv: &Path, base: &Path, port: u16, name: &str) -> PyWorker {
        let dir = base.join("pyworker");
        let out = Command::new(venv.join("bin/buildbot-worker"))
            .args(["create-worker", "--protocol", "msgpack_experimental_v7"])
            .arg(&dir)
            .arg(format!("127.0.0.1:{port}"))
            .args([name, "pass1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(venv.join("bin/buildbot-worker"))
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PyWorker {
            venv: venv.to_path_buf(),
            dir,
        }
    }
}

impl Drop for PyWorker {
    fn drop(&mut self) {
        let _ = Command::new(self.venv.join("bin/buildbot-worker"))
            .arg("stop")
            .arg(&self.dir)
            .output();
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("twistd.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            // SAFETY: plain kill(2) of the worker we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn names(text: &str, worker: &str) -> String {
    text.replace(&format!("-{worker}"), "-<W>")
        .replace(&format!("worker {worker} "), "worker <W> ")
}

/// Makes logs of two workers comparable: base directories, timings, environments.
fn normalize(log: &str, basedir: &Path, worker: &str) -> String {
    let base = basedir.to_string_lossy();
    let log = names(log, worker);
    let mut logs: Vec<Vec<String>> = Vec::new();
    let mut in_env = false;
    for line in log.lines() {
        let line = line.replace(base.as_ref(), "<BASEDIR>");
        if line.starts_with("== log ") || logs.is_empty() {
            logs.push(Vec::new());
        }
        let body = line.get(1..).unwrap_or("");
        if body.starts_with("elapsedTime=") {
            continue;
        }
        if body == " environment:" {
            in_env = true;
            continue;
        }
        if in_env && body.starts_with("  ") {
            continue;
        }
        in_env = false;
        if let Some(current) = logs.last_mut() {
            current.push(line);
        }
    }
    // stdout and stderr are read from two pipes: their interleaving is a race, so compare
    // each stream's lines in order (logs without stream prefixes are kept as they are)
    let mut out = Vec::new();
    for lines in logs {
        let (title, body) = lines.split_first().map_or((None, &lines[..]), |(t, b)| {
            if t.starts_with("== log ") {
                (Some(t.clone()), b)
            } else {
                (None, &lines[..])
            }
        });
        out.extend(title);
        let prefixed = body.iter().all(|l| l.starts_with(['h', 'o', 'e']));
        if prefixed {
            for prefix in ['h', 'o', 'e'] {
                out.extend(body.iter().filter(|l| l.starts_with(prefix)).cloned());
            }
        } else {
            out.extend(body.iter().cloned());
        }
    }
    out.join("\n")
}

const BUILDERS: [&str; 4] = ["main", "fail", "timeout", "stop"];

fn run_builds(master: &PyMaster, worker: &str) -> Vec<(String, i64, Vec<StepInfo>)> {
    // wait until the worker is connected
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ws = get(master.www, &format!("/api/v2/workers?name={worker}"));
        if ws["workers"][0]["connected_to"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        assert!(Instant::now() < deadline, "worker {worker} did not connect");
        std::thread::sleep(Duration::from_millis(250));
    }
    for b in BUILDERS {
        master.force(&format!("{b}-{worker}"));
    }
    // stop the `sleep 60` build once its step runs
    let stop_id = master.builderid(&format!("stop-{worker}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = master
            .builds(stop_id)
            .into_iter()
            .find(|b| b["complete"] == false);
        if let Some(b) = running {
            let buildid = b["buildid"].as_i64().unwrap();
            let steps = get(master.www, &format!("/api/v2/builds/{buildid}/steps"));
            let started = steps["steps"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|st| st["name"] == "sleep" && !st["started_at"].is_null())
            });
            if started {
                std::thread::sleep(Duration::from_millis(500));
                rpc(
                    master.www,
                    &format!("/api/v2/builds/{buildid}"),
                    "stop",
                    json!({"reason": "test"}),
                );
                break;
            }
        }
        assert!(Instant::now() < deadline, "stop build never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    BUILDERS
        .iter()
        .map(|b| {
            let build = master.wait_build(&format!("{b}-{worker}"), Duration::from_secs(90));
            let buildid = build["buildid"].as_i64().unwrap();
            (
                b.to_string(),
                build["results"].as_i64().unwrap(),
                master.steps(buildid),
            )
        })
        .collect()
}

#[test]
fn python_master_interop() {
    let Ok(venv) = std::env::var("BUILDBOT_TEST_PYTHON_VENV") else {
        eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
        return;
    };
    init_log();
    let started = Instant::now();
    let venv = PathBuf::from(venv);
    let master = PyMaster::start(&venv, &["w1", "pyw"]);
    eprintln!("python master up after {:?}", started.elapsed());

    // our worker, in-process
    let ours_dir = tempfile::tempdir().unwrap();
    let ours_base = ours_dir.path().join("worker");
    std::fs::create_dir_all(ours_base.join("info")).unwrap();
    std::fs::write(
        ours_base.join("info/admin"),
        "Rust Worker <rust@example.invalid>\n",
    )
    .unwrap();
    let ours = TestWorker::spawn(test_config(master.pb, &ours_base));
    // the real Python worker
    let py_dir = tempfile::tempdir().unwrap();
    let py = PyWorker::start(&venv, py_dir.path(), master.pb, "pyw");
    let py_base = py.dir.clone();

    // a wrong password is refused by the Python master (401) and retried, never fatal
    let bad_dir = tempfile::tempdir().unwrap();
    let mut bad_config = test_config(master.pb, bad_dir.path());
    bad_config.password = "wrong".into();
    let bad = TestWorker::spawn(bad_config);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut auth_failures = 0;
    while auth_failures < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no repeated auth failure");
        if let Ok(Ok(buildbot_core::SlaveEvent::AuthFailed(_))) =
            async_std::future::timeout(left, bad.events.recv()).await_blocking()
        {
            auth_failures += 1;
        }
    }
    drop(bad);

    eprintln!("wrong-password check done after {:?}", started.elapsed());
    let ours_results = run_builds(&master, "w1");
    eprintln!("builds on our worker done after {:?}", started.elapsed());
    // what the master recorded from get_worker_info
    let info = &get(master.www, "/api/v2/workers?name=w1")["workers"][0]["workerinfo"];
    assert_eq!(
        info["admin"], "Rust Worker <rust@example.invalid>\n",
        "{info}"
    );
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"), "{info}");
    let py_results = run_builds(&master, "pyw");
    eprintln!("interop builds done after {:?}", started.elapsed());

    let expected_results = [("main", 0), ("fail", 2), ("timeout", 2), ("stop", 6)];
    for ((name, res, steps), (pname, pres, psteps)) in ours_results.iter().zip(&py_results) {
        assert_eq!(name, pname);
        let want = expected_results.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(*pres, want, "python worker result of {name}: {psteps:#?}");
        assert_eq!(*res, want, "our result of {name}: {steps:#?}");
        assert_eq!(steps.len(), psteps.len(), "{name}");
        for (s, p) in steps.iter().zip(psteps) {
            assert_eq!(s.0, p.0, "step name in {name}");
            assert_eq!(s.1, p.1, "results of step {} in {name}", s.0);
            assert_eq!(
                names(&s.2, "w1"),
                names(&p.2, "pyw"),
                "state_string of step {} in {name}",
                s.0
            );
            assert_eq!(
                normalize(&s.3, &ours_base, "w1"),
                normalize(&p.3, &py_base, "pyw"),
                "stdio of step {} in {name}",
                s.0
            );
        }
    }
    // sanity: the logs were really fetched
    let main = &ours_results[0].2;
    let echo = main.iter().find(|s| s.0 == "echo").unwrap();
    assert!(echo.3.contains("ohello world\n"), "{}", echo.3);
    let env = main.iter().find(|s| s.0 == "env").unwrap();
    assert!(env.3.contains("oFOO=bar\noP=/a:/b:"), "{}", env.3);
    let pty = main.iter().find(|s| s.0 == "pty").unwrap();
    assert!(pty.3.contains("ois-a-tty\nocrlf-check\n"), "{}", pty.3);
    let logfile = main.iter().find(|s| s.0 == "logfile").unwrap();
    assert!(logfile.3.contains("== log mylog\n"), "{}", logfile.3);
    assert!(
        logfile.3.contains("one\n") && logfile.3.contains("two\n"),
        "{}",
        logfile.3
    );
    let stop = &ours_results[3].2;
    assert!(
        stop.iter().any(|s| s.3.contains("command interrupted")),
        "{stop:?}"
    );
    // the uploads arrived identically on the master
    let mb = master.basedir();
    assert_eq!(
        std::fs::read(mb.join("uploaded-w1.txt")).unwrap(),
        std::fs::read(mb.join("uploaded-pyw.txt")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(mb.join("dir-w1/e/f.txt")).unwrap(),
        std::fs::read_to_string(mb.join("dir-pyw/e/f.txt")).unwrap()
    );
    // the Python master's FileDownload bug: both workers got the same (empty) files
    let ours_dl = std::fs::read(ours_base.join("main-w1/build/sub/dl2.bin")).unwrap();
    let py_dl = std::fs::read(py_base.join("main-pyw/build/sub/dl2.bin")).unwrap();
    assert_eq!(ours_dl, py_dl);
    drop(py);
    drop(ours);
    drop(master);
    eprintln!("interop test took {:?}", started.elapsed());
}
