//! `sourcestamps`, `patches`, `changes` (+ files, properties, users).

use std::collections::BTreeMap;

use base64::Engine as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::common::{BATCH, Properties, decode_sourced, encode_sourced, find_or_create};
use crate::db::now;
use crate::entities::{
    change_files, change_properties, change_users, changes, patches, scheduler_changes,
    sourcestamps,
};
use crate::error::Ctx;
use crate::hash::ss_hash;
use crate::query::{Field, Query, Ty, apply, col};
use crate::{ChangeId, Db, DbError, PatchId, SourceStampId, UserId};

/// A patch to apply on top of a source stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Patch {
    /// `-p` level.
    pub level: i64,
    /// Raw patch bytes.
    pub body: Vec<u8>,
    /// Subdirectory to apply in.
    pub subdir: Option<String>,
    /// Author.
    pub author: String,
    /// Comment.
    pub comment: String,
}

impl Patch {
    /// A patch with empty author and comment.
    pub fn new(level: i64, body: Vec<u8>) -> Patch {
        Patch {
            level,
            body,
            subdir: None,
            author: String::new(),
            comment: String::new(),
        }
    }
}

/// What identifies a source stamp (find-or-create key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceStampSpec {
    /// Branch (`None` ≠ `Some("")`).
    pub branch: Option<String>,
    /// Revision (`None` = latest).
    pub revision: Option<String>,
    /// Repository URL.
    pub repository: String,
    /// Project.
    pub project: String,
    /// Codebase.
    pub codebase: String,
    /// Patch (a new patch row each time: patched stamps are never shared).
    pub patch: Option<Patch>,
}

impl SourceStampSpec {
    /// A stamp of `repository` at `branch`/`revision`.
    pub fn new(branch: Option<&str>, revision: Option<&str>, repository: &str) -> SourceStampSpec {
        SourceStampSpec {
            branch: branch.map(str::to_owned),
            revision: revision.map(str::to_owned),
            repository: repository.to_owned(),
            ..Default::default()
        }
    }
}

/// A stored source stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceStampRow {
    /// Id.
    pub ssid: SourceStampId,
    /// Branch.
    pub branch: Option<String>,
    /// Revision.
    pub revision: Option<String>,
    /// Repository.
    pub repository: String,
    /// Project.
    pub project: String,
    /// Codebase.
    pub codebase: String,
    /// Patch id and patch.
    pub patch: Option<(PatchId, Patch)>,
    /// First seen (epoch).
    pub created_at: i64,
}

/// A new change (`addChange`).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct NewChange {
    /// Author (`''` if unknown).
    pub author: String,
    /// Committer.
    pub committer: Option<String>,
    /// Touched files, in order.
    pub files: Vec<String>,
    /// Commit message.
    pub comments: String,
    /// Revision.
    pub revision: Option<String>,
    /// VCS time (default now).
    pub when_timestamp: Option<i64>,
    /// Branch.
    pub branch: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Revision link.
    pub revlink: Option<String>,
    /// Properties (source is always `Change`).
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Repository.
    pub repository: String,
    /// Codebase.
    pub codebase: String,
    /// Project.
    pub project: String,
    /// VCS the author name comes from (`git`, ...): creates `change_users`/`users` rows.
    pub src: Option<String>,
}

impl NewChange {
    /// A change by `author` with `comments`.
    pub fn new(author: &str, comments: &str) -> NewChange {
        NewChange {
            author: author.to_owned(),
            comments: comments.to_owned(),
            ..Default::default()
        }
    }
}

/// A stored change.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ChangeRow {
    /// Id (change number).
    pub changeid: ChangeId,
    /// Author.
    pub author: String,
    /// Committer.
    pub committer: Option<String>,
    /// Comments.
    pub comments: String,
    /// Branch.
    pub branch: Option<String>,
    /// Revision.
    pub revision: Option<String>,
    /// Revision link.
    pub revlink: Option<String>,
    /// VCS time.
    pub when_timestamp: i64,
    /// Category.
    pub category: Option<String>,
    /// Repository.
    pub repository: String,
    /// Codebase.
    pub codebase: String,
    /// Project.
    pub project: String,
    /// Source stamp.
    pub sourcestampid: SourceStampId,
    /// 0 or 1 parent.
    pub parent_changeids: Vec<ChangeId>,
    /// Files.
    pub files: Vec<String>,
    /// Properties `name → (value, "Change")`.
    pub properties: Properties,
}

