//! An embedder's own step type, usable from `master.cfg`: register it, load a TOML
//! configuration that uses it, run a build with it.
//!
//! `cargo run --example custom_step`
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use buildbot::core::master::Renderable;
use buildbot::core::master::config::{Registry, parse_config};
use buildbot::core::master::workers::CommandArgs;
use buildbot::core::master::{
    BuildStep, ForceRequest, Master, MasterOptions, StepContext, StepDone, StepError,
    register_custom_step,
};
use buildbot::core::protocol::Value;
use buildbot::core::{Slave, SlaveConfig};
use buildbot::db::{Query, Results};
use futures::future::BoxFuture;

/// `type = "Greet"`: runs `echo hello <who>` on the worker, stores the answer in the
/// `greeting` property and writes a summary log.
struct Greet {
    who: Renderable,
}

impl BuildStep for Greet {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            // renderables (`%(prop:...)s`) are rendered with the build's properties
            let who = ctx.render_string("who", &self.who)?;
            // we read the command's output back below
            ctx.keep_output(true);
            let res = ctx
                .run_command(
                    "shell",
                    CommandArgs::new().with("workdir", "build").with(
                        "command",
                        Value::Array(vec!["echo".into(), format!("hello {who}").into()]),
                    ),
                )
                .await?;
            if res.rc != Some(0) {
                return Ok(StepDone::new(Results::Failure));
            }
            let greeting = res.text("stdout").trim().to_owned();
            ctx.set_property("greeting", greeting.clone().into(), "Greet Step");
            ctx.add_complete_log("summary", &format!("the worker said: {greeting}"))
                .await?;
            Ok(StepDone::with_summary(
                Results::Success,
                format!("greeted {who}"),
            ))
        })
    }
}

const MASTER_CFG: &str = r#"
[protocols.msgpack]
port = 0

[[workers]]
name = "example-slave"
password = "pass"

[[builders]]
name = "greeter"
workernames = ["example-slave"]

[[builders.steps]]
type = "Greet"
who = "%(prop:owner)s"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["greeter"]
"#;

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let mut registry = Registry::new();
    register_custom_step(&mut registry, "Greet", |args| {
        let who = args.req_renderable("who")?;
        Some(Arc::new(Greet { who }) as Arc<dyn BuildStep>)
    });
    let config = parse_config(MASTER_CFG, "master.cfg", &registry)?.config;

    let dir = tempfile::tempdir()?;
    let master = Master::start(
        config,
        MasterOptions::new(dir.path().join("master"))
            .upgrade_db(true)
            .worker_bind("127.0.0.1:0"),
    )
    .await?;
    let slave_dir = dir.path().join("slave");
    std::fs::create_dir_all(&slave_dir)?;
    let slave = Slave::new(SlaveConfig::new(
        "127.0.0.1",
        master.worker_addr().port(),
        "example-slave",
        "pass",
        &slave_dir,
    ));
    let slave_handle = slave.handle();
    let slave_task = async_std::task::spawn(slave.run());

    let (_, requests) = master
        .force("force", ForceRequest::new("world", "custom step demo"))
        .await?;
    master
        .wait_for_request(requests[0].1, Duration::from_secs(60))
        .await?;
    let build = master
        .builds_of_request(requests[0].1)
        .await?
        .pop()
        .ok_or("no build")?;
    let steps = master
        .db()
        .list_steps(
            &Query::new()
                .eq("buildid", build.buildid.0)
                .order("number", false),
        )
        .await?;
    for step in &steps {
        println!(
            "step {} {:<20} {}",
            step.number, step.name, step.state_string
        );
    }
    let props = master.db().get_build_properties(build.buildid).await?;
    println!("greeting property: {:?}", props.get("greeting"));
    println!("build #{}: {}", build.number, build.state_string);

    master.stop().await?;
    slave_handle.stop();
    let _ = async_std::future::timeout(Duration::from_secs(10), slave_task).await;
    Ok(())
}
