//! `buildbot user` against our master's `CommandlineUserManager` port, and the web's
//! `UserDbAuth` accepting the password it stored.

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::*;

/// Standard base64 with padding.
fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET path` with HTTP Basic `user:pass`: (status, JSON body or `Null`).
fn get_as(port: u16, path: &str, basic: &str) -> (u16, serde_json::Value) {
    let mut st = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(2),
    )
    .unwrap();
    st.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = b64(basic.as_bytes());
    write!(
        st,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    let _ = st.read_to_string(&mut resp);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, serde_json::from_str(body).unwrap_or_default())
}

#[test]
fn users_add_update_get_remove_and_web_login() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", "-r", s(&b)]).ok();
    let (uport, web) = (free_port(), free_port());
    let cfg = format!(
        "{}\n[www.auth]\ntype = \"UserDbAuth\"\n\n[[user_managers]]\ntype = \"CommandlineUserManager\"\nusername = \"u\"\npasswd = \"p\"\nport = {uport}\n",
        f1(free_port(), web, "b1")
    );
    std::fs::write(b.join("master.cfg"), cfg).unwrap();
    run(&["start", s(&b)]).ok();
    let master = format!("127.0.0.1:{uport}");
    let user = |extra: &[&str]| {
        let mut a = vec![
            "user",
            "--master",
            &master,
            "--username",
            "u",
            "--passwd",
            "p",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };

    let out = user(&["--op", "add", "--info", "git=alice <alice@example.org>"]);
    out.ok();
    assert!(out.stdout.contains("user(s) added:"), "{out:#?}");
    assert!(
        out.stdout
            .contains("identifier: alice <alice@example.org>\nuid: 1"),
        "{out:#?}"
    );
    // web credentials go with update, as in Buildbot (the client hashes the password)
    let out = user(&[
        "--op",
        "update",
        "--info",
        "alice <alice@example.org>:email=alice@example.org",
        "--bb_username",
        "alice",
        "--bb_password",
        "secret",
    ]);
    out.ok();
    assert!(
        out.stdout
            .contains("user(s) updated:\nidentifier: alice <alice@example.org>"),
        "{out:#?}"
    );
    let out = user(&["--op", "get", "--ids", "alice <alice@example.org>"]);
    out.ok();
    for want in [
        "user(s) found:",
        "uid: 1",
        "identifier: alice <alice@example.org>",
        "bb_username: alice",
        "attributes:",
        "\temail: alice@example.org",
        "\tgit: alice <alice@example.org>",
    ] {
        assert!(out.stdout.contains(want), "{want}: {out:#?}");
    }
    let out = user(&["--op", "get", "--ids", "nobody"]);
    out.ok();
    assert!(out.stdout.contains("no match found"), "{out:#?}");

    // the web accepts the stored password, and only it
    let (code, me) = get_as(web, "/auth/me", "alice:secret");
    assert_eq!(code, 200, "{me}");
    assert_eq!(me["username"], "alice", "{me}");
    let (code, me) = get_as(web, "/auth/me", "alice:wrong");
    assert!(code == 401 || me["username"] != "alice", "{code} {me}");

    // wrong PB password: refused, said, logged
    let out = run(&[
        "user",
        "--master",
        &master,
        "--username",
        "u",
        "--passwd",
        "bad",
        "--op",
        "get",
        "--ids",
        "alice",
    ]);
    out.fails_with("user command failed");
    assert!(read(&b.join("twistd.log")).contains("login as 'u' refused"));

    let out = user(&["--op", "remove", "--ids", "alice <alice@example.org>"]);
    out.ok();
    assert!(
        out.stdout
            .contains("user(s) removed:\nidentifier: alice <alice@example.org>"),
        "{out:#?}"
    );
    let out = user(&["--op", "get", "--ids", "alice <alice@example.org>"]);
    assert!(out.stdout.contains("no match found"), "{out:#?}");
    // (the web caches verified Basic credentials for a while, so no web check here)

    run(&["stop", s(&b)]).ok();
}
