//! Build requests, buildsets, source stamps, changes and property bags.

use buildbot_db::{
    BuildId, BuildRequestId, BuildRequestRow, BuilderId, BuildsetId, BuildsetRow, ChangeRow,
    MasterId, SourceStampRow,
};
use serde_json::{Value, json};

/// Fields of a `buildrequest`.
pub const BUILDREQUEST_FIELDS: &[&str] = &[
    "builderid",
    "buildrequestid",
    "buildsetid",
    "claimed",
    "claimed_at",
    "claimed_by_masterid",
    "complete",
    "complete_at",
    "priority",
    "properties",
    "results",
    "submitted_at",
    "waited_for",
];

/// A build request as the API shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BuildRequestView {
    /// `buildrequestid`.
    pub buildrequestid: BuildRequestId,
    /// `buildsetid`.
    pub buildsetid: BuildsetId,
    /// `builderid`.
    pub builderid: BuilderId,
    /// `priority`.
    pub priority: i64,
    /// `claimed`.
    pub claimed: bool,
    /// `claimed_at`.
    pub claimed_at: Option<i64>,
    /// `claimed_by_masterid`.
    pub claimed_by_masterid: Option<MasterId>,
    /// `complete`.
    pub complete: bool,
    /// `complete_at`.
    pub complete_at: Option<i64>,
    /// `results` (-1 while not complete).
    pub results: i64,
    /// `submitted_at`.
    pub submitted_at: i64,
    /// `waited_for`.
    pub waited_for: bool,
}

impl From<&BuildRequestRow> for BuildRequestView {
    fn from(r: &BuildRequestRow) -> Self {
        BuildRequestView {
            buildrequestid: r.buildrequestid,
            buildsetid: r.buildsetid,
            builderid: r.builderid,
            priority: r.priority,
            claimed: r.claimed,
            claimed_at: r.claimed_at,
            claimed_by_masterid: r.claimed_by_masterid,
            complete: r.complete,
            complete_at: r.complete_at,
            results: r.results,
            submitted_at: r.submitted_at,
            waited_for: r.waited_for,
        }
    }
}

impl BuildRequestView {
    /// A request just submitted: unclaimed, incomplete.
    pub fn submitted(
        buildrequestid: BuildRequestId,
        buildsetid: BuildsetId,
        builderid: BuilderId,
        priority: i64,
        submitted_at: i64,
        waited_for: bool,
    ) -> Self {
        BuildRequestView {
            buildrequestid,
            buildsetid,
            builderid,
            priority,
            claimed: false,
            claimed_at: None,
            claimed_by_masterid: None,
            complete: false,
            complete_at: None,
            results: -1,
            submitted_at,
            waited_for,
        }
    }

    /// The `buildrequest` entity (its `properties` null: asked for separately).
    pub fn to_json(&self) -> Value {
        json!({
            "builderid": self.builderid.0,
            "buildrequestid": self.buildrequestid.0,
            "buildsetid": self.buildsetid.0,
            "claimed": self.claimed,
            "claimed_at": self.claimed_at,
            "claimed_by_masterid": self.claimed_by_masterid.map(|m| m.0),
            "complete": self.complete,
            "complete_at": self.complete_at,
            "priority": self.priority,
            "properties": null,
            "results": self.results,
            "submitted_at": self.submitted_at,
            "waited_for": self.waited_for,
        })
    }
}

/// A `buildrequest` from its row.
pub fn buildrequest(r: &BuildRequestRow) -> Value {
    BuildRequestView::from(r).to_json()
}

/// Fields of a `buildset`.
pub const BUILDSET_FIELDS: &[&str] = &[
    "bsid",
    "complete",
    "complete_at",
    "external_idstring",
    "parent_buildid",
    "parent_relationship",
    "reason",
    "rebuilt_buildid",
    "results",
    "sourcestamps",
    "submitted_at",
];

/// A `buildset` with its source stamps (also the message of `buildsets/<id>/complete`).
pub fn buildset(b: &BuildsetRow, sourcestamps: &[SourceStampRow]) -> Value {
    json!({
        "bsid": b.bsid.0,
        "complete": b.complete,
        "complete_at": b.complete_at,
        "external_idstring": b.external_idstring,
        "parent_buildid": b.parent_buildid.map(|i| i.0),
        "parent_relationship": b.parent_relationship,
        "reason": b.reason,
        "rebuilt_buildid": b.rebuilt_buildid.map(|i| i.0),
        "results": b.results,
        "sourcestamps": sourcestamps.iter().map(sourcestamp).collect::<Vec<_>>(),
        "submitted_at": b.submitted_at,
    })
}

