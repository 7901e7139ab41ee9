//! The build master (feature `master`).
//!
//! * [`config`] — `master.cfg` (TOML) → [`config::MasterConfig`], the component registry,
//!   cross-checks, reconfig diffs.
//! * the running master (module `engine`, re-exported here): [`Master::start`] →
//!   [`MasterHandle`] (worker bookkeeping, request distribution, builds and steps,
//!   force/stop/cancel/rebuild, reconfig); the step API ([`BuildStep`], [`StepContext`]);
//!   [`ForceRequest`]; builder strategies ([`BuilderStrategy`]).
//! * [`workers`] — the master's side of worker connections: listener, authentication,
//!   keepalive, remote commands and file transfers.
//! * [`pb`] — Perspective Broker for `buildbot sendchange` / `buildbot user` (codec and the
//!   change port).
//! * [`Properties`], [`Renderable`], [`Interpolate`] — build properties and Buildbot's
//!   `Interpolate`/`Property` renderables (module `properties`).
//! * [`EventBus`] — in-process pub/sub with Buildbot's routing keys (module `events`).
//! * [`rest`] — Buildbot's REST entity shapes, for the web's answers and the bus's messages.
//! * [`results`] — how step results make the build result, and the summary texts.

pub mod config;
mod engine;
mod events;
pub mod pb;
mod properties;
pub mod rest;
pub mod results;
pub mod workers;

pub use engine::{
    BuildStep, BuilderStrategy, ChangeSourceStatus, CustomStep, ForceRequest, ForceSourceStamp,
    Master, MasterError, MasterHandle, MasterOptions, StepContext, StepDone, StepError,
    register_custom_step,
};
pub use events::{
    BuildKeys, DEFAULT_SUBSCRIBER_BUFFER, Event, EventBudget, EventBus, KeyPart, RoutingKey,
    Subscription,
};
pub use properties::{
    Interpolate, InterpolateError, Properties, PropertiesError, Redactor, RenderContext,
    RenderError, Renderable, SimpleRenderContext, is_truthy, python_str, sources,
};
