//! sea-orm entities, one module per table of Buildbot 4.3 (`spec/data-model.md`).
//!
//! Tables without a primary key get the logical composite key suggested by the spec in the
//! entity only; the physical DDL is the one of `schema-sqlite.sql`.
#![allow(missing_docs, dead_code)]

pub mod alembic_version;
pub mod build_data;
pub mod build_properties;
pub mod builder_masters;
pub mod builders;
pub mod builders_tags;
pub mod buildrequest_claims;
pub mod buildrequests;
pub mod builds;
pub mod buildset_properties;
pub mod buildset_sourcestamps;
pub mod buildsets;
pub mod change_files;
pub mod change_properties;
pub mod change_users;
pub mod changes;
pub mod changesource_masters;
pub mod changesources;
pub mod codebase_branches;
pub mod codebase_commits;
pub mod codebases;
pub mod configured_workers;
pub mod connected_workers;
pub mod logchunks;
pub mod logs;
pub mod masters;
pub mod object_state;
pub mod objects;
pub mod patches;
pub mod projects;
pub mod scheduler_changes;
pub mod scheduler_masters;
pub mod schedulers;
pub mod sourcestamps;
pub mod steps;
pub mod tags;
pub mod test_code_paths;
pub mod test_names;
pub mod test_result_sets;
pub mod test_results;
pub mod users;
pub mod users_info;
pub mod workers;
