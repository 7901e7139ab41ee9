//! Micro-benchmarks of the master's core pieces: the event bus on the log-append hot path,
//! config loading (`checkconfig`), and Interpolate rendering.
//!
//! Run: `cargo bench --bench master_core` (prints one line per measurement).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use buildbot_core::master::config::{Registry, parse_config};
use buildbot_core::master::{EventBus, Interpolate, SimpleRenderContext};
use buildbot_db::{LogId, StepId};
use serde_json::json;

fn per_op(label: &str, n: u64, f: impl FnMut(u64)) {
    let mut f = f;
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("{label:<58} {ns:>10.1} ns/op  ({n} ops)");
}

fn main() {
    let bus = EventBus::new();
    per_op("publish_log, no subscriber", 10_000_000, |i| {
        bus.publish_log(
            LogId(black_box(i as i64)),
            StepId(1),
            "stdio",
            "append",
            || json!({"logid": i}),
        );
    });
    let _unrelated: Vec<_> = (0..20)
        .map(|i| bus.subscribe_path(&format!("builds/{i}/finished")))
        .collect();
    per_op(
        "publish_log, 20 subscribers none matching",
        10_000_000,
        |i| {
            bus.publish_log(
                LogId(black_box(i as i64)),
                StepId(1),
                "stdio",
                "append",
                || json!({"logid": i}),
            );
        },
    );
    let sub = bus.subscribe_path("logs/*/append");
    per_op(
        "publish_log + receive, 1 matching subscriber",
        1_000_000,
        |i| {
            bus.publish_log(
                LogId(i as i64),
                StepId(1),
                "stdio",
                "append",
                || json!({"logid": i}),
            );
            black_box(sub.try_recv());
        },
    );

    let mut cfg = String::from(
        "[protocols.msgpack]\nport = 9989\n[[workers]]\nname = \"w1\"\npassword = \"pw\"\n",
    );
    for b in 0..100 {
        cfg.push_str(&format!(
            "[[builders]]\nname = \"b{b}\"\nworkernames = [\"w1\"]\n[[builders.steps]]\ntype = \"Git\"\nrepourl = \"https://example.org/r.git\"\n[[builders.steps]]\ntype = \"ShellCommand\"\ncommand = [\"make\", \"test\", \"B=%(prop:branch:-main)s\"]\n[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"f{b}\"\nbuilderNames = [\"b{b}\"]\n"
        ));
    }
    let reg = Registry::new();
    per_op(
        "parse_config, 100 builders x 2 steps + 100 schedulers",
        200,
        |_| {
            black_box(parse_config(black_box(&cfg), "master.cfg", &reg).unwrap());
        },
    );

    let ctx = SimpleRenderContext::new().with_property("branch", json!("main"));
    let i = Interpolate::parse(
        "build %(prop:branch)s at %(prop:revision:-HEAD)s %(prop:branch:#?|yes|no)s",
    )
    .unwrap();
    per_op("Interpolate render, 3 substitutions", 1_000_000, |_| {
        black_box(i.render(&ctx).unwrap());
    });
}