/// What a new buildset's message (`buildsets/<id>/new`) tells beyond its inputs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewBuildsetView<'a> {
    /// `bsid`.
    pub bsid: BuildsetId,
    /// `external_idstring`.
    pub external_idstring: Option<&'a str>,
    /// `reason`.
    pub reason: &'a str,
    /// `parent_buildid`.
    pub parent_buildid: Option<BuildId>,
    /// `rebuilt_buildid`.
    pub rebuilt_buildid: Option<BuildId>,
    /// `submitted_at`.
    pub submitted_at: i64,
    /// `scheduler` (the submitter's name).
    pub scheduler: &'a str,
    /// Its source stamps.
    pub sourcestamps: &'a [SourceStampRow],
}

impl NewBuildsetView<'_> {
    /// The message Buildbot sends when a buildset is added (not an entity of its own: it
    /// names the scheduler and has no `parent_relationship`).
    pub fn to_json(&self) -> Value {
        json!({
            "bsid": self.bsid.0,
            "external_idstring": self.external_idstring,
            "reason": self.reason,
            "parent_buildid": self.parent_buildid.map(|b| b.0),
            "rebuilt_buildid": self.rebuilt_buildid.map(|b| b.0),
            "submitted_at": self.submitted_at,
            "complete": false,
            "complete_at": null,
            "results": null,
            "scheduler": self.scheduler,
            "sourcestamps": self.sourcestamps.iter().map(sourcestamp).collect::<Vec<_>>(),
        })
    }
}

/// A source stamp.
pub fn sourcestamp(s: &SourceStampRow) -> Value {
    json!({
        "branch": s.branch,
        "codebase": s.codebase,
        "created_at": s.created_at,
        "patch": s.patch.as_ref().map(|(id, p)| json!({
            "patchid": id.0,
            "level": p.level,
            "subdir": p.subdir,
            "author": p.author,
            "comment": p.comment,
            "body": null,
        })),
        "project": s.project,
        "repository": s.repository,
        "revision": s.revision,
        "ssid": s.ssid.0,
    })
}

/// Fields of a `change`.
pub const CHANGE_FIELDS: &[&str] = &[
    "author",
    "branch",
    "category",
    "changeid",
    "codebase",
    "comments",
    "committer",
    "files",
    "parent_changeids",
    "project",
    "properties",
    "repository",
    "revision",
    "revlink",
    "sourcestamp",
    "when_timestamp",
];

/// A change (`ss`: its source stamp, when known).
pub fn change(c: &ChangeRow, ss: Option<&SourceStampRow>) -> Value {
    json!({
        "author": c.author,
        "branch": c.branch,
        "category": c.category,
        "changeid": c.changeid.0,
        "codebase": c.codebase,
        "comments": c.comments,
        "committer": c.committer,
        "files": c.files,
        "parent_changeids": c.parent_changeids.iter().map(|i| i.0).collect::<Vec<_>>(),
        "project": c.project,
        "properties": c.properties,
        "repository": c.repository,
        "revision": c.revision,
        "revlink": c.revlink,
        "sourcestamp": ss.map(sourcestamp),
        "when_timestamp": c.when_timestamp,
    })
}

/// A property bag as one object: `{"name": [value, source], ...}` (a build's
/// `properties`, the message of `builds/<id>/properties/update`).
pub fn properties<'p>(props: impl IntoIterator<Item = (&'p String, &'p (Value, String))>) -> Value {
    Value::Object(
        props
            .into_iter()
            .map(|(k, (v, s))| (k.clone(), json!([v, s])))
            .collect(),
    )
}

/// Fields of a `sourcestamp`.
pub const SOURCESTAMP_FIELDS: &[&str] = &[
    "branch",
    "codebase",
    "created_at",
    "patch",
    "project",
    "repository",
    "revision",
    "ssid",
];

/// Fields of a `_properties` list item.
pub const PROPERTY_LIST_FIELDS: &[&str] = &["name", "source", "value"];

/// One property as a `property_list` item (`value` is the JSON text of the value, as
/// Buildbot's list shows it).
pub fn property_list_item(name: &str, value: &Value, source: &Value) -> Value {
    json!({"name": name, "source": source, "value": value.to_string()})
}
