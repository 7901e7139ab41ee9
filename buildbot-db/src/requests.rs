//! `buildsets` (+ properties, sourcestamps), `buildrequests`, `buildrequest_claims` (§6.1–6.5).

use std::collections::BTreeMap;

use sea_orm::sea_query::{Cond, Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::common::{BATCH, Properties, decode_sourced, encode_sourced, flag, oflag};
use crate::db::now;
use crate::entities::{
    buildrequest_claims, buildrequests, buildset_properties, buildset_sourcestamps, buildsets,
};
use crate::error::{Ctx, is_unique_violation};
use crate::query::{Field, Query, Ty, apply, col};
use crate::{
    BuildId, BuildRequestId, BuilderId, BuildsetId, Db, DbError, MasterId, Results, SourceStampId,
};

/// A buildset to submit (§6.1).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct NewBuildset {
    /// Source stamps (resolve with [`Db::find_or_create_sourcestamp`] first).
    pub sourcestamps: Vec<SourceStampId>,
    /// Reason.
    pub reason: String,
    /// Properties `name → (value, source)`.
    pub properties: Properties,
    /// One request per builder.
    pub builderids: Vec<BuilderId>,
    /// A triggering step waits for it.
    pub waited_for: bool,
    /// External id (try jobs).
    pub external_idstring: Option<String>,
    /// Triggering build.
    pub parent_buildid: Option<BuildId>,
    /// e.g. `Triggered from`.
    pub parent_relationship: Option<String>,
    /// Original build of a rebuild.
    pub rebuilt_buildid: Option<BuildId>,
    /// Request priority.
    pub priority: i64,
    /// Submission time (default now).
    pub submitted_at: Option<i64>,
}

impl NewBuildset {
    /// A buildset for `builderids` with `reason`.
    pub fn new(
        reason: &str,
        sourcestamps: Vec<SourceStampId>,
        builderids: Vec<BuilderId>,
    ) -> NewBuildset {
        NewBuildset {
            reason: reason.to_owned(),
            sourcestamps,
            builderids,
            ..Default::default()
        }
    }
}

/// A stored buildset.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildsetRow {
    /// Id.
    pub bsid: BuildsetId,
    /// External id.
    pub external_idstring: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Submission time.
    pub submitted_at: i64,
    /// Complete.
    pub complete: bool,
    /// Completion time.
    pub complete_at: Option<i64>,
    /// `-1` while pending, else a result code.
    pub results: Option<i64>,
    /// Triggering build.
    pub parent_buildid: Option<BuildId>,
    /// Relationship to it.
    pub parent_relationship: Option<String>,
    /// Original build of a rebuild.
    pub rebuilt_buildid: Option<BuildId>,
    /// Source stamps, by id.
    pub sourcestamps: Vec<SourceStampId>,
}

/// A build request with its claim.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildRequestRow {
    /// Id.
    pub buildrequestid: BuildRequestId,
    /// Buildset.
    pub buildsetid: BuildsetId,
    /// Builder.
    pub builderid: BuilderId,
    /// Higher runs first.
    pub priority: i64,
    /// A claim row exists (stays true after completion).
    pub claimed: bool,
    /// Claim time.
    pub claimed_at: Option<i64>,
    /// Claiming master.
    pub claimed_by_masterid: Option<MasterId>,
    /// Complete.
    pub complete: bool,
    /// `-1` while pending.
    pub results: i64,
    /// Submission time.
    pub submitted_at: i64,
    /// Completion time.
    pub complete_at: Option<i64>,
    /// A triggering step waits for it.
    pub waited_for: bool,
}

/// Outcome of [`Db::claim_buildrequests`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// All requests are now claimed by this master.
    Claimed,
    /// At least one was already claimed; nothing was claimed.
    AlreadyClaimed,
}

/// Outcome of [`Db::cancel_buildrequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// Claimed and completed CANCELLED; `buildset_results` is set when that completed the
    /// buildset.
    Cancelled {
        /// The request's buildset.
        bsid: BuildsetId,
        /// The buildset's result if it is now complete.
        buildset_results: Option<Results>,
    },
    /// Someone (maybe a running build) holds it: stop its builds instead.
    AlreadyClaimed,
}

const CLAIMED_EXISTS: &str =
    "EXISTS (SELECT 1 FROM buildrequest_claims WHERE buildrequest_claims.brid = buildrequests.id)";

