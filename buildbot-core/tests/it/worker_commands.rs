//! Every command against the fake master, with real processes and files.

use std::io::Read;
use std::time::{Duration, Instant};

use buildbot_core::protocol::{Op, UpdateEntry, Value};

use crate::harness::*;

#[async_std::test]
async fn fs_commands_and_errno_headers() {
    let (_m, w, conn) = setup().await;
    let b1 = w.path("b1");
    std::fs::create_dir_all(format!("{b1}/tree/sub")).unwrap();
    std::fs::write(format!("{b1}/up.txt"), "upload-content\n").unwrap();
    std::fs::write(format!("{b1}/tree/sub/f.txt"), "x\n").unwrap();

    let log = conn
        .run("stat", vec![("path", s(&format!("{b1}/up.txt")))])
        .await;
    assert_eq!(log.keys(), vec!["stat", "rc", "elapsed"]);
    let stat = log
        .updates
        .iter()
        .find_map(|u| match u {
            UpdateEntry::Stat(v) => Some(v.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(stat.len(), 10);
    assert_eq!(stat[6], 15);
    assert_eq!(stat[0] & 0o170000, 0o100000);

    let missing = format!("{b1}/missing");
    let log = conn.run("stat", vec![("path", s(&missing))]).await;
    assert_eq!(log.keys(), vec!["rc", "elapsed", "header"]);
    assert_eq!(log.rc(), Some(2));
    assert_eq!(
        log.text("header"),
        format!("stat: No such file or directory: {missing}\n")
    );
    let log = conn
        .run("listdir", vec![("path", s(&format!("{b1}/nope")))])
        .await;
    assert_eq!(log.rc(), Some(2));
    assert_eq!(
        log.text("header"),
        format!("listdir: No such file or directory: {b1}/nope\n")
    );
    let log = conn
        .run("glob", vec![("path", s(&format!("{b1}/**/*.txt")))])
        .await;
    let mut files = log.files().unwrap();
    files.sort();
    assert_eq!(
        files,
        vec![format!("{b1}/tree/sub/f.txt"), format!("{b1}/up.txt")]
    );
    assert_eq!(log.keys(), vec!["files", "rc", "elapsed"]);

    let log = conn
        .run(
            "cpdir",
            vec![
                ("from_path", s(&format!("{b1}/tree"))),
                ("to_path", s(&format!("{b1}/copy/tree2"))),
                ("logEnviron", Value::Boolean(false)),
            ],
        )
        .await;
    assert_eq!(log.rc(), Some(0));
    assert!(std::path::Path::new(&format!("{b1}/copy/tree2/sub/f.txt")).is_file());
    let header = log.text("header");
    assert!(
        header.starts_with(&format!(
            "cp -R -P -p -v {b1}/tree {b1}/copy/tree2\n in dir {} (timeout 120 secs)\n",
            w.basedir.display()
        )),
        "{header}"
    );
    assert!(log.text("stdout").contains("->"));
    // header elapsedTime precedes rc (the helper's rc is not sent)
    let keys = log.keys();
    assert_eq!(&keys[keys.len() - 2..], &["rc", "elapsed"]);

    let log = conn
        .run("rmfile", vec![("path", s(&format!("{b1}/up.txt")))])
        .await;
    assert_eq!(log.keys(), vec!["rc", "elapsed"]);
    assert!(!std::path::Path::new(&format!("{b1}/up.txt")).exists());
    let log = conn
        .run("rmfile", vec![("path", s(&format!("{b1}/up.txt")))])
        .await;
    assert_eq!(log.rc(), Some(2));
    assert_eq!(
        log.text("header"),
        format!("rmfile: No such file or directory: {b1}/up.txt\n")
    );

    // rmdir of a tree with a read-only directory and a missing path
    std::fs::create_dir_all(format!("{b1}/ro/inner")).unwrap();
    std::fs::write(format!("{b1}/ro/inner/f"), "x").unwrap();
    let log = conn
        .run(
            "rmdir",
            vec![
                (
                    "paths",
                    arr(&[&format!("{b1}/copy"), &format!("{b1}/nonexistent")]),
                ),
                ("logEnviron", Value::Boolean(false)),
            ],
        )
        .await;
    assert_eq!(log.rc(), Some(0));
    assert_eq!(log.keys(), vec!["header", "rc", "elapsed"]);
    assert!(log.text("header").contains(&format!("rm -rf {b1}/copy\n")));
    assert!(!std::path::Path::new(&format!("{b1}/copy")).exists());

    let log = conn
        .run("mkdir", vec![("paths", arr(&[&format!("{b1}/a/b/c")]))])
        .await;
    assert_eq!(log.rc(), Some(0));
    std::fs::write(format!("{b1}/file"), "x").unwrap();
    let log = conn
        .run("mkdir", vec![("paths", arr(&[&format!("{b1}/file/sub")]))])
        .await;
    assert_eq!(log.rc(), Some(20));
    assert_eq!(log.keys(), vec!["rc", "elapsed", "header"]);
    assert_eq!(
        log.text("header"),
        format!("mkdir: Not a directory: {b1}/file/sub\n")
    );
    // stat without path: failure in complete (Python's misspelt required args)
    let log = conn.run("stat", vec![]).await;
    assert!(log.complete.unwrap().is_some());
}

#[async_std::test]
async fn shell_success_failure_headers_and_partial_lines() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1/build");
    let mut args = shell_args(&wd, arr(&["echo", "hello world"]));
    set_arg(&mut args, "logEnviron", Value::Boolean(true));
    let log = conn.run("shell", args).await;
    let header = log.text("header");
    assert!(
        header.starts_with(&format!(
            "echo 'hello world'\n in dir {wd} (timeout 1200 secs)\n watching logfiles {{}}\n argv: [b'echo', b'hello world']\n environment:\n"
        )),
        "{header}"
    );
    assert!(header.contains(&format!("  PWD={wd}\n")) && header.contains(" using PTY: False\n"));
    assert!(header.ends_with('\n') && header.contains("elapsedTime="));
    assert_eq!(log.text("stdout"), "hello world\n");
    assert_eq!(
        log.keys(),
        vec!["header", "stdout", "rc", "header", "elapsed"]
    );
    assert_eq!(log.rc(), Some(0));
    assert!(std::path::Path::new(&wd).is_dir());

    let args = shell_args(
        &wd,
        s("echo to-stderr 1>&2; echo line1; printf \"no-newline\""),
    );
    let log = conn.run("shell", args).await;
    assert!(
        log.text("header")
            .contains(" argv: b'echo to-stderr 1>&2; echo line1; printf \"no-newline\"'\n")
    );
    assert_eq!(log.text("stderr"), "to-stderr\n");
    assert_eq!(log.text("stdout"), "line1\nno-newline\n");
    // the flushed partial line comes after rc and elapsed
    let keys = log.keys();
    assert_eq!(
        &keys[keys.len() - 4..],
        &["rc", "header", "elapsed", "stdout"]
    );

    let log = conn
        .run(
            "shell",
            shell_args(&wd, arr(&["sh", "-c", "echo failing; exit 1"])),
        )
        .await;
    assert_eq!(log.rc(), Some(1));
    assert_eq!(log.complete, Some(None));

    // spawn failure: rc 1 and a stderr message
    let log = conn
        .run("shell", shell_args(&wd, arr(&["/nonexistent/binary"])))
        .await;
    assert_eq!(log.rc(), Some(1));
    assert!(
        log.text("stderr").contains("No such file or directory"),
        "{}",
        log.text("stderr")
    );

    // want_stdout = false
    let mut args = shell_args(&wd, arr(&["sh", "-c", "echo err >&2; echo out"]));
    set_arg(&mut args, "want_stdout", Value::Boolean(false));
    let log = conn.run("shell", args).await;
    assert_eq!(log.text("stdout"), "");
    assert_eq!(log.text("stderr"), "err\n");

    // CR handling and backspaces
    let log = conn
        .run(
            "shell",
            shell_args(
                &wd,
                s("printf 'a\\r\\nb\\rc\\r'; printf 'x%.0s' $(seq 1 10); echo"),
            ),
        )
        .await;
    assert_eq!(log.text("stdout"), "a\nb\nc\nxxxxxxxxxx\n");

    // obfuscated argument: run with the real value, display the fake one
    let cmd = Value::Array(vec![
        s("echo"),
        Value::Array(vec![s("obfuscated"), s("secret"), s("XXX")]),
    ]);
    let log = conn.run("shell", shell_args(&wd, cmd)).await;
    assert_eq!(log.text("stdout"), "secret\n");
    assert!(log.text("header").starts_with("echo XXX\n"));
    assert!(!log.text("header").contains("secret"));
}

#[async_std::test]
async fn shell_env_stdin_pty_logfiles() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1/build");
    let mut args = shell_args(
        &wd,
        arr(&[
            "sh",
            "-c",
            "echo \"FOO=$FOO\"; echo \"P=$PYTHONPATH\"; echo \"H=$HOME\"; echo \"X=$X\"; echo \"PWD=$PWD\"; echo logged > my.log",
        ]),
    );
    set_arg(
        &mut args,
        "env",
        map(vec![
            ("FOO", s("bar")),
            ("PYTHONPATH", arr(&["/a", "/b"])),
            ("HOME", Value::Nil),
            ("X", s("${PATH}-x")),
        ]),
    );
    set_arg(&mut args, "logfiles", map(vec![("mylog", s("my.log"))]));
    let log = conn.run("shell", args).await;
    let path = std::env::var("PATH").unwrap();
    let pp = std::env::var("PYTHONPATH").unwrap_or_default();
    assert_eq!(
        log.text("stdout"),
        format!("FOO=bar\nP=/a:/b:{pp}\nH=\nX={path}-x\nPWD={wd}\n")
    );
    assert_eq!(log.text("mylog"), "logged\n");
    assert!(
        log.text("header")
            .contains(" watching logfiles {'mylog': 'my.log'}\n")
    );
    let keys = log.keys();
    let log_pos = keys.iter().position(|k| k == "log").unwrap();
    let rc_pos = keys.iter().position(|k| k == "rc").unwrap();
    assert!(log_pos < rc_pos);

    // a logfile with follow=true written during the run, polled every 2 s
    let mut args = shell_args(
        &wd,
        arr(&[
            "sh",
            "-c",
            "echo old > f.log; sleep 2.5; echo new >> f.log; sleep 2.5",
        ]),
    );
    std::fs::write(format!("{wd}/f.log"), "before\n").unwrap();
    set_arg(
        &mut args,
        "logfiles",
        map(vec![(
            "f",
            map(vec![
                ("filename", s("f.log")),
                ("follow", Value::Boolean(true)),
            ]),
        )]),
    );
    let log = conn.run("shell", args).await;
    assert!(log.text("f").ends_with("new\n"), "{:?}", log.text("f"));
    assert!(!log.text("f").contains("before"));

    let mut args = shell_args(&wd, arr(&["cat"]));
    set_arg(&mut args, "initial_stdin", s("line via stdin\n"));
    let log = conn.run("shell", args).await;
    assert_eq!(log.text("stdout"), "line via stdin\n");
    assert!(
        log.text("header")
            .contains(" writing 15 bytes to stdin\n using PTY: False\n")
    );

    let mut args = shell_args(&wd, arr(&["sh", "-c", "tty; echo crlf-check"]));
    set_arg(&mut args, "usePTY", Value::Boolean(true));
    let log = conn.run("shell", args).await;
    let out = log.text("stdout");
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    assert!(out.ends_with("\ncrlf-check\n"), "{out:?}");
    assert!(log.text("header").contains(" using PTY: True\n"));
    assert_eq!(log.rc(), Some(0));

    // usePTY with initial_stdin: PTY dropped with a warning
    let mut args = shell_args(&wd, arr(&["cat"]));
    set_arg(&mut args, "usePTY", Value::Boolean(true));
    set_arg(&mut args, "initial_stdin", s("x\n"));
    let log = conn.run("shell", args).await;
    assert!(
        log.text("header")
            .starts_with("WARNING: disabling usePTY for this command\n")
    );
    assert_eq!(log.text("stdout"), "x\n");

    // latin-1 / invalid UTF-8 output is replaced, not fatal
    let log = conn
        .run("shell", shell_args(&wd, s("printf 'caf\\351\\n'")))
        .await;
    assert_eq!(log.text("stdout"), "caf\u{fffd}\n");
}

#[async_std::test]
async fn shell_finds_programs_in_the_commands_path() {
    use std::os::unix::fs::PermissionsExt;
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1/build");
    std::fs::create_dir_all(&wd).unwrap();
    // d1 holds a non-executable file of the name (skipped, as execvpe does), d2 the tool,
    // and the relative entry `bin` is relative to the command's working directory
    let tool = |dir: &str, name: &str, text: &str, mode: u32| {
        std::fs::create_dir_all(dir).unwrap();
        let p = format!("{dir}/{name}");
        std::fs::write(&p, format!("#!/bin/sh\necho {text} \"$@\"\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let d1 = w.path("d1");
    let d2 = w.path("d2");
    tool(&d1, "bbtool", "wrong", 0o644);
    tool(&d2, "bbtool", "from-d2", 0o755);
    tool(&format!("{wd}/bin"), "bbtool2", "from-workdir-bin", 0o755);
    let with_path = |cmd: &[&str]| {
        let mut args = shell_args(&wd, arr(cmd));
        set_arg(
            &mut args,
            "env",
            map(vec![("PATH", s(&format!("{d1}:{d2}:bin:${{PATH}}")))]),
        );
        args
    };
    let log = conn.run("shell", with_path(&["bbtool", "x"])).await;
    assert_eq!(log.text("stdout"), "from-d2 x\n");
    let log = conn.run("shell", with_path(&["bbtool2"])).await;
    assert_eq!(log.text("stdout"), "from-workdir-bin\n");
    // the program keeps the name it was given as argv[0]
    let log = conn
        .run(
            "shell",
            with_path(&["sh", "-c", "tr '\\0' ' ' < /proc/$$/cmdline"]),
        )
        .await;
    assert!(
        log.text("stdout").starts_with("sh -c "),
        "{:?}",
        log.text("stdout")
    );
    // not found anywhere: exec's own error, as before
    let log = conn.run("shell", with_path(&["bbtool-missing"])).await;
    assert_eq!(log.rc(), Some(1));
    assert!(
        log.text("stderr")
            .contains("Upon execvpe b'bbtool-missing'")
            && log.text("stderr").contains("FileNotFoundError"),
        "{}",
        log.text("stderr")
    );
}

#[async_std::test]
async fn latin1_encoding() {
    let (_m, w, conn) = setup_with(MasterOpts::default(), |c| {
        c.unicode_encoding = Some("latin-1".into())
    })
    .await;
    let log = conn
        .run("shell", shell_args(&w.path("b"), s("printf 'caf\\351\\n'")))
        .await;
    assert_eq!(log.text("stdout"), "café\n");
}

#[async_std::test]
async fn shell_timeouts_max_lines_and_interrupt() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1/build");
    let started = Instant::now();
    let mut args = shell_args(&wd, arr(&["sleep", "30"]));
    set_arg(&mut args, "timeout", Value::from(1));
    let log = conn.run("shell", args).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(log.rc(), Some(-1));
    assert!(
        log.updates
            .contains(&UpdateEntry::FailureReason("timeout_without_output".into()))
    );
    let header = log.text("header");
    assert!(header.contains(" (timeout 1 sec)\n"), "{header}");
    assert!(header.contains("\ncommand timed out: 1 seconds without output running [b'sleep', b'30'], attempting to kill\nprocess killed by signal 9\n"), "{header}");
    assert!(log.has("elapsed"));

    let mut args = shell_args(&wd, arr(&["sleep", "30"]));
    set_arg(&mut args, "maxTime", Value::from(1));
    set_arg(&mut args, "sigtermTime", Value::from(1));
    let log = conn.run("shell", args).await;
    assert_eq!(log.rc(), Some(-1));
    assert!(
        log.updates
            .contains(&UpdateEntry::FailureReason("timeout".into()))
    );
    assert!(log.text("header").contains("command timed out: 1 seconds elapsed running [b'sleep', b'30'], attempting to kill\nprocess killed by signal 15\n"));

    let mut args = shell_args(&wd, arr(&["seq", "1", "10"]));
    set_arg(&mut args, "max_lines", Value::from(3));
    let log = conn.run("shell", args).await;
    assert!(
        log.updates
            .contains(&UpdateEntry::FailureReason("max_lines_failure".into()))
    );
    assert!(log.text("header").contains("command exceeds max lines: 10/3 written/allowed running [b'seq', b'1', b'10'], attempting to kill"));
    assert_eq!(log.rc(), Some(-1));

    // interrupt: the whole process group dies (the grandchild sleep too)
    let pidfile = format!("{wd}/grandchild.pid");
    let id = conn.fresh_id();
    conn.start(
        &id,
        "shell",
        shell_args(
            &wd,
            arr(&[
                "sh",
                "-c",
                &format!("echo started; sleep 60 & echo $! > {pidfile}; wait"),
            ]),
        ),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&pidfile).exists()
        || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty()
    {
        assert!(Instant::now() < deadline);
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    conn.call(Op::InterruptCommand {
        builder_name: None,
        command_id: id.clone(),
        why: "stopped by test".into(),
    })
    .await
    .unwrap();
    let log = conn.wait_complete(&id, Duration::from_secs(10)).await;
    assert_eq!(log.rc(), Some(-1));
    assert!(!log.has("elapsed"));
    assert!(
        log.text("header")
            .contains("\ncommand interrupted, attempting to kill\nprocess killed by signal 9\n")
    );
    assert_eq!(log.text("stdout"), "started\n");
    async_std::task::sleep(Duration::from_millis(200)).await;
    assert!(!process_alive(pid), "grandchild {pid} survived");
}

pub fn process_alive(pid: i32) -> bool {
    // a zombie counts as dead
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).unwrap_or("").starts_with('Z'),
        Err(_) => false,
    }
}

#[async_std::test]
async fn long_lines_and_bulk_output_chunking() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1/build");
    // ~80 KB of short lines plus a 10000-character line
    let log = conn
        .run(
            "shell",
            shell_args(
                &wd,
                s("seq 1 15000; head -c 10000 /dev/zero | tr '\\0' 'x'; echo"),
            ),
        )
        .await;
    let out = log.text("stdout");
    let expected_numbers: String = (1..=15000).map(|i| format!("{i}\n")).collect();
    assert!(out.starts_with(&expected_numbers));
    let tail = &out[expected_numbers.len()..];
    // no character lost, every piece ≤ 4095 characters
    assert_eq!(tail.replace('\n', ""), "x".repeat(10000));
    assert!(tail.split('\n').all(|l| l.len() <= 4095));
    assert!(log.update_messages >= 2, "bulk output must be chunked");
    for u in &log.updates {
        assert!(u.accounted_size() <= 65536);
    }
    // offsets of every chunk point at its newlines
    for u in &log.updates {
        if let UpdateEntry::Stdout(c) = u {
            let chars: Vec<char> = c.text.chars().collect();
            assert_eq!(c.newline_offsets.len(), c.line_times.len());
            for o in &c.newline_offsets {
                assert_eq!(chars[*o as usize], '\n');
            }
        }
    }
}

#[async_std::test]
async fn buffer_timeout_sends_early_updates() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1/build");
    let settings = buildbot_core::protocol::WorkerSettings {
        buffer_timeout: 1.0,
        ..Default::default()
    };
    conn.call(Op::SetWorkerSettings { args: settings })
        .await
        .unwrap();
    let id = conn.fresh_id();
    conn.start(
        &id,
        "shell",
        shell_args(&wd, s("echo first; sleep 3; echo second")),
    )
    .await
    .unwrap();
    async_std::task::sleep(Duration::from_millis(2000)).await;
    let partial = conn.log(&id);
    assert_eq!(partial.text("stdout"), "first\n");
    assert!(partial.complete.is_none());
    let log = conn.wait_complete(&id, Duration::from_secs(10)).await;
    assert_eq!(log.text("stdout"), "first\nsecond\n");
}

