//! A scripted raw WebSocket "worker": exact session-start sequence, authentication
//! refusals, malformed input, liveness and duplicates.

use std::time::Duration;

use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use buildbot_core::master::workers::*;
use buildbot_core::protocol::{Op, ProtocolError, Value, WorkerSettings};

use super::harness::*;

/// builder_name, command_id, command_name, args
type StartCmd = (Option<String>, String, String, Vec<(String, Value)>);

fn start_command(op: &Op) -> Option<StartCmd> {
    match op {
        Op::StartCommand {
            builder_name,
            command_id,
            command_name,
            args,
        } => Some((
            builder_name.clone(),
            command_id.clone(),
            command_name.clone(),
            args.clone(),
        )),
        _ => None,
    }
}

fn paths(args: &[(String, Value)], key: &str) -> Vec<String> {
    match args.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        Some(v) => vec![v.as_str().unwrap().to_string()],
        None => vec![],
    }
}

fn print(msg: &str) -> Op {
    Op::Print {
        message: msg.to_string(),
    }
}

#[async_std::test]
async fn session_start_sequence_with_leftovers() {
    let regs = vec![WorkerRegistration::new(NAME, PASSWORD).builders([
        WorkerBuilder::new("main"),
        WorkerBuilder::new("b two"),
        WorkerBuilder::new("other").workerbuilddir("custom-dir"),
    ])];
    let master = Master::start(regs).await;
    let behaviour = FakeBehaviour {
        basedir: "/fake/base".into(),
        files: ["buildbot.tac", "info", "leftover", "main", "stray.txt"]
            .map(String::from)
            .to_vec(),
        dirs: ["info", "leftover", "main"].map(String::from).to_vec(),
        delete_leftover_dirs: true,
        hold_build_commands: false,
    };
    let fake = FakeWorker::connect(master.port(), Some(&basic(NAME, PASSWORD)), behaviour)
        .await
        .unwrap();
    let conn = master.wait_attached(10).await;
    let ops = fake.ops();
    assert_eq!(ops[0], print("attached"));
    assert_eq!(ops[1], Op::GetWorkerInfo);
    assert_eq!(
        ops[2],
        Op::SetWorkerSettings {
            args: WorkerSettings::default()
        }
    );
    let cmds: Vec<_> = ops.iter().filter_map(start_command).collect();
    let names: Vec<&str> = cmds.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(names, ["listdir", "stat", "stat", "stat", "rmdir", "mkdir"]);
    assert!(
        cmds.iter().all(|c| c.0.is_none()),
        "set-up commands carry no builder_name"
    );
    let ids: Vec<u64> = cmds.iter().map(|c| c.1.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(paths(&cmds[0].3, "path"), ["/fake/base"]);
    assert_eq!(paths(&cmds[1].3, "path"), ["/fake/base/buildbot.tac"]);
    assert_eq!(paths(&cmds[2].3, "path"), ["/fake/base/leftover"]);
    assert_eq!(paths(&cmds[3].3, "path"), ["/fake/base/stray.txt"]);
    assert_eq!(paths(&cmds[4].3, "paths"), ["/fake/base/leftover"]);
    assert_eq!(
        paths(&cmds[5].3, "paths"),
        ["/fake/base/b_two", "/fake/base/custom-dir"]
    );
    let tail: Vec<&Op> = ops
        .iter()
        .skip_while(|o| start_command(o).is_none())
        .collect();
    let prints = tail.iter().filter(|o| ***o == print("attached")).count();
    assert_eq!(prints, 3);
    assert_eq!(conn.builder_dir("b two"), "/fake/base/b_two");
    assert_eq!(conn.builder_dir("other"), "/fake/base/custom-dir");
    assert_eq!(
        conn.info().environ.get("HOME").map(String::as_str),
        Some("/home/fake")
    );
    assert!(conn.info().delete_leftover_dirs);

    // §5.3: a changed builder list on the live connection
    let before = fake.ops().len();
    let new = master
        .manager
        .update_builders(
            NAME,
            vec![WorkerBuilder::new("main"), WorkerBuilder::new("extra")],
        )
        .await
        .unwrap();
    assert_eq!(new, ["extra"]);
    let ops: Vec<Op> = fake.ops().into_iter().skip(before).collect();
    assert!(matches!(ops[0], Op::SetWorkerSettings { .. }));
    let cmds: Vec<_> = ops.iter().filter_map(start_command).collect();
    let mkdir = cmds.iter().find(|c| c.2 == "mkdir").expect("mkdir");
    assert_eq!(paths(&mkdir.3, "paths"), ["/fake/base/extra"]);
    assert_eq!(ops.iter().filter(|o| **o == print("attached")).count(), 1);

    // step-side arguments become absolute wire arguments
    let before = fake.ops().len();
    let cmd = conn
        .start_command(
            "b two",
            "shell",
            CommandArgs::new()
                .with("workdir", "build")
                .with("command", "true")
                .with("want_stdout", 1),
        )
        .await
        .unwrap();
    let r = within(10, "shell", cmd.wait()).await;
    assert!(r.succeeded(false));
    let ops: Vec<Op> = fake.ops().into_iter().skip(before).collect();
    let (builder, _, name, args) = start_command(&ops[0]).unwrap();
    assert_eq!(builder.as_deref(), Some("b two"));
    assert_eq!(name, "shell");
    assert_eq!(paths(&args, "workdir"), ["/fake/base/b_two/build"]);
    assert!(args.contains(&("want_stdout".to_string(), Value::Boolean(true))));
}

async fn raw_http(port: u16, auth: Option<&str>) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut req = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: PzuC0SlV21Uiow4YH0/thw==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = within(10, "http response", s.read(&mut chunk))
            .await
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.starts_with(b"HTTP/1.1 101") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[async_std::test]
async fn authentication_refusals_and_credentials_replacement() {
    let master = Master::start(Master::default_regs()).await;
    let port = master.port();
    assert_eq!(
        raw_http(port, None).await,
        "HTTP/1.1 401 Unauthorized\r\n\r\n"
    );
    assert_eq!(
        raw_http(port, Some(&basic(NAME, "wrong"))).await,
        "HTTP/1.1 401 Unauthorized\r\n\r\n"
    );
    assert_eq!(
        raw_http(port, Some(&basic("nobody", PASSWORD))).await,
        "HTTP/1.1 401 Unauthorized\r\n\r\n"
    );
    assert!(
        raw_http(port, Some("Bearer abc"))
            .await
            .starts_with("HTTP/1.1 400 ")
    );
    assert!(
        raw_http(port, Some("Basic !!!"))
            .await
            .starts_with("HTTP/1.1 400 ")
    );
    let mut reasons = Vec::new();
    for _ in 0..5 {
        match master.next_event(5).await {
            ConnectionEvent::AuthFailed { name, reason, .. } => reasons.push((name, reason)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(reasons[0], (None, "no Authorization header".to_string()));
    assert_eq!(
        reasons[1],
        (Some(NAME.to_string()), "wrong password".to_string())
    );
    assert_eq!(
        reasons[2],
        (
            Some("nobody".to_string()),
            "unknown worker name".to_string()
        )
    );

    // a valid upgrade advertises the extensions
    let ok = raw_http(port, Some(&basic(NAME, PASSWORD))).await;
    assert!(ok.starts_with("HTTP/1.1 101"), "{ok}");
    assert!(
        ok.to_ascii_lowercase()
            .contains("x-buildbot-worker-extensions: keepalive, shutdown-request"),
        "{ok}"
    );

    // reconfig replaces the credentials
    master
        .manager
        .set_workers([WorkerRegistration::new(NAME, "newpass").builders(builders())]);
    assert_eq!(
        FakeWorker::connect(port, Some(&basic(NAME, PASSWORD)), FakeBehaviour::default())
            .await
            .err(),
        Some(401)
    );
    let _fake = FakeWorker::connect(
        port,
        Some(&basic(NAME, "newpass")),
        FakeBehaviour::default(),
    )
    .await
    .unwrap();
    master.wait_attached(10).await;
}

#[async_std::test]
async fn malformed_input_is_handled_and_listener_stays_up() {
    let config = WorkerManagerConfig::new("127.0.0.1:0")
        .max_message_size(1 << 20)
        .handshake_timeout(Duration::from_secs(1));
    let master = Master::start_with(config, Master::default_regs()).await;
    let port = master.port();
    let auth = basic(NAME, PASSWORD);
    let fake = FakeWorker::connect(port, Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    let conn = master.wait_attached(10).await;

    // errors answered, connection kept
    let e = fake
        .call(Op::Unknown {
            op: "frobnicate".into(),
            fields: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProtocolError::Remote { ref message, .. } if message == "Command frobnicate does not exist."),
        "{e}"
    );
    for op in [
        Op::Update {
            command_id: "nope".into(),
            args: vec![],
        },
        Op::Complete {
            command_id: "nope".into(),
            failure: None,
        },
        Op::ReadFile {
            command_id: "nope".into(),
            length: 10,
        },
        Op::UploadFileWrite {
            command_id: "nope".into(),
            data: vec![1, 2],
        },
    ] {
        let e = fake.call(op).await.unwrap_err();
        assert!(
            matches!(e, ProtocolError::Remote { ref message, .. } if message == "'unknown \"command_id\"'"),
            "{e}"
        );
    }
    let e = fake
        .call(Op::Unknown {
            op: "update".into(),
            fields: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProtocolError::Remote { ref message, .. } if message == "'message did not contain obligatory \"command_id\" key'"),
        "{e}"
    );
    assert_eq!(fake.call(Op::Keepalive).await.unwrap(), Value::Nil);
    fake.send_raw(WsMessage::text("hello")).await;
    fake.send_raw(WsMessage::binary(vec![0x92, 0x01, 0x02]))
        .await; // an array: ignored
    assert_eq!(fake.call(Op::Keepalive).await.unwrap(), Value::Nil);
    assert!(conn.is_connected());

    // bad msgpack drops the connection
    fake.send_raw(WsMessage::binary(vec![0xc1])).await;
    assert!(fake.wait_closed(10).await);
    master.wait_detached(10).await;

    // the listener serves the next worker; a huge frame drops it again
    let fake = FakeWorker::connect(port, Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    master.wait_attached(10).await;
    fake.send_raw(WsMessage::binary(vec![0u8; 2 << 20])).await;
    assert!(fake.wait_closed(10).await);
    master.wait_detached(10).await;

    // a silent TCP client is dropped after the handshake timeout
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut b = [0u8; 16];
    let n = within(5, "idle client dropped", idle.read(&mut b))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0);

    // and still serves
    let _fake = FakeWorker::connect(port, Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    master.wait_attached(10).await;
}

#[async_std::test]
async fn silent_worker_after_keepalives_is_dropped() {
    let master = Master::start(Master::default_regs()).await;
    let fake = FakeWorker::connect(
        master.port(),
        Some(&basic(NAME, PASSWORD)),
        FakeBehaviour::default(),
    )
    .await
    .unwrap();
    let conn = master.wait_attached(10).await;
    for _ in 0..3 {
        async_std::task::sleep(Duration::from_millis(300)).await;
        assert_eq!(fake.call(Op::Keepalive).await.unwrap(), Value::Nil);
    }
    let reason = master.wait_detached(10).await;
    assert!(reason.contains("no message from the worker"), "{reason}");
    assert!(!conn.is_connected());
    assert!(fake.wait_closed(5).await);
}

#[async_std::test]
async fn master_keepalive_and_unanswered_keepalive() {
    let master = Master::start(vec![
        WorkerRegistration::new(NAME, PASSWORD)
            .builders(builders())
            .keepalive_interval(Duration::from_secs(1)),
    ])
    .await;
    let fake = FakeWorker::connect(
        master.port(),
        Some(&basic(NAME, PASSWORD)),
        FakeBehaviour::default(),
    )
    .await
    .unwrap();
    master.wait_attached(10).await;
    async_std::task::sleep(Duration::from_millis(3200)).await;
    let keepalives = fake.ops().iter().filter(|o| **o == Op::Keepalive).count();
    assert!(keepalives >= 2, "{keepalives}");
    fake.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    let reason = master.wait_detached(10).await;
    assert!(reason.contains("keepalive"), "{reason}");
}

#[async_std::test]
async fn duplicate_alive_rejects_new_connection() {
    let master = Master::start(Master::default_regs()).await;
    let auth = basic(NAME, PASSWORD);
    let old = FakeWorker::connect(master.port(), Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    let conn = master.wait_attached(10).await;
    let new = FakeWorker::connect(master.port(), Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    assert!(
        new.wait_closed(10).await,
        "the new connection must be closed"
    );
    assert!(
        new.ops().is_empty(),
        "nothing sent to the rejected connection"
    );
    assert!(
        old.ops()
            .contains(&print("master got a duplicate connection"))
    );
    assert!(conn.is_connected());
    master
        .expect_quiet(500, "no change", |e| {
            matches!(
                e,
                ConnectionEvent::Attached(_) | ConnectionEvent::Detached { .. }
            )
        })
        .await;

    // stopping the manager drops every connection and closes the port
    let port = master.port();
    master.manager.stop().await;
    assert!(old.wait_closed(5).await);
    master.wait_detached(5).await;
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[async_std::test]
async fn duplicate_silent_old_connection_is_replaced() {
    let config = WorkerManagerConfig::new("127.0.0.1:0").duplicate_timeout(Duration::from_secs(1));
    let master = Master::start_with(config, Master::default_regs()).await;
    let auth = basic(NAME, PASSWORD);
    let old = FakeWorker::connect(master.port(), Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    let old_conn = master.wait_attached(10).await;
    old.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    // a running command on the old connection ends with "connection lost"
    let c = old_conn.clone();
    let cmd = async_std::task::spawn(async move {
        let cmd = c
            .start_command("main", "shell", CommandArgs::new().with("command", "true"))
            .await
            .expect("a lost connection shows in the outcome");
        cmd.wait().await
    });
    let _new = FakeWorker::connect(master.port(), Some(&auth), FakeBehaviour::default())
        .await
        .unwrap();
    master.wait_detached(10).await;
    let new_conn = master.wait_attached(10).await;
    assert!(!old_conn.is_connected());
    assert!(new_conn.is_connected());
    assert!(old.wait_closed(5).await);
    let r = within(5, "old command", cmd).await;
    assert_eq!(r.outcome, CommandOutcome::ConnectionLost);
    assert!(
        master
            .manager
            .connection(NAME)
            .is_some_and(|c| c.peer_addr() == new_conn.peer_addr())
    );
}

fn last_command_id(fake: &FakeWorker) -> String {
    fake.ops()
        .iter()
        .rev()
        .find_map(start_command)
        .map(|c| c.1)
        .expect("a start_command")
}

async fn finish(fake: &FakeWorker, id: &str, rc: i64) {
    fake.call(Op::Update {
        command_id: id.to_string(),
        args: vec![buildbot_core::protocol::UpdateEntry::Rc(rc)],
    })
    .await
    .unwrap();
    fake.call(Op::Complete {
        command_id: id.to_string(),
        failure: None,
    })
    .await
    .unwrap();
}

fn tar_with_raw_name(name: &[u8], kind: tar::EntryType, link: Option<&[u8]>) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(if kind == tar::EntryType::Regular {
        4
    } else {
        0
    });
    header.set_mode(0o644);
    if let Some(l) = link {
        header.as_old_mut().linkname[..l.len()].copy_from_slice(l);
    }
    header.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    let data: &[u8] = if kind == tar::EntryType::Regular {
        b"evil"
    } else {
        b""
    };
    b.append(&header, data).unwrap();
    b.into_inner().unwrap()
}

#[async_std::test]
async fn transfer_ops_driven_by_a_scripted_worker() {
    let master = Master::start(Master::default_regs()).await;
    let behaviour = FakeBehaviour {
        hold_build_commands: true,
        ..FakeBehaviour::default()
    };
    let fake = FakeWorker::connect(master.port(), Some(&basic(NAME, PASSWORD)), behaviour)
        .await
        .unwrap();
    let conn = master.wait_attached(10).await;
    let tmp = tempfile::tempdir().unwrap();

    // download: bin of at most `length` bytes, then an EMPTY BIN (not nil) at EOF
    let cmd = conn
        .download_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workerdest", "x"),
            DownloadSource::Bytes(b"0123456789".to_vec()),
            TransferOptions::new(),
        )
        .await
        .unwrap();
    let id = last_command_id(&fake);
    let read = |n| Op::ReadFile {
        command_id: id.clone(),
        length: n,
    };
    assert_eq!(
        fake.call(read(4)).await.unwrap(),
        Value::Binary(b"0123".to_vec())
    );
    assert_eq!(
        fake.call(read(100)).await.unwrap(),
        Value::Binary(b"456789".to_vec())
    );
    assert_eq!(fake.call(read(100)).await.unwrap(), Value::Binary(vec![]));
    fake.call(Op::ReadFileClose {
        command_id: id.clone(),
    })
    .await
    .unwrap();
    finish(&fake, &id, 0).await;
    assert!(within(5, "download", cmd.wait()).await.succeeded(true));
    // after complete the id is forgotten
    assert!(fake.call(read(1)).await.is_err());

    // upload_file: write, close, utime
    let dest = tmp.path().join("a/b/up.bin");
    let cmd = conn
        .upload_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "up.bin"),
            &dest,
            TransferOptions::new().maxsize(6).mode(0o600),
        )
        .await
        .unwrap();
    let id = last_command_id(&fake);
    for chunk in [&b"abcd"[..], b"efgh"] {
        fake.call(Op::UploadFileWrite {
            command_id: id.clone(),
            data: chunk.to_vec(),
        })
        .await
        .unwrap();
    }
    assert!(!dest.exists(), "renamed only on close");
    fake.call(Op::UploadFileClose {
        command_id: id.clone(),
    })
    .await
    .unwrap();
    fake.call(Op::UploadFileUtime {
        command_id: id.clone(),
        access_time: 1_000_000_000.5,
        modified_time: 1_100_000_000.25,
    })
    .await
    .unwrap();
    finish(&fake, &id, 0).await;
    let r = within(5, "upload", cmd.wait()).await;
    assert!(r.succeeded(true), "{r:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"abcdef");
    let meta = std::fs::metadata(&dest).unwrap();
    let mtime = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert_eq!(mtime, Duration::from_secs_f64(1_100_000_000.25));

    // an upload that never closes leaves nothing behind
    let dest = tmp.path().join("never.bin");
    let cmd = conn
        .upload_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "x"),
            &dest,
            TransferOptions::new(),
        )
        .await
        .unwrap();
    let id = last_command_id(&fake);
    fake.call(Op::UploadFileWrite {
        command_id: id.clone(),
        data: b"partial".to_vec(),
    })
    .await
    .unwrap();
    finish(&fake, &id, 1).await;
    within(5, "upload", cmd.wait()).await;
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "only a/");

    // unsafe archives are refused at unpack
    for (name, kind, link) in [
        (&b"../evil"[..], tar::EntryType::Regular, None),
        (b"/abs-evil", tar::EntryType::Regular, None),
        (b"dev", tar::EntryType::Char, None),
        (
            b"sub/link",
            tar::EntryType::Symlink,
            Some(&b"../../outside"[..]),
        ),
        (
            b"abslink",
            tar::EntryType::Symlink,
            Some(&b"/etc/passwd"[..]),
        ),
    ] {
        let ddest = tmp.path().join("tree/inner");
        let cmd = conn
            .upload_directory(
                "main",
                CommandArgs::new()
                    .with("workdir", "build")
                    .with("workersrc", "d"),
                &ddest,
                TransferOptions::new(),
            )
            .await
            .unwrap();
        let id = last_command_id(&fake);
        fake.call(Op::UploadDirectoryWrite {
            command_id: id.clone(),
            data: tar_with_raw_name(name, kind, link),
        })
        .await
        .unwrap();
        let e = fake
            .call(Op::UploadDirectoryUnpack {
                command_id: id.clone(),
            })
            .await
            .unwrap_err();
        assert!(matches!(e, ProtocolError::Remote { .. }), "{e}");
        finish(&fake, &id, 1).await;
        let r = within(5, "upload dir", cmd.wait()).await;
        assert!(matches!(r.outcome, CommandOutcome::Failed { .. }), "{r:?}");
        assert!(!tmp.path().join("tree/evil").exists());
        assert!(!tmp.path().join("abs-evil").exists());
        assert!(!ddest.join("dev").exists());
        assert!(std::fs::symlink_metadata(ddest.join("abslink")).is_err());
    }

    // a safe archive with an inside symlink is extracted
    let ddest = tmp.path().join("good");
    let cmd = conn
        .upload_directory(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "d"),
            &ddest,
            TransferOptions::new(),
        )
        .await
        .unwrap();
    let id = last_command_id(&fake);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "dir/file.txt", &b"good"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_cksum();
    b.append_link(&mut h, "dir/link", "file.txt").unwrap();
    fake.call(Op::UploadDirectoryWrite {
        command_id: id.clone(),
        data: b.into_inner().unwrap(),
    })
    .await
    .unwrap();
    fake.call(Op::UploadDirectoryUnpack {
        command_id: id.clone(),
    })
    .await
    .unwrap();
    finish(&fake, &id, 0).await;
    assert!(within(5, "upload dir", cmd.wait()).await.succeeded(true));
    assert_eq!(std::fs::read(ddest.join("dir/link")).unwrap(), b"good");
}
