//! Buildbot's web server.
#![warn(missing_docs)]
