//! REST API v2 against a real engine (SQLite in a temp dir) and an in-process worker.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod auth;
mod browser;
mod force;
mod fuzz;
mod golden;
mod harness;
mod hooks;
mod hostile;
mod hostile_http;
mod hostile_live;
mod live;
mod metrics;
mod pages;
mod rest;
mod webenv;
