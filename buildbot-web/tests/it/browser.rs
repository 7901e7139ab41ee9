//! The pages in a real headless Chromium, driven through chromedriver's WebDriver HTTP API
//! (a tiny blocking client on `TcpStream`). Runs only with `BUILDBOT_TEST_CHROMIUM` set to
//! the browser binary (`BUILDBOT_TEST_CHROMEDRIVER` overrides `/usr/bin/chromedriver`).
//! Screenshots go to `BUILDBOT_SCREENSHOT_DIR`, else `<target>/screenshots/`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::within;
use super::pages::start;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver (and the browser it started) for one test; killed by pid on drop.
struct Driver {
    port: u16,
    session: String,
    child: Child,
    profile: tempfile::TempDir,
}

/// One HTTP/1.1 exchange with chromedriver: `(status, parsed body)`.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver keeps the connection open: read the head, then Content-Length bytes
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "chromedriver closed the connection early");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut payload = raw[split + 4..].to_vec();
    while payload.len() < len {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "chromedriver closed the connection early");
        payload.extend_from_slice(&buf[..n]);
    }
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let v = serde_json::from_slice(&payload).unwrap_or(Value::Null);
    (status, v)
}

fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

impl Driver {
    fn start(chromium: &str, chromedriver: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(chromedriver);
        if let Some(log) = std::env::var_os("BUILDBOT_CHROMEDRIVER_LOG") {
            let mut arg = std::ffi::OsString::from("--log-path=");
            arg.push(log);
            cmd.arg("--verbose").arg(arg);
        }
        let child = cmd
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut d = Driver {
            port,
            session: String::new(),
            child,
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let (s, v) = http(port, "GET", "/status", None);
                if s == 200 && v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver not ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", d.profile.path().display()),
        ];
        let (s, v) = http(
            port,
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            }}})),
        );
        assert_eq!(s, 200, "new session: {v}");
        d.session = v["value"]["sessionId"].as_str().unwrap().to_owned();
        d
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = http(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        assert_eq!(s, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_owned()
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn text(&self) -> String {
        self.js("return document.body.innerText;")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn screenshot(&self, dir: &std::path::Path, name: &str) -> PathBuf {
        let b64 = self.cmd("GET", "/screenshot", None);
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, b64decode(b64.as_str().unwrap())).unwrap();
        path
    }

    /// Polls until the page text contains `want`.
    fn wait_text(&self, want: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.text();
            if t.contains(want) {
                return t;
            }
            assert!(Instant::now() < deadline, "never saw {want:?}; page: {t}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(|| {
                http(
                    self.port,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    None,
                )
            });
        }
        // the browser processes are ours: they carry our profile directory
        let marker = self.profile.path().display().to_string();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&marker) {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = match std::env::var_os("BUILDBOT_SCREENSHOT_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("screenshots"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn pages_in_headless_chromium() {
    let Some(chromium) = std::env::var_os("BUILDBOT_TEST_CHROMIUM") else {
        eprintln!("SKIP: BUILDBOT_TEST_CHROMIUM is not set (path of a Chromium binary)");
        return;
    };
    let chromium = chromium.to_string_lossy().into_owned();
    let chromedriver = std::env::var("BUILDBOT_TEST_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    if !std::path::Path::new(&chromedriver).exists() {
        eprintln!("SKIP: chromedriver not found at {chromedriver}");
        return;
    }
    within(300, async move {
        let env = start().await;
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let base = format!("http://{}", server.addr());
        // one finished build to look at
        let (_, brids) = env
            .master
            .force(
                "force",
                buildbot_core::master::ForceRequest::new("tester", "browser test")
                    .builders(["good"]),
            )
            .await
            .unwrap();
        let b = env
            .master
            .wait_for_build_of(brids[0].1, Duration::from_secs(60))
            .await
            .unwrap();
        env.master
            .wait_for_build(b.buildid, Duration::from_secs(60))
            .await
            .unwrap();
        let dir = screenshot_dir();
        let master = env.master.clone();
        let shots = async_std::task::spawn_blocking(move || {
            let d = Driver::start(&chromium, &chromedriver);
            let mut shots = Vec::new();
            for (name, path, want) in [
                ("01-home", "/", "Recent builds"),
                ("02-builders", "/builders", "good"),
                ("03-builder", "/builders/good", "Build it now"),
                ("04-build", "/builders/good/builds/1", "hello-step"),
                ("06-grid", "/grid", "#1"),
                ("07-waterfall", "/waterfall", "#1"),
                ("08-workers", "/workers", "test host"),
                ("09-worker", "/workers/w1", "Graceful shutdown"),
                ("10-changes", "/changes", "Changes"),
                ("11-pending", "/pending", "Pending build requests"),
                ("12-masters", "/masters", "this master"),
                ("13-about", "/about", "ForceScheduler"),
                ("14-404", "/builders/nope", "404 Not Found"),
            ] {
                d.go(&format!("{base}{path}"));
                d.wait_text(want, 20);
                shots.push(d.screenshot(&dir, name));
            }
            // the log page of the finished build
            d.go(&format!("{base}/builders/good/builds/1"));
            d.click("table.steps td a");
            d.wait_text("line 3", 20);
            assert!(d.url().contains("/logs/"), "{}", d.url());
            shots.push(d.screenshot(&dir, "05-log"));

            // force from the form: fill, click, follow to the build page
            d.go(&format!("{base}/builders/lines"));
            d.type_into("input[name=greeting]", "from chromium");
            d.click("select[name=flavour] option[value=chocolate]");
            d.click("input[name=fast][type=checkbox]");
            d.type_into("input[name=reason]", "clicked in a browser");
            shots.push(d.screenshot(&dir, "15-force-form"));
            d.click("form.force button[type=submit]");
            let deadline = Instant::now() + Duration::from_secs(30);
            while !d.url().contains("/builds/") {
                assert!(
                    Instant::now() < deadline,
                    "not on a build page: {}",
                    d.url()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            let first = d.text();
            assert!(
                !first.contains("line 5"),
                "the build was over before the page loaded: {first}"
            );
            // lines appear without reloading: mark the document to prove it is the same one
            d.js("window.__bbSamePage = 1; return null;");
            d.wait_text("line 3", 30);
            shots.push(d.screenshot(&dir, "16-build-running"));
            let t = d.wait_text("line 5", 30);
            assert!(t.contains("line 1"), "{t}");
            // the log panel follows the end
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(
                d.js("var p = document.querySelector('#livelog pre'); \
                      return p.scrollTop + p.clientHeight >= p.scrollHeight - 10;"),
                json!(true)
            );
            let deadline = Instant::now() + Duration::from_secs(30);
            while d.js("return document.getElementById('build-result').textContent;")
                != json!("success")
            {
                assert!(Instant::now() < deadline, "result never became success");
                std::thread::sleep(Duration::from_millis(200));
            }
            assert_eq!(d.js("return window.__bbSamePage || 0;"), json!(1));
            let t = d.text();
            assert!(
                t.contains("from chromium") && t.contains("chocolate"),
                "{t}"
            );
            shots.push(d.screenshot(&dir, "17-build-done"));

            // pause the worker from its page
            d.go(&format!("{base}/workers/w1"));
            d.type_into("input[name=reason]", "browser pause");
            d.click("form[action$=pause] button");
            d.wait_text("browser pause", 20);
            shots.push(d.screenshot(&dir, "18-worker-paused"));
            d.click("form[action$=unpause] button");
            d.wait_text("Pause", 20);
            shots
        })
        .await;
        assert!(!master.connected_workers().is_empty());
        for s in &shots {
            assert!(
                std::fs::metadata(s).unwrap().len() > 1000,
                "{}",
                s.display()
            );
            eprintln!("screenshot: {}", s.display());
        }
        server.stop().await;
    });
}
