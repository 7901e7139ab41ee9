//! What a running build is made of: its shared state ([`Build`]), the step API steps are
//! written against ([`BuildStep`], [`StepContext`]), locks, and the narrow set of master
//! services a build may use ([`BuildServices`]). `engine/runner.rs` runs a build with these;
//! `engine/steps/` holds the built-in steps.
//!
//! Within this folder the modules depend on each other in one direction only:
//! `services`, `lock_table` ← `state` ← `context` ← `locks`.

mod context;
mod lock_table;
mod locks;
mod services;
mod state;

pub(crate) use context::BuildRenderContext;
pub use context::{BuildStep, CustomStep, StepContext, StepDone, StepError, register_custom_step};
pub(crate) use lock_table::LockTable;
pub(crate) use locks::{build_locks, step_locks};
pub(crate) use services::{BuildServices, MasterControl, Submitted};
pub(crate) use state::{Build, NewBuild, create_build};