fn change_field(name: &str) -> Option<Field> {
    use changes::Column as C;
    let e = changes::Entity;
    Some(match name {
        "changeid" => Field::Col(col(e, C::Changeid), Ty::Int),
        "author" => Field::Col(col(e, C::Author), Ty::Str),
        "committer" => Field::Col(col(e, C::Committer), Ty::Str),
        "comments" => Field::Col(col(e, C::Comments), Ty::Str),
        "branch" => Field::Col(col(e, C::Branch), Ty::Str),
        "revision" => Field::Col(col(e, C::Revision), Ty::Str),
        "revlink" => Field::Col(col(e, C::Revlink), Ty::Str),
        "when_timestamp" => Field::Col(col(e, C::WhenTimestamp), Ty::Int),
        "category" => Field::Col(col(e, C::Category), Ty::Str),
        "repository" => Field::Col(col(e, C::Repository), Ty::Str),
        "codebase" => Field::Col(col(e, C::Codebase), Ty::Str),
        "project" => Field::Col(col(e, C::Project), Ty::Str),
        "sourcestampid" => Field::Col(col(e, C::Sourcestampid), Ty::Int),
        _ => return None,
    })
}

impl Db {
    /// Find or create a source stamp (§3.12). A stamp with a patch always creates a new
    /// patch row (and therefore a new stamp).
    pub async fn find_or_create_sourcestamp(
        &self,
        ss: &SourceStampSpec,
    ) -> Result<SourceStampId, DbError> {
        const OP: &str = "finding or creating a source stamp";
        let patchid = match &ss.patch {
            None => None,
            Some(p) => {
                let r = self.insert(patches::Entity::insert(patches::ActiveModel {
                    patchlevel: Set(p.level),
                    patch_base64: Set(base64::engine::general_purpose::STANDARD.encode(&p.body)),
                    patch_author: Set(p.author.clone()),
                    patch_comment: Set(p.comment.clone()),
                    subdir: Set(p.subdir.clone()),
                    ..Default::default()
                }))
                .await
                .ctx(OP)?;
                Some(r)
            }
        };
        let hash = ss_hash(
            ss.branch.as_deref(),
            ss.revision.as_deref(),
            &ss.repository,
            &ss.project,
            &ss.codebase,
            patchid,
        );
        let am = sourcestamps::ActiveModel {
            ss_hash: Set(hash.clone()),
            branch: Set(ss.branch.clone()),
            revision: Set(ss.revision.clone()),
            patchid: Set(patchid),
            repository: Set(ss.repository.clone()),
            codebase: Set(ss.codebase.clone()),
            project: Set(ss.project.clone()),
            created_at: Set(now()),
            ..Default::default()
        };
        Ok(SourceStampId(find_or_create!(
            &self.x(),
            OP,
            sourcestamps::Entity,
            sourcestamps::Column::SsHash.eq(hash),
            am,
            id
        )))
    }