fn br_field(name: &str) -> Option<Field> {
    use buildrequests::Column as C;
    let e = buildrequests::Entity;
    Some(match name {
        "buildrequestid" => Field::Col(col(e, C::Id), Ty::Int),
        "buildsetid" => Field::Col(col(e, C::Buildsetid), Ty::Int),
        "builderid" => Field::Col(col(e, C::Builderid), Ty::Int),
        "priority" => Field::Col(col(e, C::Priority), Ty::Int),
        "complete" => Field::Col(col(e, C::Complete), Ty::Bool),
        "results" => Field::Col(col(e, C::Results), Ty::Int),
        "submitted_at" => Field::Col(col(e, C::SubmittedAt), Ty::Int),
        "complete_at" => Field::Col(col(e, C::CompleteAt), Ty::Int),
        "waited_for" => Field::Col(col(e, C::WaitedFor), Ty::Bool),
        "claimed" => Field::Cond(Expr::cust(CLAIMED_EXISTS)),
        "claimed_by_masterid" => Field::Col(
            Expr::cust(
                "(SELECT masterid FROM buildrequest_claims WHERE buildrequest_claims.brid = buildrequests.id)",
            ),
            Ty::Int,
        ),
        "claimed_at" => Field::Col(
            Expr::cust(
                "(SELECT claimed_at FROM buildrequest_claims WHERE buildrequest_claims.brid = buildrequests.id)",
            ),
            Ty::Int,
        ),
        _ => return None,
    })
}

fn bs_field(name: &str) -> Option<Field> {
    use buildsets::Column as C;
    let e = buildsets::Entity;
    Some(match name {
        "bsid" => Field::Col(col(e, C::Id), Ty::Int),
        "external_idstring" => Field::Col(col(e, C::ExternalIdstring), Ty::Str),
        "reason" => Field::Col(col(e, C::Reason), Ty::Str),
        "submitted_at" => Field::Col(col(e, C::SubmittedAt), Ty::Int),
        "complete" => Field::Col(col(e, C::Complete), Ty::Bool),
        "complete_at" => Field::Col(col(e, C::CompleteAt), Ty::Int),
        "results" => Field::Col(col(e, C::Results), Ty::Int),
        "parent_buildid" => Field::Col(col(e, C::ParentBuildid), Ty::Int),
        "parent_relationship" => Field::Col(col(e, C::ParentRelationship), Ty::Str),
        "rebuilt_buildid" => Field::Col(col(e, C::RebuiltBuildid), Ty::Int),
        _ => return None,
    })
}

fn incomplete() -> Cond {
    Cond::any()
        .add(buildrequests::Column::Complete.ne(1))
        .add(buildrequests::Column::Complete.is_null())
}

impl Db {
    /// Submit a buildset with its properties, source stamps and one request per builder in
    /// one transaction. Returns the buildset id and `builderid → brid`.
    pub async fn add_buildset(
        &self,
        bs: &NewBuildset,
    ) -> Result<(BuildsetId, BTreeMap<BuilderId, BuildRequestId>), DbError> {
        const OP: &str = "adding a buildset";
        let t = bs.submitted_at.unwrap_or_else(now);
        let txn = self.exec_txn(OP).await?;
        let bsid = txn
            .insert(buildsets::Entity::insert(buildsets::ActiveModel {
                external_idstring: Set(bs.external_idstring.clone()),
                reason: Set(Some(bs.reason.clone())),
                submitted_at: Set(t),
                complete: Set(0),
                complete_at: Set(None),
                results: Set(Some(-1)),
                parent_buildid: Set(bs.parent_buildid.map(|b| b.0)),
                parent_relationship: Set(bs.parent_relationship.clone()),
                rebuilt_buildid: Set(bs.rebuilt_buildid.map(|b| b.0)),
                ..Default::default()
            }))
            .await
            .ctx(OP)?;
        if !bs.properties.is_empty() {
            txn.write(&buildset_properties::Entity::insert_many(
                bs.properties
                    .iter()
                    .map(|(n, (v, s))| buildset_properties::ActiveModel {
                        buildsetid: Set(bsid),
                        property_name: Set(n.clone()),
                        property_value: Set(encode_sourced(v, s)),
                    }),
            ))
            .await
            .ctx(OP)?;
        }
        let mut seen = Vec::new();
        for ss in &bs.sourcestamps {
            if seen.contains(ss) {
                continue;
            }
            seen.push(*ss);
            txn.write(&buildset_sourcestamps::Entity::insert(
                buildset_sourcestamps::ActiveModel {
                    buildsetid: Set(bsid),
                    sourcestampid: Set(ss.0),
                    ..Default::default()
                },
            ))
            .await
            .ctx(OP)?;
        }
        let mut brids = BTreeMap::new();
        for b in &bs.builderids {
            let id = txn
                .insert(buildrequests::Entity::insert(buildrequests::ActiveModel {
                    buildsetid: Set(bsid),
                    builderid: Set(b.0),
                    priority: Set(bs.priority),
                    complete: Set(Some(0)),
                    results: Set(Some(-1)),
                    submitted_at: Set(t),
                    complete_at: Set(None),
                    waited_for: Set(Some(i16::from(bs.waited_for))),
                    ..Default::default()
                }))
                .await
                .ctx(OP)?;
            brids.insert(*b, BuildRequestId(id));
        }
        txn.commit().await.ctx(OP)?;
        Ok((BuildsetId(bsid), brids))
    }

