//! Reconnection, back-off, keepalive, shutdown paths.

use std::time::{Duration, Instant};

use buildbot_core::protocol::{Op, ProtocolError, Value};
use buildbot_core::{AllowShutdown, SlaveEvent, SlaveExit};

use crate::harness::*;
use crate::worker_commands::process_alive;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[async_std::test]
async fn wrong_password_retries_with_backoff() {
    init_log();
    let master = FakeMaster::start(MasterOpts {
        password: "other".into(),
        ..MasterOpts::default()
    })
    .await;
    let worker = TestWorker::start_with(master.port, |c| c.maxdelay = 300);
    let events = worker.events_for(Duration::from_secs(5)).await;
    let auth: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SlaveEvent::AuthFailed(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert!(auth.len() >= 2, "{events:?}");
    assert!(
        auth[0].contains("check the slave name and password"),
        "{}",
        auth[0]
    );
    assert!(auth[0].contains(&format!("127.0.0.1:{}", master.port)));
    let delays: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            SlaveEvent::ConnectFailed { retry_in, .. } => Some(retry_in.as_secs_f64()),
            _ => None,
        })
        .collect();
    assert!((0.88..=1.12).contains(&delays[0]), "{delays:?}");
    let e = std::f64::consts::E;
    assert!((e * 0.88..=e * 1.12).contains(&delays[1]), "{delays:?}");
    // still running: a correct master on the same port would be accepted
    assert!(!worker.handle.events().is_closed());
    let exit = {
        worker.handle.stop();
        worker.join(Duration::from_secs(5)).await
    };
    assert!(matches!(exit, SlaveExit::Stopped));
}

