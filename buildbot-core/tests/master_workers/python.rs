//! Against a real Python buildbot-worker 4.3.

use std::time::Duration;

use buildbot_core::master::workers::*;
use buildbot_core::protocol::Value;

use super::harness::*;
use super::scenarios;

#[async_std::test]
async fn python_worker_session_and_commands() {
    let Some(venv) = python_venv() else { return };
    let master = Master::start(Master::default_regs()).await;
    let worker = PyWorker::start(&venv, master.port(), NAME, PASSWORD);
    let conn = master.wait_attached(60).await;
    assert_eq!(conn.name(), NAME);
    assert_eq!(conn.info().version.as_deref(), Some("4.3.0"));
    assert_eq!(
        conn.info().admin.as_deref(),
        Some("Jane Doe <jane@example.invalid>\n")
    );
    assert!(conn.info().host.is_some());
    assert!(conn.info().numcpus.unwrap_or(0) >= 1);
    assert!(conn.info().environ.contains_key("PATH"));
    scenarios::all(&conn, &worker.basedir()).await;

    // reconfig: a new builder on the live connection
    let mut b = builders();
    b.push(WorkerBuilder::new("extra"));
    let new = within(
        30,
        "update_builders",
        master.manager.update_builders(NAME, b),
    )
    .await
    .unwrap();
    assert_eq!(new, vec!["extra".to_string()]);
    assert!(worker.basedir().join("extra").is_dir());

    // shutdown: the worker answers, exits, the connection is detached
    conn.shutdown().await.unwrap();
    let reason = master.wait_detached(30).await;
    assert!(!reason.is_empty());
    assert!(!conn.is_connected());
    within(10, "closed()", conn.closed()).await;
}

#[async_std::test]
async fn python_worker_wrong_password_is_refused_and_retries() {
    let Some(venv) = python_venv() else { return };
    let master = Master::start(Master::default_regs()).await;
    let worker = PyWorker::start(&venv, master.port(), NAME, "wrong");
    for attempt in 0..2 {
        match master.next_event(30).await {
            ConnectionEvent::AuthFailed { name, reason, peer } => {
                assert_eq!(name.as_deref(), Some(NAME), "attempt {attempt}");
                assert_eq!(reason, "wrong password");
                assert!(peer.ip().is_loopback());
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(master.manager.connection(NAME).is_none());
    assert!(worker.log().contains("401"), "{}", worker.log());
}

#[async_std::test]
async fn python_worker_killed_mid_command() {
    let Some(venv) = python_venv() else { return };
    let master = Master::start(Master::default_regs()).await;
    let mut worker = PyWorker::start(&venv, master.port(), NAME, PASSWORD);
    let conn = master.wait_attached(60).await;
    let mut cmd = conn
        .start_command(
            "main",
            "shell",
            scenarios::shell_args(Value::from("echo $$; exec sleep 30")),
        )
        .await
        .unwrap();
    // the first update comes after the worker's 5 s buffer timeout
    let mut pid = None;
    while pid.is_none() {
        match within(20, "pid output", cmd.next_update()).await {
            Some(CommandUpdate::Stdout(t)) => pid = t.trim().parse::<i32>().ok(),
            Some(_) => {}
            None => panic!("command ended early"),
        }
    }
    worker.kill();
    let r = within(30, "command end", cmd.wait()).await;
    assert_eq!(r.outcome, CommandOutcome::ConnectionLost);
    master.wait_detached(30).await;
    assert!(!conn.is_connected());
    assert!(conn.ping().await.is_err());
    // the Python worker leaves the child running (§6.3): clean it up
    if let Some(pid) = pid {
        // SAFETY: plain kill(2) on a pid we learned from the command we started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    async_std::task::sleep(Duration::from_millis(10)).await;
}

#[async_std::test]
async fn python_worker_keepalive_and_duplicate() {
    let Some(venv) = python_venv() else { return };
    let master = Master::start(vec![
        WorkerRegistration::new(NAME, PASSWORD)
            .builders(builders())
            .keepalive_interval(Duration::from_secs(1)),
    ])
    .await;
    let first = PyWorker::start(&venv, master.port(), NAME, PASSWORD);
    let conn = master.wait_attached(60).await;
    // a second process with the same name is rejected while the first answers keepalives
    let _second = PyWorker::start(&venv, master.port(), NAME, PASSWORD);
    master
        .expect_quiet(6000, "duplicate / keepalive", |e| {
            matches!(
                e,
                ConnectionEvent::Attached(_) | ConnectionEvent::Detached { .. }
            )
        })
        .await;
    assert!(conn.is_connected());
    assert_eq!(
        conn.info().basedir,
        first.basedir().to_str().unwrap(),
        "the first worker stays attached"
    );
    assert!(
        first.log().contains("Connection keepalive confirmed"),
        "{}",
        first.log()
    );
    assert!(first.log().contains("master got a duplicate connection"));
}