    async fn buildset_rows(
        &self,
        rows: Vec<buildsets::Model>,
    ) -> Result<Vec<BuildsetRow>, DbError> {
        const OP: &str = "reading buildsets";
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut sss: BTreeMap<i64, Vec<SourceStampId>> = BTreeMap::new();
        for chunk in ids.chunks(BATCH) {
            for r in buildset_sourcestamps::Entity::find()
                .filter(buildset_sourcestamps::Column::Buildsetid.is_in(chunk.to_vec()))
                .order_by_asc(buildset_sourcestamps::Column::Sourcestampid)
                .all(&self.x())
                .await
                .ctx(OP)?
            {
                sss.entry(r.buildsetid)
                    .or_default()
                    .push(SourceStampId(r.sourcestampid));
            }
        }
        Ok(rows
            .into_iter()
            .map(|b| BuildsetRow {
                bsid: BuildsetId(b.id),
                sourcestamps: sss.remove(&b.id).unwrap_or_default(),
                external_idstring: b.external_idstring,
                reason: b.reason,
                submitted_at: b.submitted_at,
                complete: flag(b.complete),
                complete_at: b.complete_at,
                results: b.results.map(i64::from),
                parent_buildid: b.parent_buildid.map(BuildId),
                parent_relationship: b.parent_relationship,
                rebuilt_buildid: b.rebuilt_buildid.map(BuildId),
            })
            .collect())
    }

    /// One buildset.
    pub async fn get_buildset(&self, bsid: BuildsetId) -> Result<Option<BuildsetRow>, DbError> {
        let rows = buildsets::Entity::find_by_id(bsid.0)
            .all(&self.x())
            .await
            .ctx("reading a buildset")?;
        Ok(self.buildset_rows(rows).await?.into_iter().next())
    }

    /// Buildsets (REST fields of `buildsets`).
    pub async fn list_buildsets(&self, q: &Query) -> Result<Vec<BuildsetRow>, DbError> {
        let rows = apply(
            buildsets::Entity::find(),
            q,
            "buildsets",
            bs_field,
            col(buildsets::Entity, buildsets::Column::Id),
        )?
        .all(&self.x())
        .await
        .ctx("listing buildsets")?;
        self.buildset_rows(rows).await
    }

    /// Properties of a buildset.
    pub async fn get_buildset_properties(&self, bsid: BuildsetId) -> Result<Properties, DbError> {
        Ok(buildset_properties::Entity::find()
            .filter(buildset_properties::Column::Buildsetid.eq(bsid.0))
            .all(&self.x())
            .await
            .ctx("reading buildset properties")?
            .into_iter()
            .map(|p| {
                (
                    p.property_name,
                    decode_sourced(&p.property_value, "Unknown"),
                )
            })
            .collect())
    }