#[async_std::test]
async fn refused_connection_messages_and_maxretries() {
    init_log();
    let port = free_port();
    let worker = TestWorker::start_with(port, |c| c.maxretries = Some(2));
    let events = worker.events_for(Duration::from_secs(3)).await;
    let reason = events
        .iter()
        .find_map(|e| match e {
            SlaveEvent::ConnectFailed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.contains("refused") && reason.contains(&format!("127.0.0.1:{port}")),
        "{reason}"
    );
    let exit = worker.join(Duration::from_secs(10)).await;
    assert!(matches!(exit, SlaveExit::MaxRetriesReached), "{exit:?}");
}

#[async_std::test]
async fn connect_timeout_message() {
    init_log();
    // a listener that never answers the upgrade
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let worker = TestWorker::start_with(port, |c| c.connect_timeout = Duration::from_millis(500));
    let events = worker.events_for(Duration::from_secs(2)).await;
    let reason = events
        .iter()
        .find_map(|e| match e {
            SlaveEvent::ConnectFailed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.contains("timed out (is the port number correct?)"),
        "{reason}"
    );
    drop(listener);
}

#[async_std::test]
async fn master_restart_reconnects_and_kills_orphans() {
    let (mut master, w, conn) = setup().await;
    let port = master.port;
    let wd = w.path("b1");
    let pidfile = format!("{wd}/sleep.pid");
    conn.start(
        "long",
        "shell",
        shell_args(
            &wd,
            arr(&["sh", "-c", &format!("sleep 60 & echo $! > {pidfile}; wait")]),
        ),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
        assert!(Instant::now() < deadline);
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // "kill" the master: stop listening and drop the connection
    master.stop_listening().await;
    conn.kill();
    drop(master);
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "orphan {pid} still alive");
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    async_std::task::sleep(Duration::from_secs(2)).await;
    let lost_at = Instant::now();
    let master = FakeMaster::start_on(MasterOpts::default(), port).await;
    // test config: maxdelay 2 s, so the worker is back within ~2.3 s
    let conn = master.next_conn(Duration::from_secs(6)).await;
    assert!(lost_at.elapsed() < Duration::from_secs(4));
    conn.attach().await;
    let log = conn
        .run("shell", shell_args(&wd, arr(&["echo", "back"])))
        .await;
    assert_eq!(log.text("stdout"), "back\n");
}

#[async_std::test]
async fn keepalive_extension() {
    let (_m, _w, conn) = setup_with(
        MasterOpts {
            extensions: Some("keepalive, shutdown-request".into()),
            ..MasterOpts::default()
        },
        |c| c.keepalive = 1,
    )
    .await;
    async_std::task::sleep(Duration::from_millis(2500)).await;
    assert!(conn.other_ops().iter().any(|o| matches!(o, Op::Keepalive)));
    assert!(!conn.wait_closed(Duration::from_millis(10)).await);
}

#[async_std::test]
async fn unanswered_keepalive_means_dead_connection() {
    let (master, _w, conn) = setup_with(
        MasterOpts {
            extensions: Some("keepalive".into()),
            answer_keepalive: false,
            ..MasterOpts::default()
        },
        |c| c.keepalive = 1,
    )
    .await;
    assert!(conn.wait_closed(Duration::from_secs(5)).await);
    let conn2 = master.next_conn(Duration::from_secs(5)).await;
    conn2.attach().await;
}

#[async_std::test]
async fn no_worker_keepalives_without_the_extension() {
    let (_m, _w, conn) = setup_with(MasterOpts::default(), |c| c.keepalive = 1).await;
    async_std::task::sleep(Duration::from_millis(2500)).await;
    assert!(conn.other_ops().is_empty(), "{:?}", conn.other_ops());
}

#[async_std::test]
async fn graceful_shutdown_without_extension_drains() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1");
    conn.start(
        "running",
        "shell",
        shell_args(&wd, arr(&["sh", "-c", "sleep 1; echo done"])),
    )
    .await
    .unwrap();
    w.handle.request_graceful_shutdown();
    async_std::task::sleep(Duration::from_millis(200)).await;
    match conn
        .start("refused", "shell", shell_args(&wd, arr(&["true"])))
        .await
    {
        Err(ProtocolError::Remote { message, .. }) => {
            assert_eq!(message, "worker is shutting down")
        }
        other => panic!("{other:?}"),
    }
    let log = conn.wait_complete("running", Duration::from_secs(10)).await;
    assert_eq!(log.text("stdout"), "done\n");
    let exit = w.join(Duration::from_secs(5)).await;
    assert!(matches!(exit, SlaveExit::GracefulShutdown), "{exit:?}");
    // no unknown op was ever sent to the (Python-like) master
    assert!(conn.other_ops().is_empty());
}

#[async_std::test]
async fn graceful_shutdown_with_extension_asks_the_master() {
    let (_m, w, conn) = setup_with(
        MasterOpts {
            extensions: Some("shutdown-request".into()),
            ..MasterOpts::default()
        },
        |_| {},
    )
    .await;
    w.handle.request_graceful_shutdown();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !conn
        .other_ops()
        .iter()
        .any(|o| matches!(o, Op::ShutdownRequest))
    {
        assert!(Instant::now() < deadline);
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(conn.call(Op::Shutdown).await.unwrap(), Value::Nil);
    let exit = w.join(Duration::from_secs(5)).await;
    assert!(matches!(exit, SlaveExit::GracefulShutdown), "{exit:?}");
}

#[async_std::test]
async fn shutdown_stamp_file() {
    let (_m, w, _conn) = setup_with(MasterOpts::default(), |c| {
        c.allow_shutdown = Some(AllowShutdown::File)
    })
    .await;
    async_std::task::sleep(Duration::from_millis(1100)).await;
    std::fs::write(w.basedir.join("shutdown.stamp"), "").unwrap();
    let exit = w.join(Duration::from_secs(25)).await;
    assert!(matches!(exit, SlaveExit::GracefulShutdown), "{exit:?}");
}

#[async_std::test]
async fn graceful_shutdown_while_disconnected_exits_at_once() {
    init_log();
    let w = TestWorker::start_with(free_port(), |_| {});
    async_std::task::sleep(Duration::from_millis(300)).await;
    w.handle.request_graceful_shutdown();
    let exit = w.join(Duration::from_secs(3)).await;
    assert!(matches!(exit, SlaveExit::GracefulShutdown), "{exit:?}");
}

#[async_std::test]
async fn stop_kills_running_commands() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1");
    let pidfile = format!("{wd}/p.pid");
    conn.start(
        "long",
        "shell",
        shell_args(
            &wd,
            arr(&["sh", "-c", &format!("sleep 60 & echo $! > {pidfile}; wait")]),
        ),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
        assert!(Instant::now() < deadline);
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    w.handle.stop();
    let exit = w.join(Duration::from_secs(5)).await;
    assert!(matches!(exit, SlaveExit::Stopped));
    let deadline = Instant::now() + Duration::from_secs(3);
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "{pid} survived stop()");
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
}
