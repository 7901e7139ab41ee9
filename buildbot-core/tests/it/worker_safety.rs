//! Paths outside the base directory are refused and nothing outside is touched.

use buildbot_core::protocol::Value;

use crate::harness::*;

#[async_std::test]
async fn path_escapes_are_refused() {
    let (_m, w, conn) = setup().await;
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap().to_string();
    std::fs::write(format!("{out}/keep.txt"), "keep").unwrap();
    std::os::unix::fs::symlink(&out, w.basedir.join("escape")).unwrap();
    let base = w.basedir.to_str().unwrap().to_string();

    let refused = |log: &CommandLog, path: &str| {
        assert_eq!(log.rc(), Some(1), "{log:?}");
        let header = log.text("header");
        assert!(
            header.contains("outside the worker base directory"),
            "{header}"
        );
        assert!(header.contains(path), "{header}");
        assert_eq!(log.complete, Some(None));
    };

    let p = format!("{out}/made");
    let log = conn.run("mkdir", vec![("paths", arr(&[&p]))]).await;
    refused(&log, &p);
    let p = format!("{base}/../escaped-dir");
    let log = conn.run("mkdir", vec![("paths", arr(&[&p]))]).await;
    refused(&log, &p);
    let p = format!("{base}/escape/via-symlink");
    let log = conn.run("mkdir", vec![("paths", arr(&[&p]))]).await;
    refused(&log, &p);
    let p = format!("{out}/keep.txt");
    let log = conn.run("rmfile", vec![("path", s(&p))]).await;
    refused(&log, &p);
    let log = conn.run("rmdir", vec![("paths", arr(&[&out]))]).await;
    refused(&log, &out);
    let log = conn.run("rmdir", vec![("paths", arr(&[&base]))]).await;
    refused(&log, &base);
    let p = format!("{base}/escape/keep.txt");
    let log = conn
        .run(
            "download_file",
            vec![
                ("path", s(&p)),
                ("blocksize", Value::from(16)),
                ("maxsize", Value::Nil),
                ("mode", Value::Nil),
            ],
        )
        .await;
    refused(&log, &p);
    let log = conn
        .run(
            "upload_file",
            vec![
                ("path", s("/etc/passwd")),
                ("blocksize", Value::from(16)),
                ("maxsize", Value::Nil),
            ],
        )
        .await;
    refused(&log, "/etc/passwd");
    assert!(log.uploaded.is_empty());
    let log = conn
        .run(
            "cpdir",
            vec![
                ("from_path", s(&format!("{base}/info"))),
                ("to_path", s(&format!("{out}/copy"))),
            ],
        )
        .await;
    refused(&log, &format!("{out}/copy"));
    let log = conn
        .run("shell", shell_args(&out, arr(&["touch", "shell-was-here"])))
        .await;
    refused(&log, &out);
    let log = conn
        .run("glob", vec![("path", s(&format!("{out}/*")))])
        .await;
    refused(&log, &format!("{out}/*"));
    let log = conn.run("listdir", vec![("path", s("/etc"))]).await;
    refused(&log, "/etc");
    // a dangling symlink could point anywhere
    std::os::unix::fs::symlink(format!("{out}/not-yet"), w.basedir.join("dangling")).unwrap();
    let p = format!("{base}/dangling");
    let log = conn
        .run(
            "download_file",
            vec![
                ("path", s(&p)),
                ("blocksize", Value::from(16)),
                ("maxsize", Value::Nil),
                ("mode", Value::Nil),
            ],
        )
        .await;
    refused(&log, &p);

    // nothing outside was touched
    let mut entries: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, vec!["keep.txt"]);
    assert!(!w.basedir.parent().unwrap().join("escaped-dir").exists());
    // the worker is still fine, and removing the symlink itself is allowed
    let log = conn
        .run("rmfile", vec![("path", s(&format!("{base}/escape")))])
        .await;
    assert_eq!(log.rc(), Some(0));
    assert!(std::path::Path::new(&format!("{out}/keep.txt")).exists());
}
