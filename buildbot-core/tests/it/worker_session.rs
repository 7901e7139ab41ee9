//! Session start, info, error responses, malformed input.

use std::time::Duration;

use buildbot_core::protocol::{Op, ProtocolError, Value};

use crate::harness::*;

fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

#[async_std::test]
async fn handshake_info_and_setup_commands() {
    init_log();
    let master = FakeMaster::start(MasterOpts::default()).await;
    // info/ is a symlink to a directory elsewhere inside the base, with a symlinked file
    let worker = TestWorker::start_with(master.port, |c| {
        c.numcpus = Some(7);
        c.delete_leftover_dirs = true;
    });
    let conn = master.next_conn(Duration::from_secs(10)).await;
    let info = conn.attach().await;
    assert_eq!(
        map_get(&info, "admin").and_then(Value::as_str),
        Some("Jane Doe <jane@example.invalid>\n")
    );
    assert_eq!(
        map_get(&info, "host").and_then(Value::as_str),
        Some("test host\n")
    );
    assert_eq!(
        map_get(&info, "system").and_then(Value::as_str),
        Some("posix")
    );
    assert_eq!(
        map_get(&info, "basedir").and_then(Value::as_str),
        Some(worker.basedir.to_str().unwrap())
    );
    assert_eq!(map_get(&info, "numcpus").and_then(Value::as_u64), Some(7));
    assert_eq!(
        map_get(&info, "delete_leftover_dirs"),
        Some(&Value::Boolean(true))
    );
    assert!(map_get(&info, "version").and_then(Value::as_str).is_some());
    assert!(
        map_get(&info, "environ")
            .and_then(|e| map_get(e, "PATH"))
            .is_some()
    );
    let cmds = map_get(&info, "worker_commands").unwrap().as_map().unwrap();
    assert_eq!(cmds.len(), 14);
    assert!(cmds.iter().all(|(_, v)| v.as_str() == Some("3.3")));
    if std::path::Path::new("/etc/os-release").exists() {
        assert!(map_get(&info, "os_id").is_some());
    }

    // info files are re-read on every request; info may be a symlink
    let real_info = worker.basedir.join("real-info");
    std::fs::rename(worker.basedir.join("info"), &real_info).unwrap();
    std::os::unix::fs::symlink(&real_info, worker.basedir.join("info")).unwrap();
    std::fs::write(worker.basedir.join("admin-target"), "Linked Admin\n").unwrap();
    std::fs::remove_file(real_info.join("admin")).unwrap();
    std::os::unix::fs::symlink(worker.basedir.join("admin-target"), real_info.join("admin"))
        .unwrap();
    std::fs::write(real_info.join("access_uri"), "ssh://w\n").unwrap();
    let info = conn.call(Op::GetWorkerInfo).await.unwrap();
    assert_eq!(
        map_get(&info, "admin").and_then(Value::as_str),
        Some("Linked Admin\n")
    );
    assert_eq!(
        map_get(&info, "access_uri").and_then(Value::as_str),
        Some("ssh://w\n")
    );

    // the builder-list set-up of §5.1
    let log = conn
        .run(
            "listdir",
            vec![("path", s(worker.basedir.to_str().unwrap()))],
        )
        .await;
    let files = log.files().unwrap();
    assert!(files.contains(&"info".to_string()), "{files:?}");
    assert_eq!(log.keys(), vec!["files", "rc", "elapsed"]);
    assert_eq!(log.complete, Some(None));
    let log = conn
        .run(
            "mkdir",
            vec![("paths", arr(&[&worker.path("b1"), &worker.path("b2")]))],
        )
        .await;
    assert_eq!(log.keys(), vec!["rc", "elapsed"]);
    assert!(worker.basedir.join("b1").is_dir() && worker.basedir.join("b2").is_dir());
    // keepalive from the master
    assert_eq!(conn.call(Op::Keepalive).await.unwrap(), Value::Nil);
}

