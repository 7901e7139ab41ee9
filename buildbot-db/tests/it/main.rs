//! Integration tests of buildbot-db against real SQLite, PostgreSQL and MariaDB databases.
//!
//! Every test in [`db_tests!`] runs three times: on a fresh SQLite file, on a fresh PostgreSQL
//! database (`BUILDBOT_TEST_PG_URL`, else SKIP) and on a fresh MariaDB database
//! (`BUILDBOT_TEST_MYSQL_URL`, else SKIP); server databases are dropped afterwards.
#![allow(clippy::print_stderr)]

mod harness;

mod basics;
mod builds;
mod changes;
mod claims;
mod logs;
mod migrations;
mod python_fixture;
mod queries;
mod wal;
