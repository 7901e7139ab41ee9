//! `buildbot demo`: a throw-away master (in this process) and slave, one forced build of
//! the sample configuration, its log and result.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, LogFile, LogTarget, Signal, Signals};
use buildbot_core::master::config::{Registry, load_config};
use buildbot_core::master::{ForceRequest, Master, MasterHandle, MasterOptions};
use buildbot_core::{Slave, SlaveConfig, SlaveHandle};
use buildbot_db::{Query, Results};

use crate::create;
use crate::options::{CreateOptions, DemoOptions};
use crate::tac::{MASTER_MARKER, MasterTac};

const WORKER: &str = "example-slave";
const PASSWORD: &str = "pass";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The slave of the demo: the real `buildslave` next to this binary (run in the
/// foreground as our child), else an in-process [`Slave`].
enum DemoSlave {
    Process(std::process::Child),
    InProcess(SlaveHandle),
}

impl DemoSlave {
    fn start(dir: &Path, port: u16) -> anyhow::Result<DemoSlave> {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("buildslave")))
            .filter(|p| p.is_file());
        if let Some(exe) = exe {
            match Self::spawn(&exe, dir, port) {
                Ok(child) => {
                    ui::say(
                        false,
                        &format!(
                            "started the slave: {} start --nodaemon {}",
                            exe.display(),
                            dir.display()
                        ),
                    );
                    return Ok(DemoSlave::Process(child));
                }
                Err(e) => ui::error(&format!(
                    "WARNING: {e:#}; using an in-process slave instead"
                )),
            }
        }
        std::fs::create_dir_all(dir)?;
        let slave = Slave::new(SlaveConfig::new("127.0.0.1", port, WORKER, PASSWORD, dir));
        let handle = slave.handle();
        async_std::task::spawn(async move {
            if let Err(e) = slave.run().await {
                log::error!("slave: {e}");
            }
        });
        ui::say(false, "started an in-process slave");
        Ok(DemoSlave::InProcess(handle))
    }

    fn spawn(exe: &Path, dir: &Path, port: u16) -> anyhow::Result<std::process::Child> {
        let d = dir.display().to_string();
        if !dir.join("buildbot.tac").exists() {
            let out = Command::new(exe)
                .args([
                    "create-slave",
                    "-q",
                    "-r",
                    &d,
                    &format!("127.0.0.1:{port}"),
                    WORKER,
                    PASSWORD,
                ])
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("cannot run {}", exe.display()))?;
            anyhow::ensure!(
                out.status.success(),
                "{} create-slave failed: {}",
                exe.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Command::new(exe)
            .args(["start", "--nodaemon", &d])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {}", exe.display()))
    }

    fn stop(self) {
        match self {
            DemoSlave::Process(mut child) => {
                if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                    // SAFETY: signalling our own child process.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            DemoSlave::InProcess(h) => h.stop(),
        }
    }
}

/// The text of a stored log: stdio lines lose their stream tag.
fn log_text(raw: &str, stdio: bool) -> String {
    if !stdio {
        return raw.to_owned();
    }
    raw.lines()
        .filter_map(|l| {
            let mut c = l.chars();
            match c.next() {
                // header: the command and its exit, not the environment dump
                Some('h') if c.as_str().starts_with(char::is_whitespace) => None,
                Some('h') => Some(format!("  # {}", c.as_str())),
                Some(_) => Some(format!("  {}", c.as_str())),
                None => None,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn force_and_show(m: &MasterHandle) -> anyhow::Result<Results> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !m.connected_workers().iter().any(|w| w == WORKER) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the slave did not connect within 30 s"
        );
        async_std::task::sleep(Duration::from_millis(100)).await;
    }
    ui::say(
        false,
        &format!("slave '{WORKER}' attached; forcing a build of 'runtests'"),
    );
    let (_, reqs) = m
        .force(
            "force",
            ForceRequest::new("demo", "buildbot demo").builders(["runtests"]),
        )
        .await?;
    let brid = reqs
        .first()
        .map(|r| r.1)
        .context("the force scheduler made no request")?;
    let build = m.wait_for_build_of(brid, Duration::from_secs(60)).await?;
    let build = m
        .wait_for_build(build.buildid, Duration::from_secs(120))
        .await?;
    let db = m.db();
    for step in db
        .list_steps(&Query::new().eq("buildid", build.buildid.0))
        .await?
    {
        let res = step
            .results
            .and_then(Results::from_code)
            .map_or("?", Results::name);
        ui::say(
            false,
            &format!(
                "step {} '{}': {} ({res})",
                step.number, step.name, step.state_string
            ),
        );
        for log in db
            .list_logs(&Query::new().eq("stepid", step.stepid.0))
            .await?
        {
            if log.num_lines == 0 {
                continue;
            }
            let raw = db.get_log_lines(log.logid, 0, log.num_lines - 1).await?;
            ui::say(false, &format!(" log '{}':", log.name));
            ui::say(false, &log_text(&raw, log.log_type == "s"));
        }
    }
    let result = build
        .results
        .and_then(Results::from_code)
        .unwrap_or(Results::Exception);
    ui::say(
        false,
        &format!(
            "build #{} of 'runtests': {}",
            build.number,
            result.name().to_uppercase()
        ),
    );
    Ok(result)
}

pub fn demo(o: &DemoOptions) -> anyhow::Result<ExitCode> {
    let (root, _tmp) = match &o.dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile_dir()?;
            (t.clone(), Some(TempDir(t)))
        }
    };
    let mdir = root.join("master");
    let sdir = root.join("slave");
    let signals = if o.once {
        None
    } else {
        Some(Signals::new(&[Signal::Int, Signal::Term])?)
    };
    create::create_master(&CreateOptions {
        quiet: true,
        force: true,
        basedir: mdir.clone(),
        tac: MasterTac {
            application: MASTER_MARKER.into(),
            basedir: ".".into(),
            configfile: "master.cfg".into(),
            db_url: Some("sqlite:///state.sqlite".into()),
            umask: None,
            rotate_length: Some(10_000_000),
            max_rotated_files: Some(10),
            log_file: None,
        },
        db_url: "sqlite:///state.sqlite".into(),
    })?;
    let (wport, web) = (free_port()?, free_port()?);
    let cfg_text = std::fs::read_to_string(mdir.join("master.cfg.sample"))?
        .replace(
            "port = 9989",
            &format!("port = {wport}\ninterface = \"127.0.0.1\""),
        )
        .replace("port = 8010", &format!("port = {web}"))
        .replace(
            "http://localhost:8010/",
            &format!("http://localhost:{web}/"),
        );
    std::fs::write(mdir.join("master.cfg"), cfg_text)?;
    let cfg = load_config(&mdir.join("master.cfg"), &Registry::new())
        .map_err(|e| CliError::new(ErrorKind::Config, e.to_string()))?
        .config;
    let log = LogFile::open(&mdir.join("twistd.log"), daemon::Rotation::External)?;
    let _ = daemon::init_logging(LogTarget::File(log), None);
    ui::say(
        false,
        &format!(
            "demo master in {} (log: {})",
            mdir.display(),
            mdir.join("twistd.log").display()
        ),
    );
    async_std::task::block_on(async {
        let master = Master::start(
            cfg,
            MasterOptions::new(&mdir).db_url("sqlite:///state.sqlite"),
        )
        .await
        .map_err(|e| {
            CliError::new(
                ErrorKind::StartFailed,
                format!("the demo master failed to start: {e}"),
            )
        })?;
        let web_server =
            match buildbot_web::serve(master.clone(), &format!("127.0.0.1:{web}")).await {
                Ok(w) => Some(w),
                Err(e) => {
                    log::warn!("demo: no web server: {e}");
                    None
                }
            };
        ui::say(
            false,
            &format!("master running: workers on 127.0.0.1:{wport}"),
        );
        if let Some(w) = &web_server {
            ui::say(false, &format!("REST API: {}api/v2/builds", w.url()));
        }
        let slave = match DemoSlave::start(&sdir, wport) {
            Ok(s) => s,
            Err(e) => {
                let _ = master.stop().await;
                return Err(e);
            }
        };
        let outcome = force_and_show(&master).await;
        if let (Some(signals), true) = (&signals, outcome.is_ok()) {
            ui::say(
                false,
                &format!(
                    "master and slave keep running in {}; press Ctrl-C to stop them",
                    root.display()
                ),
            );
            let _ = signals.recv().await;
        }
        slave.stop();
        if let Some(w) = web_server {
            w.stop().await;
        }
        let _ = master.stop().await;
        let result = outcome?;
        Ok(if result == Results::Success {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    for i in 0..100u32 {
        let p = base.join(format!("buildbot-demo-{}-{i}", std::process::id()));
        if std::fs::create_dir(&p).is_ok() {
            return Ok(p);
        }
    }
    anyhow::bail!("cannot create a temporary directory in {}", base.display())
}

/// Removes the demo's temporary directory at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
