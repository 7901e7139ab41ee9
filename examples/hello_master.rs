//! A complete master in a few lines: configured in Rust (no `master.cfg`), SQLite in a
//! temporary directory, our slave runtime in-process as the local slave; forces a build of
//! one `ShellCommand` step, waits for it and prints its stdio log and result.
//!
//! `cargo run --example hello_master`
#![allow(clippy::print_stdout)]

use std::time::Duration;

use buildbot::core::master::config::{
    BuilderConfig, MasterConfig, SchedulerConfig, StepConfig, WorkerConfig,
};
use buildbot::core::master::{ForceRequest, Master, MasterOptions};
use buildbot::core::{Slave, SlaveConfig};
use buildbot::db::Query;

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let dir = tempfile::tempdir()?;

    // 1. the configuration, in code
    let config = MasterConfig::builder()
        .title("Hello World CI")
        .worker_port(9989) // overridden below by worker_bind
        .worker(WorkerConfig::new("example-slave", "pass"))
        .builder(
            BuilderConfig::builder("hello")
                .workername("example-slave")
                .step(
                    StepConfig::shell_argv(&["sh", "-c", "echo Hello, World!; uname -s"])
                        .name("greet"),
                )
                .build()?,
        )
        .scheduler(SchedulerConfig::force("force", ["hello"]))
        .build()?;

    // 2. the master (creates the SQLite schema; workers on a free local port)
    let master = Master::start(
        config,
        MasterOptions::new(dir.path().join("master"))
            .upgrade_db(true)
            .worker_bind("127.0.0.1:0"),
    )
    .await?;
    println!(
        "master {} listening for workers on {}",
        master.name(),
        master.worker_addr()
    );

    // 3. a local slave, in-process
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

    // 4. force a build and wait for it
    let (_bsid, requests) = master
        .force(
            "force",
            ForceRequest::new("example <ex@example.org>", "trying it out"),
        )
        .await?;
    let request = master
        .wait_for_request(requests[0].1, Duration::from_secs(60))
        .await?;
    let build = master
        .builds_of_request(request.buildrequestid)
        .await?
        .pop()
        .ok_or("no build")?;

    // 5. what the database recorded
    let db = master.db();
    let steps = db
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
        if let Some(log) = db.get_log_by_slug(step.stepid, "stdio").await? {
            print!(
                "{}",
                db.get_log_lines(log.logid, 0, log.num_lines - 1).await?
            );
        }
    }
    let result = buildbot::db::Results::from_code(build.results.unwrap_or(-1))
        .map(|r| r.name())
        .unwrap_or("unknown");
    println!("build #{}: {} ({result})", build.number, build.state_string);

    master.stop().await?;
    slave_handle.stop();
    let _ = async_std::future::timeout(Duration::from_secs(10), slave_task).await;
    Ok(())
}