#[async_std::test]
async fn concurrent_commands() {
    let (_m, w, conn) = setup().await;
    let wd = w.path("b1");
    conn.start(
        "slow",
        "shell",
        shell_args(&wd, arr(&["sh", "-c", "sleep 1; echo A"])),
    )
    .await
    .unwrap();
    conn.start(
        "fast",
        "shell",
        shell_args(&wd, arr(&["sh", "-c", "echo B"])),
    )
    .await
    .unwrap();
    let fast = conn.wait_complete("fast", Duration::from_secs(10)).await;
    assert!(conn.log("slow").complete.is_none());
    let slow = conn.wait_complete("slow", Duration::from_secs(10)).await;
    assert_eq!(fast.text("stdout"), "B\n");
    assert_eq!(slow.text("stdout"), "A\n");
}

#[async_std::test]
async fn uploads_and_downloads() {
    let (_m, w, conn) = setup().await;
    let b1 = w.path("b1");
    std::fs::create_dir_all(&b1).unwrap();
    let up = format!("{b1}/up.txt");
    std::fs::write(&up, "upload-content\n").unwrap();
    let log = conn
        .run(
            "upload_file",
            vec![
                ("path", s(&up)),
                ("blocksize", Value::from(4)),
                ("maxsize", Value::Nil),
                ("keepstamp", Value::Boolean(false)),
                ("workdir", s("build")),
                ("workersrc", s("up.txt")),
            ],
        )
        .await;
    assert_eq!(log.uploaded, b"upload-content\n");
    assert_eq!(log.rc(), Some(0));
    assert!(matches!(log.ops.last(), Some(Op::UploadFileClose { .. })));
    assert_eq!(log.text("header"), format!("sending {up}\n"));

    // truncation (the fixture's probe c4)
    let log = conn
        .run(
            "upload_file",
            vec![
                ("path", s(&up)),
                ("blocksize", Value::from(4)),
                ("maxsize", Value::from(10)),
            ],
        )
        .await;
    assert_eq!(log.uploaded, b"upload-con");
    assert_eq!(log.rc(), Some(1));
    assert_eq!(log.keys(), vec!["header", "rc", "elapsed", "stderr"]);
    assert_eq!(
        log.text("stderr"),
        format!("Maximum filesize reached, truncating file '{up}'\n")
    );

    // missing source: close is still sent
    let log = conn
        .run(
            "uploadFile",
            vec![
                ("path", s(&format!("{b1}/nope"))),
                ("blocksize", Value::from(4)),
                ("maxsize", Value::Nil),
            ],
        )
        .await;
    assert_eq!(log.rc(), Some(1));
    assert_eq!(log.ops.len(), 1);
    assert!(log.text("stderr").starts_with("Cannot open file"));

    // keepstamp: utime after close
    let log = conn
        .run(
            "upload_file",
            vec![
                ("path", s(&up)),
                ("blocksize", Value::from(1024)),
                ("maxsize", Value::Nil),
                ("keepstamp", Value::Boolean(true)),
            ],
        )
        .await;
    assert!(matches!(log.ops.last(), Some(Op::UploadFileUtime { .. })));
    assert_eq!(log.complete, Some(None));

    // download with real data (a Rust master)
    let dl = format!("{b1}/dl/out.bin");
    let id = conn.fresh_id();
    let data: Vec<u8> = (0..40000u32).map(|i| (i % 251) as u8).collect();
    conn.serve_download(&id, Some(data.clone()));
    conn.start(
        &id,
        "download_file",
        vec![
            ("path", s(&dl)),
            ("blocksize", Value::from(16384)),
            ("maxsize", Value::Nil),
            ("mode", Value::from(0o640)),
        ],
    )
    .await
    .unwrap();
    let log = conn.wait_complete(&id, Duration::from_secs(10)).await;
    assert_eq!(log.rc(), Some(0));
    assert_eq!(std::fs::read(&dl).unwrap(), data);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dl).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(matches!(log.ops.last(), Some(Op::ReadFileClose { .. })));

    // nil answers (the Python 4.3 master): an empty file and rc 0
    let dl2 = format!("{b1}/dl/empty.bin");
    let log = conn
        .run(
            "downloadFile",
            vec![
                ("path", s(&dl2)),
                ("blocksize", Value::from(16)),
                ("maxsize", Value::Nil),
                ("mode", Value::Nil),
            ],
        )
        .await;
    assert_eq!(log.rc(), Some(0));
    assert_eq!(std::fs::read(&dl2).unwrap(), b"");

    // the master returns more than asked: failure, nothing written
    let id = conn.fresh_id();
    conn.serve_download(&id, Some(b"0123456789".to_vec()));
    // the fake master never returns more than asked, so use maxsize truncation instead
    conn.start(
        &id,
        "download_file",
        vec![
            ("path", s(&format!("{b1}/dl/trunc.bin"))),
            ("blocksize", Value::from(16)),
            ("maxsize", Value::from(4)),
            ("mode", Value::Nil),
        ],
    )
    .await
    .unwrap();
    let log = conn.wait_complete(&id, Duration::from_secs(10)).await;
    assert_eq!(log.rc(), Some(1));
    assert_eq!(
        std::fs::read(format!("{b1}/dl/trunc.bin")).unwrap(),
        b"0123"
    );
    assert!(log.text("stderr").starts_with("Maximum filesize reached"));
}