    /// Complete the buildset if none of its requests is incomplete: results = worst of its
    /// requests (starting from SUCCESS). Returns the result when this call completed it.
    pub async fn maybe_complete_buildset(
        &self,
        bsid: BuildsetId,
    ) -> Result<Option<Results>, DbError> {
        const OP: &str = "completing a buildset";
        let reqs = self
            .select_ints(
                &buildrequests::Entity::find()
                    .select_only()
                    .column(buildrequests::Column::Complete)
                    .column(buildrequests::Column::Results)
                    .filter(buildrequests::Column::Buildsetid.eq(bsid.0)),
            )
            .await
            .ctx(OP)?;
        let col = |r: &[Option<i64>], i: usize| r.get(i).copied().flatten();
        if reqs.iter().any(|r| !oflag(col(r, 0))) {
            return Ok(None);
        }
        let worst = reqs
            .iter()
            .filter_map(|r| col(r, 1).and_then(Results::from_code))
            .fold(Results::Success, Results::worst);
        self.complete_buildset(bsid, worst)
            .await
            .map(|done| done.then_some(worst))
    }

    /// Mark a buildset complete with `results` (false if it already was).
    pub async fn complete_buildset(
        &self,
        bsid: BuildsetId,
        results: Results,
    ) -> Result<bool, DbError> {
        let n = self
            .write(
                &buildsets::Entity::update_many()
                    .col_expr(buildsets::Column::Complete, Expr::value(1i16))
                    .col_expr(
                        buildsets::Column::Results,
                        Expr::value(results.code() as i16),
                    )
                    .col_expr(buildsets::Column::CompleteAt, Expr::value(now()))
                    .filter(buildsets::Column::Id.eq(bsid.0))
                    .filter(
                        Cond::any()
                            .add(buildsets::Column::Complete.ne(1))
                            .add(buildsets::Column::Complete.is_null()),
                    ),
            )
            .await
            .ctx("completing a buildset")?;
        Ok(n > 0)
    }

