//! Our master's PB change port (decision D2): `buildbot sendchange` (ours and Python's)
//! against a master started with `buildbot start`.

use crate::harness::*;

/// A started master with F1, a web port and a `PBChangeSource` on `[protocols.pb]`;
/// returns (dir, change port, web port).
fn master_with_change_port(sc: &Scratch) -> (std::path::PathBuf, u16, u16) {
    let b = sc.dir("m");
    run(&["create-master", "-q", "-r", s(&b)]).ok();
    let (cport, web) = (free_port(), free_port());
    let cfg = format!(
        "{}\n[protocols.pb]\nport = {cport}\ninterface = \"127.0.0.1\"\n\n[[change_source]]\ntype = \"PBChangeSource\"\n",
        f1(free_port(), web, "b1")
    );
    std::fs::write(b.join("master.cfg"), cfg).unwrap();
    run(&["start", s(&b)]).ok();
    (b, cport, web)
}

fn changes(web: u16) -> Vec<serde_json::Value> {
    let (code, v) = http_get(web, "/api/v2/changes");
    assert_eq!(code, 200, "{v}");
    v["changes"].as_array().unwrap().clone()
}

#[test]
fn sendchange_stores_every_field_and_wrong_password_is_refused() {
    let sc = Scratch::new();
    let (b, cport, web) = master_with_change_port(&sc);
    assert!(
        read(&b.join("twistd.log"))
            .contains(&format!("PBChangeSource listening on 127.0.0.1:{cport}"))
    );
    let master = format!("127.0.0.1:{cport}");
    let out = run(&[
        "sendchange",
        "--master",
        &master,
        "--auth",
        "change:changepw",
        "--who",
        "a",
        "--repository",
        "r",
        "--branch",
        "b",
        "--revision",
        "v",
        "--comments",
        "c",
        "--category",
        "cat",
        "--project",
        "p",
        "--property",
        "k:v",
        "--when",
        "1700000000",
        "--revlink",
        "http://x/v",
        "--vc",
        "git",
        "--codebase",
        "cb",
        "f1",
        "f2",
    ]);
    out.ok();
    assert!(out.stdout.contains("change sent successfully"), "{out:#?}");
    let all = changes(web);
    assert_eq!(all.len(), 1, "{all:#?}");
    let c = &all[0];
    assert_eq!(c["author"], "a");
    assert_eq!(c["repository"], "r");
    assert_eq!(c["branch"], "b");
    assert_eq!(c["revision"], "v");
    assert_eq!(c["comments"], "c");
    assert_eq!(c["category"], "cat");
    assert_eq!(c["project"], "p");
    assert_eq!(c["codebase"], "cb");
    assert_eq!(c["revlink"], "http://x/v");
    assert_eq!(c["when_timestamp"], 1_700_000_000);
    assert_eq!(c["files"], serde_json::json!(["f1", "f2"]));
    assert_eq!(c["properties"]["k"], serde_json::json!(["v", "Change"]));

    // wrong password: refused, said clearly, logged, nothing stored
    let out = run(&[
        "sendchange",
        "--master",
        &master,
        "--auth",
        "change:nope",
        "--who",
        "x",
        "f",
    ]);
    out.fails_with("wrong user name or password");
    assert!(out.stderr.contains("change NOT sent"), "{out:#?}");
    // unknown user too
    run(&[
        "sendchange",
        "--master",
        &master,
        "--auth",
        "bob:changepw",
        "--who",
        "x",
        "f",
    ])
    .fails_with("wrong user name or password");
    assert_eq!(changes(web).len(), 1);
    assert!(read(&b.join("twistd.log")).contains("login as 'change' refused"));

    // default credentials (change:changepw), no files
    run(&["sendchange", "--master", &master, "--who", "d"]).ok();
    let all = changes(web);
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .any(|c| c["author"] == "d" && c["files"] == serde_json::json!([]))
    );

    // the port closes with the master
    run(&["stop", s(&b)]).ok();
    run(&["sendchange", "--master", &master, "--who", "a"]).fails_with("change NOT sent");
}

#[test]
fn python_sendchange_against_our_master() {
    let Ok(venv) = std::env::var("BUILDBOT_TEST_PYTHON_VENV") else {
        eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
        return;
    };
    let sc = Scratch::new();
    let (b, cport, web) = master_with_change_port(&sc);
    let py = |auth: &str, who: &str| {
        std::process::Command::new(format!("{venv}/bin/buildbot"))
            .args([
                "sendchange",
                "--master",
                &format!("127.0.0.1:{cport}"),
                "--auth",
                auth,
                "--who",
                who,
                "--repository",
                "r",
                "--branch",
                "main",
                "--revision",
                "abc",
                "--comments",
                "from python",
                "--category",
                "cat",
                "--project",
                "p",
                "--property",
                "k:v",
                "--vc",
                "git",
                "--when",
                "1700000000",
                "a.c",
                "b.h",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = py("change:changepw", "pyuser");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("change sent successfully"), "{text}");
    let all = changes(web);
    assert_eq!(all.len(), 1, "{all:#?}");
    let c = &all[0];
    assert_eq!(c["author"], "pyuser");
    assert_eq!(c["branch"], "main");
    assert_eq!(c["revision"], "abc");
    assert_eq!(c["comments"], "from python");
    assert_eq!(c["category"], "cat");
    assert_eq!(c["project"], "p");
    assert_eq!(c["repository"], "r");
    assert_eq!(c["when_timestamp"], 1_700_000_000);
    assert_eq!(c["files"], serde_json::json!(["a.c", "b.h"]));
    assert_eq!(c["properties"]["k"], serde_json::json!(["v", "Change"]));
    // Python's client with a wrong password: it fails, nothing stored
    let out = py("change:bad", "mallory");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("change sent successfully"), "{text}");
    assert_eq!(changes(web).len(), 1);
    run(&["stop", s(&b)]).ok();
}

#[test]
fn change_port_in_use_is_reported() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", "-r", s(&b)]).ok();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cport = busy.local_addr().unwrap().port();
    let cfg = format!(
        "{}\n[[change_source]]\ntype = \"PBChangeSource\"\nport = {cport}\n\n[protocols.pb]\nport = 1\ninterface = \"127.0.0.1\"\n",
        f1(free_port(), free_port(), "b1")
    );
    std::fs::write(b.join("master.cfg"), cfg).unwrap();
    let out = run(&["start", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{cport}")),
        "{out:#?}"
    );
    assert!(!b.join("twistd.pid").exists());
}