fn unpack(bytes: &[u8], compress: Option<&str>, dest: &std::path::Path) -> Vec<String> {
    let reader: Box<dyn Read> = match compress {
        Some("gz") => Box::new(flate2::read::GzDecoder::new(bytes)),
        Some("bz2") => Box::new(bzip2::read::BzDecoder::new(bytes)),
        _ => Box::new(bytes),
    };
    let mut archive = tar::Archive::new(reader);
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        names.push(name.clone());
        if !name.is_empty() {
            entry.unpack_in(dest).unwrap();
        }
    }
    names
}

#[async_std::test]
async fn directory_upload_roundtrip() {
    let (_m, w, conn) = setup().await;
    let tree = w.path("b1/tree");
    std::fs::create_dir_all(format!("{tree}/sub/deeper")).unwrap();
    std::fs::write(format!("{tree}/a.txt"), "alpha\n").unwrap();
    std::fs::write(format!("{tree}/sub/b.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(format!("{tree}/sub/deeper/c"), "c").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", format!("{tree}/link")).unwrap();
    for compress in [None, Some("gz"), Some("bz2")] {
        let log = conn
            .run(
                "upload_directory",
                vec![
                    ("path", s(&tree)),
                    ("blocksize", Value::from(16384)),
                    ("maxsize", Value::Nil),
                    ("compress", compress.map_or(Value::Nil, s)),
                ],
            )
            .await;
        assert_eq!(log.rc(), Some(0), "{compress:?}");
        assert!(matches!(
            log.ops.last(),
            Some(Op::UploadDirectoryUnpack { .. })
        ));
        assert!(log.ops.len() >= 2);
        let dest = tempfile::tempdir().unwrap();
        let names = unpack(&log.uploaded, compress, dest.path());
        assert_eq!(names[0], "", "first member is the directory itself");
        assert_eq!(
            std::fs::read_to_string(dest.path().join("a.txt")).unwrap(),
            "alpha\n"
        );
        assert_eq!(
            std::fs::read(dest.path().join("sub/b.bin")).unwrap(),
            vec![7u8; 100_000]
        );
        assert_eq!(
            std::fs::read_to_string(dest.path().join("sub/deeper/c")).unwrap(),
            "c"
        );
        // the symlink travels as a symlink, not as the content of /etc/passwd
        assert!(
            std::fs::symlink_metadata(dest.path().join("link"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    // no temporary archive is left behind
    let leftovers: Vec<_> = std::fs::read_dir(&w.basedir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("upload"))
        .collect();
    assert!(leftovers.is_empty());
    let log = conn
        .run(
            "upload_directory",
            vec![
                ("path", s(&w.path("b1/none"))),
                ("blocksize", Value::from(16384)),
                ("maxsize", Value::Nil),
                ("compress", Value::Nil),
            ],
        )
        .await;
    assert_eq!(log.rc(), Some(1));
    assert!(log.text("stderr").starts_with("Cannot read directory"));
    assert!(!log.has("header"));
}
