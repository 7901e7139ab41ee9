//! A database written by real Python Buildbot 4.3 (`tests/fixtures/make-python-db.sh`).

use std::path::{Path, PathBuf};

use buildbot_db::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/python-4.3-state.sqlite"
);

async fn check_python_db(path: &Path) -> Db {
    let dir = path.parent().expect("dir");
    let mut db = Db::connect("sqlite:///state.sqlite", dir)
        .await
        .expect("connect");
    assert_eq!(
        db.schema_status().await.expect("status"),
        SchemaStatus::UpToDate,
        "a 4.3 database is accepted"
    );
    db.check_schema().await.expect("master may start");

    let builds = db.list_builds(&Query::new()).await.expect("builds");
    assert_eq!(builds.len(), 1);
    let b = &builds[0];
    assert_eq!(
        (b.number, b.results, b.state_string.as_str()),
        (1, Some(0), "build successful")
    );
    assert!(b.complete());
    let builder = db
        .get_builder(b.builderid)
        .await
        .expect("builder")
        .expect("row");
    assert_eq!(builder.name, "b");
    let props = db.get_build_properties(b.buildid).await.expect("props");
    assert_eq!(
        props["buildername"],
        (serde_json::json!("b"), "Builder".to_owned())
    );
    assert_eq!(
        props["buildnumber"],
        (serde_json::json!(1), "Build".to_owned())
    );

    let steps = db
        .list_steps(&Query::new().eq("buildid", b.buildid).order("number", false))
        .await
        .expect("steps");
    let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["worker_preparation", "hello"]);
    assert_eq!(steps[0].state_string, "worker w1 ready");
    let logs = db
        .list_logs(&Query::new().eq("stepid", steps[1].stepid))
        .await
        .expect("logs");
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    assert_eq!(
        (
            log.name.as_str(),
            log.slug.as_str(),
            log.kind(),
            log.complete
        ),
        ("stdio", "stdio", Some(LogType::Stdio), true)
    );
    let text = db
        .get_log_lines(log.logid, 0, log.num_lines - 1)
        .await
        .expect("lines");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as i64, log.num_lines);
    assert!(
        lines
            .iter()
            .all(|l| matches!(l.as_bytes().first(), Some(b'h' | b'o' | b'e')))
    );
    let out: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with('o'))
        .copied()
        .collect();
    let expected: Vec<String> = (1..=40).map(|i| format!("ofixture line {i}")).collect();
    assert_eq!(out, expected);
    let err: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with('e'))
        .copied()
        .collect();
    assert_eq!(err, vec!["eoops on stderr", "emore stderr"]);
    assert!(lines.contains(&"hprogram finished with exit code 0"));
    assert!(lines[0].starts_with("hsh -c "));
    // A single line in the middle of the (gz-compressed) chunk.
    assert_eq!(
        db.get_log_lines(log.logid, 0, 0).await.expect("first"),
        format!("{}\n", lines[0])
    );

    let worker = db.get_worker_by_name("w1").await.expect("w").expect("row");
    assert_eq!(worker.workerinfo["version"], "4.3.0");
    let reqs = db.list_buildrequests(&Query::new()).await.expect("reqs");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].claimed && reqs[0].complete && reqs[0].results == 0);
    let bs = db
        .get_buildset(reqs[0].buildsetid)
        .await
        .expect("bs")
        .expect("row");
    assert_eq!(bs.results, Some(0));

    // Adopting the schema records the migrations without touching the tables.
    assert_eq!(
        db.upgrade().await.expect("adopt"),
        vec![
            "m20251125_000001_buildbot_4_2_schema".to_owned(),
            "m20251125_000002_codebases".to_owned(),
            "m20251125_000003_pending_requests_index".to_owned()
        ]
    );
    assert_eq!(
        db.schema_status().await.expect("status"),
        SchemaStatus::UpToDate
    );
    assert!(db.upgrade().await.expect("again").is_empty());
    // And we can keep writing Python-compatible rows.
    db.set_log_compression(LogCompression::Gz);
    let (step, number, _) = db
        .add_step(b.buildid, "rust", "pending")
        .await
        .expect("step");
    assert_eq!(number, 2);
    let l = db
        .add_log(step, "stdio", LogType::Stdio)
        .await
        .expect("log");
    let body = stdio_lines('o', &"written by rust\n".repeat(50));
    db.append_log(l, &body).await.expect("append");
    assert_eq!(db.get_log_lines(l, 0, 49).await.expect("read"), body);
    db
}

fn copy_to_temp(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let dst = dir.path().join("state.sqlite");
    std::fs::copy(src, &dst).expect("copy fixture");
    (dir, dst)
}

#[test]
fn committed_python_fixture_is_readable() {
    async_std::task::block_on(async {
        let (_dir, path) = copy_to_temp(Path::new(FIXTURE));
        check_python_db(&path).await;
    });
}

#[test]
fn live_python_fixture_regenerated_and_read() {
    let Some(venv) = std::env::var_os("BUILDBOT_TEST_PYTHON_VENV") else {
        eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("state.sqlite");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/make-python-db.sh"
    );
    let status = std::process::Command::new("sh")
        .arg(script)
        .arg(&out)
        .env("BUILDBOT_TEST_PYTHON_VENV", &venv)
        .status()
        .expect("run make-python-db.sh");
    assert!(status.success(), "make-python-db.sh failed");
    async_std::task::block_on(async {
        let db = check_python_db(&out).await;
        db.close().await.expect("close");
    });
    // Python reads back the gz chunk we wrote (zlib stream, final newline stripped).
    let py = Path::new(&venv).join("bin/python");
    let code = "import sqlite3,sys,zlib\n\
        c=sqlite3.connect(sys.argv[1])\n\
        r=c.execute(\"select content,compressed from logchunks where logid=(select max(id) from logs)\").fetchone()\n\
        t=zlib.decompress(r[0]) if r[1]==1 else r[0]\n\
        assert r[1]==1, r[1]\n\
        assert t.decode()=='\\n'.join(['owritten by rust']*50), t[:80]\n\
        print(c.execute('select version_num from alembic_version').fetchone()[0])\n";
    let o = std::process::Command::new(py)
        .arg("-c")
        .arg(code)
        .arg(&out)
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "067");
}
