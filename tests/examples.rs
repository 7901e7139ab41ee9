//! The embedding examples of `examples/`, run as a user runs them (`cargo run --example …`):
//! each starts a master through the public API, runs a build on a local slave over a real
//! socket and prints what the database recorded. `cargo test` builds the example programs
//! next to this test's own binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/<name>`, built by `cargo test` alongside this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

/// Runs an example to its end (at most two minutes): its standard output.
fn run(name: &str) -> String {
    let path = example(name);
    assert!(path.exists(), "{} was not built", path.display());
    let out_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = Command::new(&path)
        .stdout(out_file.reopen().expect("reopen"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn example");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(out_file.path()).expect("read output");
    assert!(status.success(), "{name} failed ({status}):\n{out}");
    out
}

#[test]
fn hello_master_runs_a_build_and_prints_its_log() {
    let out = run("hello_master");
    assert!(out.contains("listening for workers on 127.0.0.1:"), "{out}");
    // the stdio log of the `greet` step, read back from the database: stdout lines carry
    // the `o` stream prefix, the exit status is a header (`h`) line
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"oHello, World!"), "{out}");
    assert!(lines.contains(&"oLinux"), "{out}");
    assert!(
        lines.contains(&"hprogram finished with exit code 0"),
        "{out}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("build #1: build successful (success)"),
        "{out}"
    );
}

#[test]
fn custom_step_example_runs_its_registered_step() {
    let out = run("custom_step");
    assert!(out.contains("greeting property: Some("), "{out}");
    assert!(out.contains("hello world"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("build #1: ")), "{out}");
}