#[async_std::test]
async fn error_responses_have_python_texts() {
    let (_m, worker, conn) = setup().await;
    let remote = |r: Result<Value, ProtocolError>| match r {
        Err(ProtocolError::Remote { message, .. }) => message,
        other => panic!("expected an exception response, got {other:?}"),
    };
    assert_eq!(
        remote(
            conn.call(Op::Unknown {
                op: "frobnicate".into(),
                fields: vec![]
            })
            .await
        ),
        "Command frobnicate does not exist."
    );
    assert_eq!(
        remote(
            conn.call(Op::Unknown {
                op: "print".into(),
                fields: vec![]
            })
            .await
        ),
        "'message did not contain obligatory \"message\" key'"
    );
    assert_eq!(
        remote(
            conn.call(Op::Unknown {
                op: "set_worker_settings".into(),
                fields: vec![("args".into(), map(vec![("buffer_size", Value::from(1))]))]
            })
            .await
        ),
        "'message did not contain obligatory settings for worker'"
    );
    assert_eq!(
        remote(conn.start("x1", "nosuch", vec![]).await),
        "(command x1): unrecognized WorkerCommand 'nosuch'"
    );
    assert_eq!(
        remote(
            conn.start("x2", "shell", vec![("workdir", s(&worker.path("b1")))])
                .await
        ),
        "WorkerShellCommand is missing args: command"
    );
    assert_eq!(
        remote(
            conn.start(
                "x3",
                "upload_file",
                vec![("path", s("x")), ("blocksize", Value::from(4))]
            )
            .await
        ),
        "'maxsize'"
    );
    assert_eq!(
        conn.call(Op::InterruptCommand {
            builder_name: None,
            command_id: "nope".into(),
            why: "test".into()
        })
        .await
        .unwrap(),
        Value::Nil
    );
    assert_eq!(
        remote(
            conn.call(Op::Unknown {
                op: "interrupt_command".into(),
                fields: vec![("command_id".into(), s("nope"))]
            })
            .await
        ),
        "'message did not contain obligatory \"why\" key'"
    );
    // ignored inputs: text frame, array, map without seq_number; the session continues
    conn.send_text("hello").await;
    conn.send_raw(vec![0x93, 1, 2, 3]).await;
    let mut no_seq = Vec::new();
    rmpv::encode::write_value(
        &mut no_seq,
        &map(vec![("op", s("print")), ("message", s("no seq"))]),
    )
    .unwrap();
    conn.send_raw(no_seq).await;
    conn.send_ping().await;
    assert_eq!(
        conn.call(Op::Print {
            message: "still there".into()
        })
        .await
        .unwrap(),
        Value::Nil
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while conn.pongs() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the ping was not answered"
        );
        async_std::task::sleep(Duration::from_millis(20)).await;
    }
    // hostile numbers neither crash nor hang the worker
    let mut args = shell_args(&worker.path("b1"), arr(&["echo", "ok"]));
    set_arg(&mut args, "timeout", Value::F64(f64::NAN));
    set_arg(&mut args, "maxTime", Value::F64(1e300));
    set_arg(&mut args, "sigtermTime", Value::F64(-5.0));
    let log = conn.run("shell", args).await;
    assert_eq!(log.text("stdout"), "ok\n");
    std::fs::write(worker.path("b1/small"), "small").unwrap();
    let log = conn
        .run(
            "upload_file",
            vec![
                ("path", s(&worker.path("b1/small"))),
                ("blocksize", Value::from(1u64 << 40)),
                ("maxsize", Value::Nil),
            ],
        )
        .await;
    assert_eq!(log.uploaded, b"small");
    // start-time errors are reported through `complete`
    let mut args = shell_args(&worker.path("b1"), arr(&["true"]));
    set_arg(&mut args, "usePTY", s("slave-config"));
    let log = conn.run("shell", args).await;
    assert_eq!(log.keys(), vec!["elapsed"]);
    let failure = log.complete.unwrap().unwrap();
    assert!(
        failure.contains("Unexpected usePTY argument value: 'slave-config'. Expected boolean."),
        "{failure}"
    );
    let mut args = shell_args(&worker.path("b1"), arr(&["true"]));
    set_arg(&mut args, "env", map(vec![("N", Value::from(5))]));
    let log = conn.run("shell", args).await;
    assert!(
        log.complete
            .unwrap()
            .unwrap()
            .contains("'env' values must be strings or lists; key 'N' is incorrect")
    );
}

#[async_std::test]
async fn invalid_msgpack_drops_the_connection_and_the_worker_reconnects() {
    let (master, _worker, conn) = setup().await;
    conn.send_raw(vec![0xc1]).await;
    assert!(conn.wait_closed(Duration::from_secs(5)).await);
    let conn2 = master.next_conn(Duration::from_secs(10)).await;
    conn2.attach().await;
    // an unexpected response seq_number also drops the connection (as Python)
    let mut payload = Vec::new();
    rmpv::encode::write_value(
        &mut payload,
        &map(vec![
            ("op", s("response")),
            ("seq_number", Value::from(999)),
            ("result", Value::Nil),
        ]),
    )
    .unwrap();
    conn2.send_raw(payload).await;
    assert!(conn2.wait_closed(Duration::from_secs(5)).await);
    let conn3 = master.next_conn(Duration::from_secs(10)).await;
    conn3.attach().await;
    // a top-level integer too
    conn3.send_raw(vec![0x05]).await;
    assert!(conn3.wait_closed(Duration::from_secs(5)).await);
    let conn4 = master.next_conn(Duration::from_secs(10)).await;
    conn4.attach().await;
    // an oversized message (> 64 MiB) is a protocol error, not a crash
    conn4.send_raw(vec![0u8; (64 << 20) + 16]).await;
    assert!(conn4.wait_closed(Duration::from_secs(20)).await);
    let conn5 = master.next_conn(Duration::from_secs(10)).await;
    conn5.attach().await;
}

#[async_std::test]
async fn shutdown_from_master_ends_run() {
    let (_m, worker, conn) = setup().await;
    assert_eq!(conn.call(Op::Shutdown).await.unwrap(), Value::Nil);
    let exit = worker.join(Duration::from_secs(5)).await;
    assert!(
        matches!(exit, buildbot_core::SlaveExit::ShutdownByMaster),
        "{exit:?}"
    );
    assert!(conn.wait_closed(Duration::from_secs(5)).await);
}
