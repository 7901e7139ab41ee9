//! Buildbot's REST (data API v2) entity shapes, written once: the web server answers with
//! them and the event bus carries them in live messages (`spec/rest-api.md` §5, §8).
//!
//! Entities the engine announces from memory (builds, steps, logs, build requests) have a
//! view struct that both a database row and the engine's in-memory state fill in, so the
//! shape itself exists once. Each entity also has its field list (what `field=` may name).
//! One file per family: `builds` (builds, steps, logs, build data, test results),
//! `requests` (build requests, buildsets, source stamps, changes, properties),
//! `components` (builders, workers, masters, schedulers, change sources, projects),
//! `force` (force schedulers and their form fields).

mod builds;
mod components;
mod force;
mod requests;

pub use builds::*;
pub use components::*;
pub use force::*;
pub use requests::*;
