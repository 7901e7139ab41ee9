//! Golden tests against the recorded Python traffic.

use std::path::PathBuf;

use base64::Engine;
use buildbot_core::protocol::{
    Incoming, Message, Op, Request, Response, TextChunk, UpdateEntry, Value, decode, encode,
    encode_request,
};

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/worker-protocol");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    assert!(v.len() > 20);
    v
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// JSON (as written by the capture tool) back to a msgpack value.
fn json_to_value(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::F64(n.as_f64().unwrap())
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => {
            if o.len() == 1
                && let Some(serde_json::Value::String(b)) = o.get("$bin")
            {
                return Value::Binary(base64::engine::general_purpose::STANDARD.decode(b).unwrap());
            }
            Value::Map(
                o.iter()
                    .map(|(k, v)| (Value::from(k.as_str()), json_to_value(v)))
                    .collect(),
            )
        }
    }
}

fn to_message(incoming: Incoming) -> Option<Message> {
    match incoming {
        Incoming::Request { seq_number, op, .. } => Some(Message::Request(Request {
            seq_number,
            op: op.expect("request decodes"),
        })),
        Incoming::Response(r) => Some(Message::Response(r)),
        Incoming::Ignored(_) => None,
    }
}

#[test]
fn every_recorded_payload_decodes_and_reencodes_byte_identically() {
    let mut raw_checked = 0;
    let mut msgs_checked = 0;
    for path in fixtures() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let rec: serde_json::Value = serde_json::from_str(line).unwrap();
            if rec["kind"] != "ws" {
                continue;
            }
            if let Some(h) = rec.get("raw_msgpack_hex").and_then(|h| h.as_str()) {
                let bytes = unhex(h);
                let incoming = decode(&bytes).unwrap_or_else(|e| panic!("{path:?}: {h}: {e}"));
                if let Some(msg) = to_message(incoming) {
                    assert_eq!(hex(&encode(&msg).unwrap()), h, "{path:?}");
                    raw_checked += 1;
                }
            }
            let Some(msg) = rec.get("msg") else { continue };
            if msg.is_null() {
                continue;
            }
            let value = json_to_value(msg);
            let mut bytes = Vec::new();
            rmpv::encode::write_value(&mut bytes, &value).unwrap();
            let incoming = decode(&bytes).unwrap_or_else(|e| panic!("{path:?}: {msg}: {e}"));
            match &incoming {
                Incoming::Request { op: Err(e), .. } => {
                    // the deliberate probes of missing keys
                    assert!(
                        e.starts_with("'message did not contain obligatory"),
                        "{path:?} {msg}: {e}"
                    );
                    continue;
                }
                Incoming::Request {
                    op: Ok(op),
                    op_name,
                    ..
                } => {
                    assert!(
                        !matches!(op, Op::Unknown { .. }) || op_name == "frobnicate",
                        "{path:?}: unknown op {op_name}"
                    );
                    if let Op::Update { args, .. } = op {
                        assert!(
                            args.iter().all(|a| !matches!(a, UpdateEntry::Other { .. })),
                            "{path:?}: untyped update entry in {msg}"
                        );
                    }
                }
                Incoming::Response(_) => {}
                Incoming::Ignored(_) => {
                    // only the deliberate probes: an array, a map without seq_number
                    assert!(
                        msg.is_array() || msg.get("seq_number").is_none(),
                        "{path:?}: {msg}"
                    );
                }
            }
            // the typed message re-encodes to the same value (key order as Python)
            if let Some(m) = to_message(incoming) {
                let again = decode(&encode(&m).unwrap()).unwrap();
                assert_eq!(to_message(again), Some(m));
                msgs_checked += 1;
            }
        }
    }
    assert!(raw_checked > 100, "{raw_checked}");
    assert!(msgs_checked > 300, "{msgs_checked}");
}

