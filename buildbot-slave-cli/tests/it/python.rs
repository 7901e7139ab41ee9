//! Against an unmodified Python Buildbot 4.3 master (BUILDBOT_TEST_PYTHON_VENV).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// A Python master started in a temp dir; stopped (or killed) on drop.
struct PyMaster {
    venv: PathBuf,
    dir: PathBuf,
}

impl PyMaster {
    fn start(venv: &Path, dir: &Path, port: u16, command: &str, scheduler: &str) -> PyMaster {
        let bb = venv.join("bin/buildbot");
        let st = Command::new(&bb)
            .args(["create-master", "-q", s(dir)])
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::write(
            dir.join("master.cfg"),
            format!(
                r#"from buildbot.plugins import *
c = BuildmasterConfig = {{}}
c['workers'] = [worker.Worker("w1", "pw")]
c['protocols'] = {{'msgpack_experimental_v7': {{'port': {port}}}}}
c['builders'] = [util.BuilderConfig(name="b1", workernames=["w1"],
    factory=util.BuildFactory([steps.ShellCommand(command={command})]))]
c['schedulers'] = [{scheduler}]
c['buildbotNetUsageData'] = None
c['db'] = {{'db_url': "sqlite:///state.sqlite"}}
"#
            ),
        )
        .unwrap();
        let m = PyMaster {
            venv: venv.to_path_buf(),
            dir: dir.to_path_buf(),
        };
        let out = Command::new(&bb).args(["start", s(dir)]).output().unwrap();
        assert!(
            out.status.success(),
            "python master did not start: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            read(&dir.join("twistd.log"))
        );
        m
    }
}

impl Drop for PyMaster {
    fn drop(&mut self) {
        let _ = Command::new(self.venv.join("bin/buildbot"))
            .args(["stop", s(&self.dir)])
            .output();
        if let Some(pid) = pid_of(&self.dir) {
            signal(pid, libc::SIGKILL);
        }
    }
}

fn venv() -> Option<PathBuf> {
    let Some(venv) = std::env::var_os("BUILDBOT_TEST_PYTHON_VENV") else {
        eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
        return None;
    };
    let venv = PathBuf::from(venv);
    if !venv.join("bin/buildbot").exists() {
        eprintln!("SKIP: no buildbot in {}", venv.display());
        return None;
    }
    Some(venv)
}

/// Pids of processes whose command line is exactly `argv`.
fn processes(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .ok()
                .as_deref()
                == Some(&want[..])
        })
        .collect()
}

#[test]
fn stop_kills_running_build_commands() {
    let Some(venv) = venv() else { return };
    let sc = Scratch::new();
    let port = dead_port();
    let _master = PyMaster::start(
        &venv,
        &sc.path().join("m"),
        port,
        r#"["sleep", "61.25"]"#,
        r#"schedulers.Periodic(name="often", builderNames=["b1"], periodicBuildTimer=1)"#,
    );
    let d = sc.dir("s");
    create(&d, port, &[]);
    run(&["start", s(&d)]).ok();
    assert!(
        wait_for(30, || !processes(&["sleep", "61.25"]).is_empty()),
        "no build started: {}",
        read(&sc.path().join("m/twistd.log"))
    );
    let out = run(&["stop", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("is dead"), "{out:?}");
    wait_for(5, || processes(&["sleep", "61.25"]).is_empty());
    let left = processes(&["sleep", "61.25"]);
    for pid in &left {
        signal(*pid, libc::SIGKILL);
    }
    assert!(
        left.is_empty(),
        "build commands survived the slave: {left:?}"
    );
}

#[test]
fn slave_attaches_to_python_master_4_3() {
    let Some(venv) = venv() else { return };
    let sc = Scratch::new();
    let port = dead_port();
    let _master = PyMaster::start(
        &venv,
        &sc.path().join("m"),
        port,
        r#"["echo", "hello"]"#,
        r#"schedulers.ForceScheduler(name="force", builderNames=["b1"])"#,
    );
    let d = sc.dir("s");
    create(&d, port, &[]);
    let out = run(&["start", s(&d)]);
    out.ok();
    assert!(
        out.stdout
            .contains("The buildslave appears to have (re)started correctly"),
        "{out:?}"
    );
    let mlog = sc.path().join("m/twistd.log");
    assert!(
        wait_for(20, || read(&mlog).contains("Worker w1 attached to b1")),
        "{}",
        read(&mlog)
    );
    assert!(
        wait_for(5, || d.join("b1").is_dir()),
        "builder directory created"
    );
    let out = run(&["stop", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("is dead"), "{out:?}");
}
