//! The poll loop of one poller and the running of its VCS commands.

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::master::config::{ChangeSourceConfig, ChangeSourceKind};
use crate::util::log_text;

use super::super::state::Inner;
use super::{
    COMMAND_TIMEOUT, ChangeSourceStatus, Poked, PollContext, PollError, git, hg, record, svn,
};

/// Polls `cs` until the master stops or the poller is replaced.
pub(super) async fn poll_loop(
    master: Weak<Inner>,
    cs: ChangeSourceConfig,
    poked: Poked,
    status: Arc<Mutex<ChangeSourceStatus>>,
) {
    let (timing, class) = match &cs.kind {
        ChangeSourceKind::GitPoller(g) => (g.timing.clone(), git::CLASS),
        ChangeSourceKind::HgPoller(h) => (h.timing.clone(), hg::CLASS),
        ChangeSourceKind::SVNPoller(s) => (s.timing.clone(), svn::CLASS),
        _ => return,
    };
    let ctx = PollContext {
        master,
        name: cs.name.clone(),
        class,
    };
    let mut first = true;
    loop {
        if !(first && timing.at_launch) {
            let extra = if timing.random_delay_max > 0 {
                timing.random_delay_min
                    + rand::random::<u64>()
                        % (timing.random_delay_max - timing.random_delay_min + 1)
            } else {
                0
            };
            let wait = Duration::from_secs(timing.interval.max(1) + extra);
            let _ = async_std::future::timeout(wait, poked.recv()).await;
        }
        first = false;
        let outcome = match &cs.kind {
            ChangeSourceKind::GitPoller(g) => git::poll(&ctx, g).await,
            ChangeSourceKind::HgPoller(h) => hg::poll(&ctx, h).await,
            ChangeSourceKind::SVNPoller(s) => svn::poll(&ctx, s).await,
            _ => return,
        };
        match &outcome {
            Ok(n) if *n > 0 => log::info!("{}: {n} new changes", log_text(&cs.name)),
            Ok(_) => log::debug!("{}: no new changes", log_text(&cs.name)),
            Err(PollError::Master(crate::master::MasterError::Stopping)) => return,
            Err(e) => log::warn!(
                "{} {}: poll failed (retried in {} s): {}",
                cs.type_name(),
                log_text(&cs.name),
                timing.interval,
                log_text(&e.to_string())
            ),
        }
        record(&status, &outcome);
    }
}

/// A finished command: exit code (`None`: killed by a signal), stdout, stderr.
pub(super) struct Output {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `program args` in `cwd` with `env` added, on the blocking pool (the engine's
/// executor never waits for it); killed after [`COMMAND_TIMEOUT`]. `Err`: it could not
/// start, or timed out.
pub(super) async fn run_command(
    program: &str,
    args: &[String],
    cwd: Option<&Path>,
    env: &[(String, String)],
) -> Result<Output, String> {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        // never wait for a password on a terminal
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let shown = || {
        let mut s = program.to_owned();
        for a in args {
            s.push(' ');
            s.push_str(a);
        }
        s
    };
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", shown()))?;
    let pid = child.id();
    let waited = async_std::task::spawn_blocking(move || child.wait_with_output());
    match async_std::future::timeout(COMMAND_TIMEOUT, waited).await {
        Ok(Ok(out)) => Ok(Output {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        Ok(Err(e)) => Err(format!("{}: {e}", shown())),
        Err(_) => {
            #[cfg(unix)]
            // SAFETY: `pid` is our child's, still unreaped (its waiter thread is blocked
            // in `wait`), so the id cannot have been reused.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            Err(format!(
                "{} did not finish within {} s and was killed",
                shown(),
                COMMAND_TIMEOUT.as_secs()
            ))
        }
    }
}
