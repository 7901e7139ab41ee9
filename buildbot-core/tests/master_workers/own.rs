//! Against our own worker runtime (in-process, real sockets and processes).

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
            .keepalive_interval(std::time::Duration::from_secs(1)),
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
async fn own_worker_stopped_mid_command() {
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
    worker.handle.stop();
    let r = within(30, "command end", cmd.wait()).await;
    assert_eq!(r.outcome, CommandOutcome::ConnectionLost);
    master.wait_detached(10).await;
}
