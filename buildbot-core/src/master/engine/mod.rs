//! The build engine: a running master that accepts workers, turns build requests into
//! builds, runs their steps on workers and records everything in the database
//! (`spec/data-model.md` §6–§7, §9).
//!
//! ```no_run
//! use buildbot_core::master::config::*;
//! use buildbot_core::master::{ForceRequest, Master, MasterOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = MasterConfig::builder()
//!     .worker_port(0)
//!     .worker(WorkerConfig::new("w1", "pass"))
//!     .builder(
//!         BuilderConfig::builder("hello")
//!             .workername("w1")
//!             .step(StepConfig::shell("echo hello"))
//!             .build()?,
//!     )
//!     .scheduler(SchedulerConfig::force("force", ["hello"]))
//!     .build()?;
//! let master = Master::start(cfg, MasterOptions::new("/srv/master").upgrade_db(true)).await?;
//! let (_bsid, requests) = master
//!     .force("force", ForceRequest::new("me", "try it").builders(["hello"]))
//!     .await?;
//! let done = master.wait_for_request(requests[0].1, std::time::Duration::from_secs(60)).await?;
//! println!("result {}", done.results);
//! master.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Where things are
//!
//! | module | owns |
//! |---|---|
//! | `lifecycle` | [`Master::start`], registration of the configuration, reconfig, heartbeat, stop |
//! | `distributor` | **where a build request becomes a build**: request → worker → build task |
//! | `runner` | one build from start to finish: preparation, locks, steps in order, result |
//! | `build/` | what a running build is made of: its state, the step API ([`BuildStep`], [`StepContext`]), locks, the master services it may use |
//! | `steps/` | the built-in steps (shell, transfers, file system, master shell, Git, Trigger) |
//! | `buildsets` | buildset submission, collapsing, completion |
//! | `control` | stop, cancel, priority, scheduler enable, rebuild |
//! | `force` | `ForceScheduler`: parameters → [`ForceRequest`] → buildset |
//! | `attach` | workers attaching and detaching, worker actions (pause, stop, kill) |
//! | `schedulers` | change-driven, timed and `Dependent` schedulers |
//! | `pollers` | polling change sources (`GitPoller`): their loops, state and status |
//! | `strategies` | builder strategies given as Rust closures ([`BuilderStrategy`]) |
//! | `handle` | [`MasterHandle`]: what can be read and waited for |
//! | `state` | the master's in-memory state shared by all of the above |
//!
//! Invariants: state is persisted before it is announced on the
//! [`EventBus`](crate::master::EventBus); requests are claimed through the database
//! (several masters may share it); the distributor is woken by new requests, attaching
//! workers and finished builds (plus one scan per heartbeat for requests submitted by other
//! masters), and reads at most one pending request per builder and build it starts. A
//! running build reaches the master only through the services it was given when it was
//! made (a configuration snapshot, the lock table, buildset submission).

mod attach;
mod build;
mod buildsets;
mod control;
mod distributor;
mod error;
mod force;
mod handle;
mod janitor;
mod lifecycle;
mod options;
mod pollers;
mod runner;
mod schedulers;
mod state;
mod steps;
mod strategies;

pub use build::{BuildStep, CustomStep, StepContext, StepDone, StepError, register_custom_step};
pub use error::MasterError;
pub use force::{ForceRequest, ForceSourceStamp};
pub use handle::MasterHandle;
pub use lifecycle::Master;
pub use options::MasterOptions;
pub use pollers::ChangeSourceStatus;
pub use strategies::BuilderStrategy;
