//! Against our own slave runtime (in-process, real sockets and processes).

use buildbot_core::master::workers::*;
use buildbot_core::protocol::Value;

use super::harness::*;
use super::scenarios;

#[async_std::test]
async fn own_worker_session_and_commands() {
    let master = Master::start(Master::default_regs()).await;
    let worker = OwnWorker::start(master.port(), NAME, PASSWORD, |_| {});
    let conn = master.wait_attached(30).await;
    assert_eq!(
        conn.info().admin.as_deref(),
        Some("Rusty <r@example.invalid>\n")
    );
    scenarios::all(&conn, &worker.basedir()).await;

    // reconfig through the manager: a changed builder list is re-sent
    let mut b = builders();
    b.push(WorkerBuilder::new("extra"));
    let errors = within(
        30,
        "reconfigure",
        master
            .manager
            .reconfigure([WorkerRegistration::new(NAME, PASSWORD).builders(b.clone())]),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(worker.basedir().join("extra").is_dir());
    assert_eq!(conn.builders(), b);

    // removing the worker from the configuration drops it
    master.manager.set_workers([]);
    master.wait_detached(10).await;
}

#[async_std::test]
async fn own_worker_keepalive_and_shutdown_request() {
    let master = Master::start(vec![
        WorkerRegistration::new(NAME, PASSWORD)
            .builders(builders())
            .keepalive_interval(std::time::Duration::from_secs(2)),
    ])
    .await;
    let mut worker = OwnWorker::start(master.port(), NAME, PASSWORD, |c| c.keepalive = 1);
    let conn = master.wait_attached(30).await;
    // keepalives flow both ways; nobody is dropped
    master
        .expect_quiet(3500, "keepalives", |e| {
            matches!(e, ConnectionEvent::Detached { .. })
        })
        .await;
    assert!(conn.is_connected());

    worker.handle.request_graceful_shutdown();
    let ev = master
        .wait_event(30, "ShutdownRequested", |e| {
            matches!(e, ConnectionEvent::ShutdownRequested(_))
        })
        .await;
    assert!(matches!(ev, ConnectionEvent::ShutdownRequested(n) if n == NAME));
    conn.shutdown().await.unwrap();
    master.wait_detached(10).await;
    worker.wait_exit(10).await;
}

#[async_std::test]
async fn own_worker_duplicate_is_rejected() {
    let master = Master::start(Master::default_regs()).await;
    let mut first = OwnWorker::start(master.port(), NAME, PASSWORD, |_| {});
    let conn = master.wait_attached(30).await;
    let second = OwnWorker::start(master.port(), NAME, PASSWORD, |_| {});
    master
        .expect_quiet(3000, "duplicate must not attach", |e| {
            matches!(
                e,
                ConnectionEvent::Attached(_) | ConnectionEvent::Detached { .. }
            )
        })
        .await;
    assert!(conn.is_connected());
    // when the first goes away, the second one (retrying) takes over
    first.handle.stop();
    first.wait_exit(10).await;
    master.wait_detached(10).await;
    let conn2 = master.wait_attached(30).await;
    assert!(conn2.is_connected());
    assert_eq!(conn2.info().basedir, second.basedir().to_str().unwrap());
}

#[async_std::test]
async fn own_worker_connection_lost_mid_command() {
    let master = Master::start(Master::default_regs()).await;
    let worker = OwnWorker::start(master.port(), NAME, PASSWORD, |_| {});
    let conn = master.wait_attached(30).await;
    let cmd = conn
        .start_command(
            "main",
            "shell",
            scenarios::shell_args(Value::from("sleep 30")),
        )
        .await
        .unwrap();
    async_std::task::sleep(std::time::Duration::from_millis(300)).await;
    // the master drops the connection: the command ends with "connection lost"
    conn.disconnect();
    let r = within(10, "command end", cmd.wait()).await;
    assert_eq!(r.outcome, CommandOutcome::ConnectionLost);
    let reason = master.wait_detached(10).await;
    assert_eq!(reason, "disconnected by the master");
    assert!(
        conn.start_command("main", "shell", CommandArgs::new())
            .await
            .is_err()
    );

    // the worker comes back; stopping it mid-command detaches it again (the worker may
    // still report the killed process before the connection goes)
    let conn = master.wait_attached(30).await;
    let cmd = conn
        .start_command(
            "main",
            "shell",
            scenarios::shell_args(Value::from("sleep 30")),
        )
        .await
        .unwrap();
    async_std::task::sleep(std::time::Duration::from_millis(300)).await;
    worker.handle.stop();
    let r = within(30, "command end", cmd.wait()).await;
    assert!(
        r.outcome == CommandOutcome::ConnectionLost
            || (r.outcome == CommandOutcome::Completed && r.rc == Some(-1)),
        "{r:?}"
    );
    master.wait_detached(10).await;
}

#[async_std::test]
async fn many_workers_and_concurrent_commands() {
    let n = 8;
    let regs = (0..n)
        .map(|i| WorkerRegistration::new(format!("w{i}"), "pw").builders(builders()))
        .collect();
    let master = Master::start(regs).await;
    let workers: Vec<OwnWorker> = (0..n)
        .map(|i| OwnWorker::start(master.port(), &format!("w{i}"), "pw", |_| {}))
        .collect();
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(master.wait_attached(30).await);
    }
    let mut names: Vec<String> = conns.iter().map(|c| c.name().to_string()).collect();
    names.sort();
    assert_eq!(names.len(), n);
    assert_eq!(master.manager.connections().len(), n);
    // three commands at once on every worker
    let mut running = Vec::new();
    for c in &conns {
        for j in 0..3 {
            let cmd = c
                .start_command(
                    "main",
                    "shell",
                    scenarios::shell_args(Value::from(format!("sleep 0.2; echo {} {j}", c.name()))),
                )
                .await
                .unwrap();
            running.push((c.name().to_string(), j, cmd));
        }
    }
    for (name, j, cmd) in running {
        let r = within(30, "concurrent command", cmd.wait()).await;
        assert_eq!(r.text("stdout"), format!("{name} {j}\n"));
        assert_eq!(r.rc, Some(0));
    }
    drop(workers);
}
