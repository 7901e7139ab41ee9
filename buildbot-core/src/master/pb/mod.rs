//! Perspective Broker, the part Buildbot's command-line clients still speak (decision D2):
//! the Banana/jelly codec shared with `buildbot sendchange`/`buildbot user`, and the
//! master's change port that serves `PBChangeSource`.

pub mod codec;
mod server;

pub use server::{change_port_addrs, start_change_ports};
