//! Issue 19: the worker-protocol decoder under random input — arbitrary bytes, arbitrary
//! msgpack values, and maps shaped like every request the protocol knows with random
//! fields. No panic, no hang; every rejection is an error with a message (the number of
//! cases follows `PROPTEST_CASES`).

use buildbot_core::protocol::{Incoming, Value, decode};
use proptest::prelude::*;

/// Every op name either side sends.
const OPS: &[&str] = &[
    "print",
    "keepalive",
    "get_worker_info",
    "shutdown",
    "shutdown_request",
    "set_worker_settings",
    "start_command",
    "interrupt_command",
    "update",
    "complete",
    "update_upload_file_write",
    "update_upload_directory_write",
    "update_upload_file_close",
    "update_upload_directory_unpack",
    "update_read_file_close",
    "update_upload_file_utime",
    "update_read_file",
    "response",
    "no_such_op",
];

/// Keys the decoder looks for.
const KEYS: &[&str] = &[
    "op",
    "seq_number",
    "command_id",
    "command_name",
    "builder_name",
    "args",
    "why",
    "message",
    "result",
    "is_exception",
    "data",
    "length",
    "buffer_size",
    "buffer_timeout",
    "newline_re",
    "max_line_length",
    "stdout",
    "rc",
    "access_time",
    "modified_time",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(|s: String| Value::from(s)),
        prop::sample::select(KEYS).prop_map(Value::from),
        prop::sample::select(OPS).prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((leaf(), inner), 0..6).prop_map(Value::Map),
        ]
    })
}

/// A map shaped like a request: `op`, usually a `seq_number`, random known keys.
fn request_like() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(OPS),
        prop::option::of(any::<u64>()),
        prop::collection::vec((prop::sample::select(KEYS), value()), 0..8),
    )
        .prop_map(|(op, seq, fields)| {
            let mut m = vec![(Value::from("op"), Value::from(op))];
            if let Some(s) = seq {
                m.push((Value::from("seq_number"), Value::from(s)));
            }
            m.extend(fields.into_iter().map(|(k, v)| (Value::from(k), v)));
            Value::Map(m)
        })
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).unwrap();
    out
}

fn check(payload: &[u8]) {
    match decode(payload) {
        Ok(Incoming::Request { op: Err(text), .. }) => assert!(!text.is_empty()),
        Ok(Incoming::Ignored(why)) => {
            assert!(!why.is_empty());
            // log text stays short whatever the payload
            assert!(why.len() < 1000, "{} bytes", why.len());
        }
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_msgpack_values_never_panic(v in value()) {
        check(&encode(&v));
    }

    #[test]
    fn request_shaped_maps_decode_or_are_refused_clearly(v in request_like()) {
        let bytes = encode(&v);
        check(&bytes);
        // a cut message is an error, never a panic
        for cut in [1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            check(&bytes[..cut.min(bytes.len())]);
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowing() {
    // 100,000 nested one-element arrays: a stack overflow if decoded recursively
    let mut bytes = vec![0x91u8; 100_000];
    bytes.push(0xc0);
    assert!(decode(&bytes).is_err());
}

#[test]
fn a_huge_value_is_previewed_briefly() {
    let big = Value::Array(vec![Value::from("x".repeat(1 << 20)); 4]);
    match decode(&encode(&big)) {
        Ok(Incoming::Ignored(why)) => assert!(why.len() < 1000, "{} bytes", why.len()),
        other => panic!("{other:?}"),
    }
}
