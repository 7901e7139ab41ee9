//! Remote-command scenarios run against any real worker (Python 4.3 or ours).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use buildbot_core::master::workers::*;
use buildbot_core::protocol::Value;

use super::harness::within;

pub fn list(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

pub fn shell_args(command: Value) -> CommandArgs {
    CommandArgs::new()
        .with("workdir", "build")
        .with("command", command)
        .with("env", Value::Map(vec![]))
        .with("want_stdout", 1)
        .with("want_stderr", 1)
        .with("logfiles", Value::Map(vec![]))
        .with("timeout", 1200)
        .with("maxTime", Value::Nil)
        .with("max_lines", Value::Nil)
        .with("sigtermTime", Value::Nil)
        .with("usePTY", false)
        .with("logEnviron", false)
        .with("initial_stdin", Value::Nil)
        .with("interruptSignal", "KILL")
}

pub async fn run(conn: &WorkerConnection, command: &str, args: CommandArgs) -> CommandResult {
    let cmd = conn
        .start_command("main", command, args)
        .await
        .expect("start_command");
    within(60, command, cmd.wait()).await
}

pub async fn shell(conn: &WorkerConnection, command: Value) -> CommandResult {
    run(conn, "shell", shell_args(command)).await
}

/// Every scenario, in order. `basedir` is the worker's base directory on this machine.
pub async fn all(conn: &WorkerConnection, basedir: &Path) {
    let bdir = basedir.join("main");
    assert_eq!(conn.builder_dir("main"), bdir.to_str().unwrap());
    assert!(conn.info().admin.is_some(), "{:?}", conn.info());
    assert_eq!(conn.info().basedir, basedir.to_str().unwrap());
    assert_eq!(conn.info().path_flavour(), PathFlavour::Posix);
    assert!(conn.info().worker_commands.contains_key("shell"));
    // builder directories were created by the session start
    for d in ["main", "my_builder_x", "custom-dir"] {
        assert!(basedir.join(d).is_dir(), "builder dir {d} missing");
    }
    conn.ping().await.expect("ping");

    // shell success, streamed update by update
    let mut cmd = conn
        .start_command("main", "shell", shell_args(list(&["echo", "hello"])))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(u) = within(30, "update", cmd.next_update()).await {
        seen.push(u);
    }
    let r = cmd.wait().await;
    assert_eq!(r.outcome, CommandOutcome::Completed);
    assert_eq!(r.rc, Some(0));
    assert!(r.elapsed.is_some());
    assert!(r.updates.is_empty());
    let stdout: String = seen
        .iter()
        .filter_map(|u| match u {
            CommandUpdate::Stdout(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(stdout, "hello\n");
    let header: String = seen
        .iter()
        .filter_map(|u| match u {
            CommandUpdate::Header(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(header.starts_with("echo hello\n"), "{header}");
    assert!(
        header.contains(&format!(" in dir {}", bdir.join("build").display())),
        "{header}"
    );
    assert!(seen.iter().any(|u| matches!(u, CommandUpdate::Rc(0))));

    // failure
    let r = shell(conn, Value::from("echo to-stderr 1>&2; exit 1")).await;
    assert_eq!(r.outcome, CommandOutcome::Completed);
    assert_eq!(r.rc, Some(1));
    assert_eq!(r.text("stderr"), "to-stderr\n");
    assert!(!r.succeeded(false));

    // timeout without output
    let mut args = shell_args(list(&["sleep", "30"]));
    args.set("timeout", 1);
    let r = run(conn, "shell", args).await;
    assert_eq!(r.outcome, CommandOutcome::Completed);
    assert_eq!(r.rc, Some(-1));
    assert_eq!(r.failure_reason.as_deref(), Some("timeout_without_output"));

    // interrupt
    let cmd = conn
        .start_command("main", "shell", shell_args(list(&["sleep", "60"])))
        .await
        .unwrap();
    async_std::task::sleep(Duration::from_millis(500)).await;
    cmd.interrupt("stopped by test").await.unwrap();
    let r = within(30, "interrupted command", cmd.wait()).await;
    assert_eq!(
        r.outcome,
        CommandOutcome::Interrupted {
            why: "stopped by test".into()
        }
    );
    assert_eq!(r.rc, Some(-1));
    assert_eq!(r.elapsed, None);

    // env merging
    let mut args = shell_args(Value::from("echo \"$FOO|$LIST|${GONE:-unset}\""));
    args.set(
        "env",
        Value::Map(vec![
            (Value::from("FOO"), Value::from("bar")),
            (Value::from("LIST"), list(&["/a", "/b"])),
            (Value::from("GONE"), Value::Nil),
        ]),
    );
    let r = run(conn, "shell", args).await;
    assert_eq!(r.text("stdout"), "bar|/a:/b|unset\n");

    // files for the transfers
    let r = shell(
        conn,
        Value::from("printf 'upload-content\\n' > up.txt; mkdir -p d/e; echo x > d/e/f.txt; echo y > d/g.txt; ln -s g.txt d/link"),
    )
    .await;
    assert_eq!(r.rc, Some(0), "{:?}", r);
    let master_dir = tempfile::tempdir().unwrap();

    // upload_file with mode
    let dest = master_dir.path().join("sub/dir/up.txt");
    let cmd = conn
        .upload_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "up.txt"),
            &dest,
            TransferOptions::new().mode(0o640),
        )
        .await
        .unwrap();
    let r = within(30, "upload", cmd.wait()).await;
    assert!(r.succeeded(true), "{r:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"upload-content\n");
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o640
    );
    // no temporary files left behind
    assert_eq!(
        std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
        1
    );

    // keepstamp: utime applied (the Python 4.3 master fails here)
    let src_mtime = std::fs::metadata(bdir.join("build/up.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let dest2 = master_dir.path().join("stamped.txt");
    let cmd = conn
        .upload_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "up.txt")
                .with("keepstamp", true),
            &dest2,
            TransferOptions::new(),
        )
        .await
        .unwrap();
    let r = within(30, "upload keepstamp", cmd.wait()).await;
    assert!(r.succeeded(true), "{r:?}");
    let got = std::fs::metadata(&dest2).unwrap().modified().unwrap();
    let diff = got
        .duration_since(src_mtime)
        .unwrap_or_else(|e| e.duration());
    assert!(
        diff < Duration::from_millis(2),
        "mtime {got:?} vs {src_mtime:?}"
    );

    // truncation at maxsize
    let dest3 = master_dir.path().join("trunc.txt");
    let cmd = conn
        .upload_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "up.txt")
                .with("blocksize", 4),
            &dest3,
            TransferOptions::new().maxsize(10),
        )
        .await
        .unwrap();
    let r = within(30, "upload truncated", cmd.wait()).await;
    assert_eq!(r.rc, Some(1));
    assert!(
        r.text("stderr").contains("Maximum filesize reached"),
        "{r:?}"
    );
    assert_eq!(std::fs::read(&dest3).unwrap(), b"upload-con");

    // missing source
    let dest4 = master_dir.path().join("missing.txt");
    let cmd = conn
        .upload_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workersrc", "nope.txt"),
            &dest4,
            TransferOptions::new(),
        )
        .await
        .unwrap();
    let r = within(30, "upload missing", cmd.wait()).await;
    assert_eq!(r.rc, Some(1));

    // upload_directory, gz and bz2 and plain
    for (i, c) in [Compression::Gz, Compression::Bz2, Compression::None]
        .into_iter()
        .enumerate()
    {
        let ddest = master_dir.path().join(format!("tree{i}"));
        let cmd = conn
            .upload_directory(
                "main",
                CommandArgs::new()
                    .with("workdir", "build")
                    .with("workersrc", "d"),
                &ddest,
                TransferOptions::new().compress(c),
            )
            .await
            .unwrap();
        let r = within(30, "upload directory", cmd.wait()).await;
        assert!(r.succeeded(true), "{c:?}: {r:?}");
        assert_eq!(std::fs::read(ddest.join("e/f.txt")).unwrap(), b"x\n");
        assert_eq!(std::fs::read(ddest.join("g.txt")).unwrap(), b"y\n");
        assert_eq!(
            std::fs::read_link(ddest.join("link")).unwrap(),
            Path::new("g.txt")
        );
    }

    // download from memory
    let cmd = conn
        .download_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workerdest", "dl/x.txt"),
            DownloadSource::Bytes(b"hello download\n".to_vec()),
            TransferOptions::new().mode(0o600),
        )
        .await
        .unwrap();
    let r = within(30, "download", cmd.wait()).await;
    assert!(r.succeeded(true), "{r:?}");
    let got = bdir.join("build/dl/x.txt");
    assert_eq!(std::fs::read(&got).unwrap(), b"hello download\n");
    assert_eq!(
        std::fs::metadata(&got).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // download from a file, several blocks
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let src = master_dir.path().join("big.bin");
    std::fs::write(&src, &big).unwrap();
    let cmd = conn
        .download_file(
            "main",
            CommandArgs::new()
                .with("workdir", "build")
                .with("workerdest", "big.bin"),
            DownloadSource::File(src),
            TransferOptions::new(),
        )
        .await
        .unwrap();
    let r = within(30, "download big", cmd.wait()).await;
    assert!(r.succeeded(true), "{r:?}");
    assert_eq!(std::fs::read(bdir.join("build/big.bin")).unwrap(), big);

    // file-system commands
    let r = run(
        conn,
        "mkdir",
        CommandArgs::new().with("dir", list(&["newdir/sub", "other"])),
    )
    .await;
    assert_eq!(r.rc, Some(0));
    assert!(bdir.join("newdir/sub").is_dir() && bdir.join("other").is_dir());
    let r = run(
        conn,
        "stat",
        CommandArgs::new()
            .with("file", "up.txt")
            .with("workdir", "build"),
    )
    .await;
    assert_eq!(r.rc, Some(0));
    let st = r.stat.expect("stat");
    assert_eq!(st.len(), 10);
    assert_eq!(st[6], 15, "size");
    assert_eq!(st[0] & 0o170000, 0o100000, "regular file");
    let r = run(conn, "glob", CommandArgs::new().with("path", "build/*.txt")).await;
    assert_eq!(r.rc, Some(0));
    let files = r.files.expect("files");
    assert!(
        files.contains(&bdir.join("build/up.txt").to_str().unwrap().to_string()),
        "{files:?}"
    );
    let r = run(conn, "listdir", CommandArgs::new().with("dir", "build")).await;
    let mut files = r.files.expect("files");
    files.sort();
    assert!(
        files.contains(&"up.txt".to_string()) && files.contains(&"d".to_string()),
        "{files:?}"
    );
    let r = run(
        conn,
        "cpdir",
        CommandArgs::new()
            .with("fromdir", "build/d")
            .with("todir", "copy"),
    )
    .await;
    assert_eq!(r.rc, Some(0));
    assert!(bdir.join("copy/e/f.txt").is_file());
    let r = run(
        conn,
        "rmfile",
        CommandArgs::new().with("path", "build/up.txt"),
    )
    .await;
    assert_eq!(r.rc, Some(0));
    assert!(!bdir.join("build/up.txt").exists());
    let r = run(conn, "rmdir", CommandArgs::new().with("dir", "newdir")).await;
    assert_eq!(r.rc, Some(0));
    assert!(!bdir.join("newdir").exists());
    // an fs error is an errno rc with a header
    let r = run(
        conn,
        "stat",
        CommandArgs::new()
            .with("file", "nope")
            .with("workdir", "build"),
    )
    .await;
    assert_eq!(r.rc, Some(2));

    // a command the worker does not know is refused at start
    let err = conn
        .start_command("main", "frobnicate", CommandArgs::new())
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerManagerError::Request { .. }), "{err}");
    assert_eq!(conn.running_commands(), 0);
}