#[test]
fn spec_byte_examples() {
    let cases: Vec<(Message, &str)> = vec![
        (
            Message::Response(Response {
                seq_number: 31,
                result: Value::Nil,
                is_exception: false,
            }),
            "83a26f70a8726573706f6e7365aa7365715f6e756d6265721fa6726573756c74c0",
        ),
        (
            Message::Request(Request {
                seq_number: 43,
                op: Op::Keepalive,
            }),
            "82a26f70a96b656570616c697665aa7365715f6e756d6265722b",
        ),
        (
            Message::Request(Request {
                seq_number: 12,
                op: Op::UploadFileWrite {
                    command_id: "c4".into(),
                    data: b"uplo".to_vec(),
                },
            }),
            "84a26f70b87570646174655f75706c6f61645f66696c655f7772697465a461726773c40475706c6f\
             aa636f6d6d616e645f6964a26334aa7365715f6e756d6265720c",
        ),
        (
            Message::Request(Request {
                seq_number: 2,
                op: Op::Update {
                    command_id: "1".into(),
                    args: vec![UpdateEntry::Rc(0), UpdateEntry::Elapsed(0.5)],
                },
            }),
            "",
        ),
    ];
    for (msg, want) in &cases[..3] {
        assert_eq!(hex(&encode(msg).unwrap()), want.replace(' ', ""));
    }
    let want_update = concat!(
        "84a26f70a6757064617465a46172677392",
        "92a2726300",
        "92a7656c6170736564cb3fe0000000000000",
        "aa636f6d6d616e645f6964a131aa7365715f6e756d62657202"
    );
    assert_eq!(hex(&encode(&cases[3].0).unwrap()), want_update);
}

#[test]
fn exception_response_and_text_triple_shapes() {
    let r = Response {
        seq_number: 3,
        result: Value::from("Command frobnicate does not exist."),
        is_exception: true,
    };
    let bytes = encode(&Message::Response(r.clone())).unwrap();
    assert!(hex(&bytes).ends_with("ac69735f657863657074696f6ec3"));
    assert_eq!(decode(&bytes).unwrap(), Incoming::Response(r));
    let op = Op::Update {
        command_id: "0".into(),
        args: vec![UpdateEntry::Stdout(TextChunk {
            text: "a\n".into(),
            newline_offsets: vec![1],
            line_times: vec![1.5],
        })],
    };
    let value = buildbot_core::protocol::decode_value(&encode_request(0, &op).unwrap()).unwrap();
    let args = &value.as_map().unwrap()[1].1;
    assert_eq!(args.to_string(), r#"[["stdout", ["a\n", [1], [1.5]]]]"#);
}

#[test]
fn malformed_payloads_are_typed_errors() {
    // not msgpack
    assert!(decode(&[0xc1]).is_err());
    // truncated
    assert!(decode(&[0x82, 0xa2, b'o']).is_err());
    // trailing bytes
    assert!(decode(&[0xc0, 0xc0]).is_err());
    // integer at top level
    assert!(decode(&[0x05]).is_err());
    // non-string key
    assert!(decode(&[0x81, 0x01, 0x02]).is_err());
    // invalid utf-8 str
    assert!(decode(&[0xa1, 0xff]).is_err());
    // huge claimed array does not allocate it
    assert!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
    // array and string are ignored, not errors
    assert!(matches!(
        decode(&[0x93, 1, 2, 3]).unwrap(),
        Incoming::Ignored(_)
    ));
    assert!(matches!(
        decode(&[0xa1, b'x']).unwrap(),
        Incoming::Ignored(_)
    ));
}

#[test]
fn random_and_mutated_payloads_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let seeds: Vec<Vec<u8>> = vec![
        encode_request(
            3,
            &Op::StartCommand {
                builder_name: Some("b".into()),
                command_id: "1".into(),
                command_name: "shell".into(),
                args: vec![("command".into(), Value::from("true"))],
            },
        )
        .unwrap(),
        encode_request(
            1,
            &Op::Update {
                command_id: "1".into(),
                args: vec![
                    UpdateEntry::Stdout(TextChunk {
                        text: "x\n".into(),
                        newline_offsets: vec![1],
                        line_times: vec![1.0],
                    }),
                    UpdateEntry::Rc(0),
                ],
            },
        )
        .unwrap(),
    ];
    for i in 0..50_000 {
        let payload: Vec<u8> = if i % 2 == 0 {
            let len = rng.gen_range(0..64);
            (0..len).map(|_| rng.r#gen::<u8>()).collect()
        } else {
            let mut p = seeds[i % seeds.len()].clone();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..p.len());
                p[at] = rng.r#gen::<u8>();
            }
            if rng.gen_bool(0.2) {
                p.truncate(rng.gen_range(0..p.len()));
            }
            p
        };
        let _ = decode(&payload);
    }
}
