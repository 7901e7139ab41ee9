//! The build master (feature `master`): configuration, properties and renderables, the event
//! bus, and result/summary rules. The engine (workers, requests, builds, steps) builds on
//! these.
//!
//! * [`config`] — `master.cfg` (TOML) → [`config::MasterConfig`], the component registry,
//!   cross-checks, reconfig diffs.
//! * [`Properties`], [`Renderable`], [`Interpolate`] — build properties and Buildbot's
//!   `Interpolate`/`Property` renderables.
//! * [`EventBus`] — in-process pub/sub with Buildbot's routing keys.
//! * [`engine`] — the running master: [`Master::start`] → [`MasterHandle`] (workers, build
//!   request distribution, builds and steps, force/stop/cancel/rebuild/reconfig).
//! * [`results`] — how step results make the build result, and the summary texts.

pub mod config;
pub mod engine;
mod events;
pub mod pb;
mod properties;
pub mod rest;
pub mod results;
pub mod workers;

pub use engine::{ForceRequest, Master, MasterError, MasterHandle, MasterOptions};
pub use events::{
    BuildKeys, DEFAULT_SUBSCRIBER_BUFFER, Event, EventBus, KeyPart, RoutingKey, Subscription,
};
pub use properties::{
    Interpolate, InterpolateError, Properties, PropertiesError, Redactor, RenderContext,
    RenderError, Renderable, SimpleRenderContext, is_truthy, python_str, sources,
};