    /// Source stamps by id (missing ids are skipped), in the order given.
    pub async fn get_sourcestamps(
        &self,
        ids: &[SourceStampId],
    ) -> Result<Vec<SourceStampRow>, DbError> {
        const OP: &str = "reading source stamps";
        let mut out = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let rows = sourcestamps::Entity::find()
                .filter(sourcestamps::Column::Id.is_in(chunk.iter().map(|i| i.0)))
                .all(&self.x())
                .await
                .ctx(OP)?;
            let pids: Vec<i64> = rows.iter().filter_map(|r| r.patchid).collect();
            let ps: BTreeMap<i64, patches::Model> = if pids.is_empty() {
                BTreeMap::new()
            } else {
                patches::Entity::find()
                    .filter(patches::Column::Id.is_in(pids))
                    .all(&self.x())
                    .await
                    .ctx(OP)?
                    .into_iter()
                    .map(|p| (p.id, p))
                    .collect()
            };
            let mut by_id: BTreeMap<i64, SourceStampRow> = rows
                .into_iter()
                .map(|r| {
                    let patch = r.patchid.and_then(|pid| ps.get(&pid)).map(|p| {
                        (
                            PatchId(p.id),
                            Patch {
                                level: p.patchlevel,
                                body: base64::engine::general_purpose::STANDARD
                                    .decode(p.patch_base64.trim())
                                    .unwrap_or_default(),
                                subdir: p.subdir.clone(),
                                author: p.patch_author.clone(),
                                comment: p.patch_comment.clone(),
                            },
                        )
                    });
                    (
                        r.id,
                        SourceStampRow {
                            ssid: SourceStampId(r.id),
                            branch: r.branch,
                            revision: r.revision,
                            repository: r.repository,
                            project: r.project,
                            codebase: r.codebase,
                            patch,
                            created_at: r.created_at,
                        },
                    )
                })
                .collect();
            out.extend(chunk.iter().filter_map(|i| by_id.remove(&i.0)));
        }
        Ok(out)
    }

    /// One source stamp.
    pub async fn get_sourcestamp(
        &self,
        id: SourceStampId,
    ) -> Result<Option<SourceStampRow>, DbError> {
        Ok(self.get_sourcestamps(&[id]).await?.into_iter().next())
    }

    /// All source stamps (by id, paged).
    pub async fn list_sourcestamps(
        &self,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<Vec<SourceStampRow>, DbError> {
        let mut sel = sourcestamps::Entity::find()
            .select_only()
            .column(sourcestamps::Column::Id)
            .order_by_asc(sourcestamps::Column::Id);
        if let Some(l) = limit {
            sel = sel.limit(l);
        }
        if let Some(o) = offset {
            sel = sel.offset(o);
        }
        let ids: Vec<i64> = sel
            .into_tuple()
            .all(&self.x())
            .await
            .ctx("listing source stamps")?;
        self.get_sourcestamps(&ids.into_iter().map(SourceStampId).collect::<Vec<_>>())
            .await
    }

    /// Add a change (§3.11): source stamp find-or-create, parent = newest earlier change with
    /// the same (branch, repository, project, codebase), files, properties, change users.
    pub async fn add_change(&self, ch: &NewChange) -> Result<ChangeId, DbError> {
        const OP: &str = "adding a change";
        let ssid = self
            .find_or_create_sourcestamp(&SourceStampSpec {
                branch: ch.branch.clone(),
                revision: ch.revision.clone(),
                repository: ch.repository.clone(),
                project: ch.project.clone(),
                codebase: ch.codebase.clone(),
                patch: None,
            })
            .await?;
        let uid = match &ch.src {
            Some(src) if !ch.author.is_empty() => {
                Some(self.find_user_by_attr(&ch.author, src, &ch.author).await?)
            }
            _ => None,
        };
        let txn = self.write_txn(OP).await?;
        let mut parent = changes::Entity::find()
            .select_only()
            .column(changes::Column::Changeid)
            .filter(changes::Column::Repository.eq(ch.repository.clone()))
            .filter(changes::Column::Project.eq(ch.project.clone()))
            .filter(changes::Column::Codebase.eq(ch.codebase.clone()))
            .order_by_desc(changes::Column::Changeid)
            .limit(1);
        parent = match &ch.branch {
            Some(b) => parent.filter(changes::Column::Branch.eq(b.clone())),
            None => parent.filter(changes::Column::Branch.is_null()),
        };
        let parent: Option<i64> = parent.into_tuple().one(&*txn).await.ctx(OP)?;
        let r = changes::Entity::insert(changes::ActiveModel {
            author: Set(ch.author.clone()),
            committer: Set(ch.committer.clone()),
            comments: Set(ch.comments.clone()),
            branch: Set(ch.branch.clone()),
            revision: Set(ch.revision.clone()),
            revlink: Set(ch.revlink.clone()),
            when_timestamp: Set(ch.when_timestamp.unwrap_or_else(now)),
            category: Set(ch.category.clone()),
            repository: Set(ch.repository.clone()),
            codebase: Set(ch.codebase.clone()),
            project: Set(ch.project.clone()),
            sourcestampid: Set(ssid.0),
            parent_changeids: Set(parent),
            ..Default::default()
        })
        .exec(&*txn)
        .await
        .ctx(OP)?;
        let id = r.last_insert_id;
        if !ch.files.is_empty() {
            for chunk in ch.files.chunks(BATCH) {
                change_files::Entity::insert_many(chunk.iter().map(|f| {
                    change_files::ActiveModel {
                        changeid: Set(id),
                        filename: Set(f.clone()),
                    }
                }))
                .exec_without_returning(&*txn)
                .await
                .ctx(OP)?;
            }
        }
        for (name, value) in &ch.properties {
            change_properties::Entity::insert(change_properties::ActiveModel {
                changeid: Set(id),
                property_name: Set(name.clone()),
                property_value: Set(encode_sourced(value, "Change")),
            })
            .exec_without_returning(&*txn)
            .await
            .ctx(OP)?;
        }
        if let Some(uid) = uid {
            change_users::Entity::insert(change_users::ActiveModel {
                changeid: Set(id),
                uid: Set(uid.0),
            })
            .exec_without_returning(&*txn)
            .await
            .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)?;
        Ok(ChangeId(id))
    }

    async fn change_rows(&self, rows: Vec<changes::Model>) -> Result<Vec<ChangeRow>, DbError> {
        const OP: &str = "reading changes";
        let ids: Vec<i64> = rows.iter().map(|r| r.changeid).collect();
        let mut files: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut props: BTreeMap<i64, Properties> = BTreeMap::new();
        for chunk in ids.chunks(BATCH) {
            for f in change_files::Entity::find()
                .filter(change_files::Column::Changeid.is_in(chunk.to_vec()))
                .all(&self.x())
                .await
                .ctx(OP)?
            {
                files.entry(f.changeid).or_default().push(f.filename);
            }
            for p in change_properties::Entity::find()
                .filter(change_properties::Column::Changeid.is_in(chunk.to_vec()))
                .all(&self.x())
                .await
                .ctx(OP)?
            {
                props
                    .entry(p.changeid)
                    .or_default()
                    .insert(p.property_name, decode_sourced(&p.property_value, "Change"));
            }
        }
        Ok(rows
            .into_iter()
            .map(|c| ChangeRow {
                changeid: ChangeId(c.changeid),
                files: files.remove(&c.changeid).unwrap_or_default(),
                properties: props.remove(&c.changeid).unwrap_or_default(),
                author: c.author,
                committer: c.committer,
                comments: c.comments,
                branch: c.branch,
                revision: c.revision,
                revlink: c.revlink,
                when_timestamp: c.when_timestamp,
                category: c.category,
                repository: c.repository,
                codebase: c.codebase,
                project: c.project,
                sourcestampid: SourceStampId(c.sourcestampid),
                parent_changeids: c.parent_changeids.map(ChangeId).into_iter().collect(),
            })
            .collect())
    }

    /// One change.
    pub async fn get_change(&self, id: ChangeId) -> Result<Option<ChangeRow>, DbError> {
        let rows = changes::Entity::find_by_id(id.0)
            .all(&self.x())
            .await
            .ctx("reading a change")?;
        Ok(self.change_rows(rows).await?.into_iter().next())
    }

    /// Changes (REST fields of `changes`).
    pub async fn list_changes(&self, q: &Query) -> Result<Vec<ChangeRow>, DbError> {
        let rows = apply(
            changes::Entity::find(),
            q,
            "changes",
            change_field,
            col(changes::Entity, changes::Column::Changeid),
        )?
        .all(&self.x())
        .await
        .ctx("listing changes")?;
        self.change_rows(rows).await
    }

    /// The newest change id.
    pub async fn latest_change_id(&self) -> Result<Option<ChangeId>, DbError> {
        let r: Option<Option<i64>> = changes::Entity::find()
            .select_only()
            .expr(sea_orm::sea_query::Func::max(Expr::col(
                changes::Column::Changeid,
            )))
            .into_tuple()
            .one(&self.x())
            .await
            .ctx("reading the latest change")?;
        Ok(r.flatten().map(ChangeId))
    }

    /// Changes of the source stamps of a buildset... by source stamp id.
    pub async fn changes_for_sourcestamp(
        &self,
        ssid: SourceStampId,
    ) -> Result<Vec<ChangeRow>, DbError> {
        self.list_changes(&Query::new().eq("sourcestampid", ssid.0))
            .await
    }

    /// Keep only the newest `horizon` changes (changeHorizon pruning).
    pub async fn prune_changes(&self, horizon: u64) -> Result<u64, DbError> {
        const OP: &str = "pruning changes";
        let ids: Vec<i64> = changes::Entity::find()
            .select_only()
            .column(changes::Column::Changeid)
            .order_by_desc(changes::Column::Changeid)
            .offset(horizon)
            .limit(i64::MAX as u64)
            .into_tuple()
            .all(&self.x())
            .await
            .ctx(OP)?;
        for chunk in ids.chunks(BATCH) {
            let txn = self.write_txn(OP).await?;
            let v = chunk.to_vec();
            scheduler_changes::Entity::delete_many()
                .filter(scheduler_changes::Column::Changeid.is_in(v.clone()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            change_files::Entity::delete_many()
                .filter(change_files::Column::Changeid.is_in(v.clone()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            change_properties::Entity::delete_many()
                .filter(change_properties::Column::Changeid.is_in(v.clone()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            change_users::Entity::delete_many()
                .filter(change_users::Column::Changeid.is_in(v.clone()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            // Children pointing at pruned parents: SET NULL by hand (FKs are off on SQLite).
            changes::Entity::update_many()
                .col_expr(changes::Column::ParentChangeids, Expr::value(None::<i64>))
                .filter(changes::Column::ParentChangeids.is_in(v.clone()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            changes::Entity::delete_many()
                .filter(changes::Column::Changeid.is_in(v))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            txn.commit().await.ctx(OP)?;
        }
        Ok(ids.len() as u64)
    }

    /// Users linked to a change (`change_users`).
    pub async fn change_users(&self, id: ChangeId) -> Result<Vec<UserId>, DbError> {
        Ok(change_users::Entity::find()
            .filter(change_users::Column::Changeid.eq(id.0))
            .all(&self.x())
            .await
            .ctx("reading change users")?
            .into_iter()
            .map(|r| UserId(r.uid))
            .collect())
    }
}