    async fn request_rows(
        &self,
        rows: Vec<buildrequests::Model>,
    ) -> Result<Vec<BuildRequestRow>, DbError> {
        const OP: &str = "reading build request claims";
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut claims: BTreeMap<i64, buildrequest_claims::Model> = BTreeMap::new();
        for chunk in ids.chunks(BATCH) {
            for c in buildrequest_claims::Entity::find()
                .filter(buildrequest_claims::Column::Brid.is_in(chunk.to_vec()))
                .all(&self.x())
                .await
                .ctx(OP)?
            {
                claims.insert(c.brid, c);
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let c = claims.remove(&r.id);
                request_row(r, c)
            })
            .collect())
    }

    /// One build request.
    pub async fn get_buildrequest(
        &self,
        brid: BuildRequestId,
    ) -> Result<Option<BuildRequestRow>, DbError> {
        let rows = buildrequests::Entity::find_by_id(brid.0)
            .all(&self.x())
            .await
            .ctx("reading a build request")?;
        Ok(self.request_rows(rows).await?.into_iter().next())
    }

    /// Build requests (REST fields incl. `claimed`, `claimed_by_masterid`).
    pub async fn list_buildrequests(&self, q: &Query) -> Result<Vec<BuildRequestRow>, DbError> {
        let rows = apply(
            buildrequests::Entity::find(),
            q,
            "buildrequests",
            br_field,
            col(buildrequests::Entity, buildrequests::Column::Id),
        )?
        .all(&self.x())
        .await
        .ctx("listing build requests")?;
        self.request_rows(rows).await
    }

    /// Pending requests (incomplete, unclaimed), highest priority first then oldest id;
    /// optionally of one builder and at most `limit`. Uses the `buildrequests_builderid`
    /// index and a NOT EXISTS on the claims' unique index.
    pub async fn pending_buildrequests(
        &self,
        builderid: Option<BuilderId>,
        limit: Option<u64>,
    ) -> Result<Vec<BuildRequestRow>, DbError> {
        use buildrequests::Column as C;
        const OP: &str = "listing pending build requests";
        let mut sel = buildrequests::Entity::find()
            .select_only()
            .columns([
                C::Id,
                C::Buildsetid,
                C::Builderid,
                C::Priority,
                C::Complete,
                C::Results,
                C::SubmittedAt,
                C::CompleteAt,
                C::WaitedFor,
            ])
            .filter(C::Complete.eq(0))
            .filter(Expr::cust(CLAIMED_EXISTS).not())
            .order_by_desc(C::Priority)
            .order_by_asc(C::Id);
        if let Some(b) = builderid {
            sel = sel.filter(C::Builderid.eq(b.0));
        }
        if let Some(l) = limit {
            sel = sel.limit(l);
        }
        let bad = || DbError::Conflict {
            op: OP,
            reason: "a build request column is out of range".into(),
        };
        let small = |v: Option<i64>| v.map(i16::try_from).transpose().map_err(|_| bad());
        let rows = self.select_ints(&sel).await.ctx(OP)?;
        rows.into_iter()
            .map(|r| {
                let [
                    id,
                    bsid,
                    builderid,
                    prio,
                    complete,
                    results,
                    submitted,
                    complete_at,
                    waited,
                ] = r[..]
                else {
                    return Err(bad());
                };
                let model = buildrequests::Model {
                    id: id.ok_or_else(bad)?,
                    buildsetid: bsid.ok_or_else(bad)?,
                    builderid: builderid.ok_or_else(bad)?,
                    priority: prio.unwrap_or(0),
                    complete: complete.map(i32::try_from).transpose().map_err(|_| bad())?,
                    results: small(results)?,
                    submitted_at: submitted.unwrap_or(0),
                    complete_at,
                    waited_for: small(waited)?,
                };
                // unclaimed by the query's own condition: no claims to look up
                Ok(request_row(model, None))
            })
            .collect()
    }

    /// Builders having pending requests: `(builderid, highest priority, oldest submitted_at)`.
    pub async fn builders_with_pending_requests(
        &self,
    ) -> Result<Vec<(BuilderId, i64, i64)>, DbError> {
        let rows: Vec<(i64, Option<i64>, Option<i64>)> = buildrequests::Entity::find()
            .select_only()
            .column(buildrequests::Column::Builderid)
            .expr(sea_orm::sea_query::Func::max(Expr::col(
                buildrequests::Column::Priority,
            )))
            .expr(sea_orm::sea_query::Func::min(Expr::col(
                buildrequests::Column::SubmittedAt,
            )))
            .filter(buildrequests::Column::Complete.eq(0))
            .filter(Expr::cust(CLAIMED_EXISTS).not())
            .group_by(buildrequests::Column::Builderid)
            .into_tuple()
            .all(&self.x())
            .await
            .ctx("listing builders with pending requests")?;
        Ok(rows
            .into_iter()
            .map(|(b, p, s)| (BuilderId(b), p.unwrap_or(0), s.unwrap_or(0)))
            .collect())
    }

    /// Claim all of `brids` for `masterid`, atomically (all or nothing).
    pub async fn claim_buildrequests(
        &self,
        brids: &[BuildRequestId],
        masterid: MasterId,
        claimed_at: Option<i64>,
    ) -> Result<ClaimOutcome, DbError> {
        const OP: &str = "claiming build requests";
        if brids.is_empty() {
            return Ok(ClaimOutcome::Claimed);
        }
        let t = claimed_at.unwrap_or_else(now);
        let rows = |chunk: &[BuildRequestId]| {
            chunk
                .iter()
                .map(|b| buildrequest_claims::ActiveModel {
                    brid: Set(b.0),
                    masterid: Set(masterid.0),
                    claimed_at: Set(t),
                })
                .collect::<Vec<_>>()
        };
        if brids.len() <= BATCH {
            // one statement is atomic on its own: no transaction round trips
            return match self
                .write(&buildrequest_claims::Entity::insert_many(rows(brids)))
                .await
            {
                Ok(_) => Ok(ClaimOutcome::Claimed),
                Err(e) if is_unique_violation(&e) => Ok(ClaimOutcome::AlreadyClaimed),
                Err(source) => Err(DbError::Query { op: OP, source }),
            };
        }
        let txn = self.exec_txn(OP).await?;
        for chunk in brids.chunks(BATCH) {
            match txn
                .write(&buildrequest_claims::Entity::insert_many(rows(chunk)))
                .await
            {
                Ok(_) => {}
                // dropped uncommitted: nothing of the claim stays
                Err(e) if is_unique_violation(&e) => return Ok(ClaimOutcome::AlreadyClaimed),
                Err(source) => return Err(DbError::Query { op: OP, source }),
            }
        }
        txn.commit().await.ctx(OP)?;
        Ok(ClaimOutcome::Claimed)
    }

    /// Remove this master's claims on `brids` (others' claims are untouched).
    pub async fn unclaim_buildrequests(
        &self,
        brids: &[BuildRequestId],
        masterid: MasterId,
    ) -> Result<(), DbError> {
        const OP: &str = "unclaiming build requests";
        for chunk in brids.chunks(BATCH) {
            self.write(
                &buildrequest_claims::Entity::delete_many()
                    .filter(buildrequest_claims::Column::Brid.is_in(chunk.iter().map(|b| b.0)))
                    .filter(buildrequest_claims::Column::Masterid.eq(masterid.0)),
            )
            .await
            .ctx(OP)?;
        }
        Ok(())
    }

    /// Complete requests with `results` (§6.4): all must be incomplete, else nothing changes
    /// and `Ok(false)` is returned. RETRY is refused (unclaim instead).
    pub async fn complete_buildrequests(
        &self,
        brids: &[BuildRequestId],
        results: Results,
        complete_at: Option<i64>,
    ) -> Result<bool, DbError> {
        const OP: &str = "completing build requests";
        if results == Results::Retry {
            return Err(DbError::InvalidArgument {
                op: OP,
                reason: "a request cannot be completed with RETRY".into(),
            });
        }
        let t = complete_at.unwrap_or_else(now);
        let update = |chunk: &[BuildRequestId]| {
            buildrequests::Entity::update_many()
                .col_expr(buildrequests::Column::Complete, Expr::value(1))
                .col_expr(
                    buildrequests::Column::Results,
                    Expr::value(results.code() as i16),
                )
                .col_expr(buildrequests::Column::CompleteAt, Expr::value(t))
                .filter(buildrequests::Column::Id.is_in(chunk.iter().map(|b| b.0)))
                .filter(incomplete())
        };
        if let [_] = brids {
            // one row, one statement: all or nothing without a transaction
            let n = self.write(&update(brids)).await.ctx(OP)?;
            return Ok(n == 1);
        }
        let txn = self.exec_txn(OP).await?;
        for chunk in brids.chunks(BATCH) {
            let n = txn.write(&update(chunk)).await.ctx(OP)?;
            if n as usize != chunk.len() {
                // dropped uncommitted: nothing of the completion stays
                return Ok(false);
            }
        }
        txn.commit().await.ctx(OP)?;
        Ok(true)
    }

    /// Cancel a request (§6.5): claim it for `masterid`, complete it CANCELLED, complete its
    /// buildset if that was the last one.
    pub async fn cancel_buildrequest(
        &self,
        brid: BuildRequestId,
        masterid: MasterId,
    ) -> Result<CancelOutcome, DbError> {
        let Some(br) = self.get_buildrequest(brid).await? else {
            return Err(DbError::NotFound {
                what: "build request",
                id: brid.0,
            });
        };
        if br.complete
            || self.claim_buildrequests(&[brid], masterid, None).await?
                == ClaimOutcome::AlreadyClaimed
        {
            return Ok(CancelOutcome::AlreadyClaimed);
        }
        if !self
            .complete_buildrequests(&[brid], Results::Cancelled, None)
            .await?
        {
            return Ok(CancelOutcome::AlreadyClaimed);
        }
        let buildset_results = self.maybe_complete_buildset(br.buildsetid).await?;
        Ok(CancelOutcome::Cancelled {
            bsid: br.buildsetid,
            buildset_results,
        })
    }

    /// Change a request's priority.
    pub async fn set_buildrequest_priority(
        &self,
        brid: BuildRequestId,
        priority: i64,
    ) -> Result<(), DbError> {
        self.write(
            &buildrequests::Entity::update_many()
                .col_expr(buildrequests::Column::Priority, Expr::value(priority))
                .filter(buildrequests::Column::Id.eq(brid.0)),
        )
        .await
        .ctx("setting a build request priority")?;
        Ok(())
    }
}

/// A `buildrequests` row with its claim (if any) as the API's request.
fn request_row(r: buildrequests::Model, c: Option<buildrequest_claims::Model>) -> BuildRequestRow {
    BuildRequestRow {
        buildrequestid: BuildRequestId(r.id),
        buildsetid: BuildsetId(r.buildsetid),
        builderid: BuilderId(r.builderid),
        priority: r.priority,
        claimed: c.is_some(),
        claimed_at: c.as_ref().map(|c| c.claimed_at),
        claimed_by_masterid: c.as_ref().map(|c| MasterId(c.masterid)),
        complete: oflag(r.complete),
        results: r.results.map(i64::from).unwrap_or(-1),
        submitted_at: r.submitted_at,
        complete_at: r.complete_at,
        waited_for: oflag(r.waited_for),
    }
}
