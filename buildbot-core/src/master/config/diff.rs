//! What a reconfig would change (S52, S55).

use std::collections::BTreeMap;

use super::model::MasterConfig;

/// Names added, removed and changed in one kind of component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NamedChanges {
    /// Present only in the new config.
    pub added: Vec<String>,
    /// Present only in the old config.
    pub removed: Vec<String>,
    /// Present in both with a different definition.
    pub changed: Vec<String>,
}

impl NamedChanges {
    fn of<'a, T: PartialEq + 'a>(
        old: impl IntoIterator<Item = (&'a str, &'a T)>,
        new: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> Self {
        let old: BTreeMap<&str, &T> = old.into_iter().collect();
        let new: BTreeMap<&str, &T> = new.into_iter().collect();
        let mut c = NamedChanges::default();
        for (n, v) in &new {
            match old.get(n) {
                None => c.added.push((*n).to_owned()),
                Some(o) if o != v => c.changed.push((*n).to_owned()),
                Some(_) => {}
            }
        }
        for n in old.keys() {
            if !new.contains_key(n) {
                c.removed.push((*n).to_owned());
            }
        }
        c
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The differences between a running configuration and a new one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigDiff {
    /// Settings a live reconfig cannot apply (see [`restart_required`]); if not empty the
    /// reconfig must be refused as a whole.
    pub restart_required: Vec<String>,
    /// Workers by name.
    pub workers: NamedChanges,
    /// Builders by name (a changed builder's running builds are not disturbed; new builds
    /// use the new definition).
    pub builders: NamedChanges,
    /// Schedulers by name.
    pub schedulers: NamedChanges,
    /// Change sources by name.
    pub change_sources: NamedChanges,
    /// Reporters by name.
    pub services: NamedChanges,
    /// Locks by name.
    pub locks: NamedChanges,
    /// `[www]` changed.
    pub www_changed: bool,
    /// Any global setting (title, URLs, properties, horizons, log settings, ...) changed.
    pub globals_changed: bool,
}

impl ConfigDiff {
    /// Whether applying the new config would change nothing.
    pub fn is_empty(&self) -> bool {
        self.restart_required.is_empty()
            && self.workers.is_empty()
            && self.builders.is_empty()
            && self.schedulers.is_empty()
            && self.change_sources.is_empty()
            && self.services.is_empty()
            && self.locks.is_empty()
            && !self.www_changed
            && !self.globals_changed
    }
}

/// Compares two configurations.
pub fn diff(old: &MasterConfig, new: &MasterConfig) -> ConfigDiff {
    ConfigDiff {
        restart_required: restart_required(old, new),
        workers: NamedChanges::of(
            old.workers.iter().map(|w| (w.name.as_str(), w)),
            new.workers.iter().map(|w| (w.name.as_str(), w)),
        ),
        builders: NamedChanges::of(
            old.builders.iter().map(|b| (b.name.as_str(), b)),
            new.builders.iter().map(|b| (b.name.as_str(), b)),
        ),
        schedulers: NamedChanges::of(
            old.schedulers.iter().map(|s| (s.name.as_str(), s)),
            new.schedulers.iter().map(|s| (s.name.as_str(), s)),
        ),
        change_sources: NamedChanges::of(
            old.change_sources.iter().map(|s| (s.name.as_str(), s)),
            new.change_sources.iter().map(|s| (s.name.as_str(), s)),
        ),
        services: NamedChanges::of(
            old.services.iter().map(|s| (s.name.as_str(), s)),
            new.services.iter().map(|s| (s.name.as_str(), s)),
        ),
        locks: NamedChanges::of(
            old.locks.iter().map(|l| (l.name.as_str(), l)),
            new.locks.iter().map(|l| (l.name.as_str(), l)),
        ),
        www_changed: old.www != new.www,
        globals_changed: old.title != new.title
            || old.title_url != new.title_url
            || old.buildbot_url != new.buildbot_url
            || old.properties != new.properties
            || old.collapse_requests != new.collapse_requests
            || old.change_horizon != new.change_horizon
            || old.log_compression_method != new.log_compression_method
            || old.log_compression_limit != new.log_compression_limit
            || old.log_encoding != new.log_encoding,
    }
}

/// Settings that a live reconfig cannot change (S55): one message per changed setting,
/// naming it and saying to restart. They are:
///
/// * `[db] db_url` — the database a master writes to cannot be swapped under running builds
///   (Buildbot refuses this too). The base directory is not part of the config file; the
///   CLI refuses a reconfig of a different basedir on its own.
/// * `[protocols.msgpack] port` / `[protocols.pb] port` (and their interfaces) — connected
///   workers and their listener are kept across reconfigs.
/// * `multiMaster` — it changes how requests are claimed and masters are tracked.
pub fn restart_required(old: &MasterConfig, new: &MasterConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |changed: bool, setting: &str| {
        if changed {
            out.push(format!(
                "Cannot change {setting} after the master has started; use 'buildbot restart'"
            ));
        }
    };
    check(old.db.db_url != new.db.db_url, "[db] db_url");
    check(
        old.protocols.msgpack != new.protocols.msgpack,
        "[protocols.msgpack] port",
    );
    check(old.protocols.pb != new.protocols.pb, "[protocols.pb] port");
    check(old.multi_master != new.multi_master, "multiMaster");
    out
}
