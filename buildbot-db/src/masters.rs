//! `masters` and the dead-master housekeeping (§7).

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::common::{find_or_create, flag};
use crate::db::now;
use crate::entities::{
    builder_masters, buildrequest_claims, buildrequests, builds, changesource_masters,
    configured_workers, logs, masters, scheduler_masters, steps,
};
use crate::error::Ctx;
use crate::hash::name_hash;
use crate::query::{Field, Query, Ty, apply, col};
use crate::{BuildId, BuildRequestId, BuilderId, Db, DbError, LogId, MasterId, Results, StepId};

/// A row of `masters`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MasterRow {
    /// Id.
    pub masterid: MasterId,
    /// `"<hostname>:<basedir>"`.
    pub name: String,
    /// Running.
    pub active: bool,
    /// Last heartbeat (epoch).
    pub last_active: i64,
}

impl From<masters::Model> for MasterRow {
    fn from(m: masters::Model) -> Self {
        MasterRow {
            masterid: MasterId(m.id),
            name: m.name,
            active: flag(m.active),
            last_active: m.last_active,
        }
    }
}

/// What the housekeeping of a dead (or stopping) master changed, so the caller can publish
/// the matching events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Housekeeping {
    /// Builders whose `builder_masters` link was removed.
    pub builders_stopped: Vec<BuilderId>,
    /// Logs finished.
    pub logs_finished: Vec<LogId>,
    /// Steps finished with RETRY.
    pub steps_finished: Vec<StepId>,
    /// Builds finished with RETRY.
    pub builds_finished: Vec<BuildId>,
    /// Requests unclaimed (pending again).
    pub requests_unclaimed: Vec<BuildRequestId>,
}

fn master_field(name: &str) -> Option<Field> {
    use masters::Column as C;
    let e = masters::Entity;
    Some(match name {
        "masterid" => Field::Col(col(e, C::Id), Ty::Int),
        "name" => Field::Col(col(e, C::Name), Ty::Str),
        "active" => Field::Col(col(e, C::Active), Ty::Bool),
        "last_active" => Field::Col(col(e, C::LastActive), Ty::Int),
        _ => return None,
    })
}

impl Db {
    /// Find or create the master row named `name` (new rows are inactive, `last_active=now`).
    pub async fn find_or_create_master(&self, name: &str) -> Result<MasterId, DbError> {
        let hash = name_hash(name);
        let am = masters::ActiveModel {
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            active: Set(0),
            last_active: Set(now()),
            ..Default::default()
        };
        let id = find_or_create!(
            &self.x(),
            "finding or creating a master",
            masters::Entity,
            masters::Column::NameHash.eq(hash),
            am,
            id
        );
        Ok(MasterId(id))
    }

    /// Set a master active (also a heartbeat: `last_active=now`) or inactive. Returns whether
    /// the `active` flag changed.
    pub async fn set_master_state(
        &self,
        masterid: MasterId,
        active: bool,
    ) -> Result<bool, DbError> {
        const OP: &str = "updating master state";
        let mut upd = masters::Entity::update_many()
            .col_expr(masters::Column::Active, Expr::value(i32::from(active)))
            .filter(masters::Column::Id.eq(masterid.0))
            .filter(masters::Column::Active.ne(i32::from(active)));
        if active {
            upd = upd.col_expr(masters::Column::LastActive, Expr::value(now()));
        }
        let changed = self.write(&upd).await.ctx(OP)? > 0;
        if active && !changed {
            self.master_heartbeat(masterid).await?;
        }
        Ok(changed)
    }

    /// Heartbeat: `active=1, last_active=now`.
    pub async fn master_heartbeat(&self, masterid: MasterId) -> Result<(), DbError> {
        self.write(
            &masters::Entity::update_many()
                .col_expr(masters::Column::Active, Expr::value(1))
                .col_expr(masters::Column::LastActive, Expr::value(now()))
                .filter(masters::Column::Id.eq(masterid.0)),
        )
        .await
        .ctx("master heartbeat")?;
        Ok(())
    }

    /// One master.
    pub async fn get_master(&self, masterid: MasterId) -> Result<Option<MasterRow>, DbError> {
        Ok(masters::Entity::find_by_id(masterid.0)
            .one(&self.x())
            .await
            .ctx("reading a master")?
            .map(Into::into))
    }

    /// Masters (REST fields `masterid`, `name`, `active`, `last_active`).
    pub async fn list_masters(&self, q: &Query) -> Result<Vec<MasterRow>, DbError> {
        let sel = apply(
            masters::Entity::find(),
            q,
            "masters",
            master_field,
            col(masters::Entity, masters::Column::Id),
        )?;
        Ok(sel
            .all(&self.x())
            .await
            .ctx("listing masters")?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Masters whose last heartbeat is older than `timeout_s` seconds (active or not).
    pub async fn stale_masters(&self, timeout_s: i64) -> Result<Vec<MasterRow>, DbError> {
        Ok(masters::Entity::find()
            .filter(masters::Column::LastActive.lt(now() - timeout_s))
            .all(&self.x())
            .await
            .ctx("finding stale masters")?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Expiry (§7.3): mark every *active* master stale for more than `timeout_s` inactive
    /// and return the ones whose flag flipped. Call [`Db::master_housekeeping`] for each.
    pub async fn expire_masters(&self, timeout_s: i64) -> Result<Vec<MasterRow>, DbError> {
        let mut flipped = Vec::new();
        for m in self.stale_masters(timeout_s).await? {
            if m.active && self.set_master_state(m.masterid, false).await? {
                flipped.push(MasterRow { active: false, ..m });
            }
        }
        Ok(flipped)
    }

    /// Deactivation housekeeping for `dead` (§7.3 steps 0–5, in one transaction): its
    /// scheduler/change-source/builder/configured-worker links are removed, its unfinished
    /// builds, steps and logs are finished (RETRY), and **its** claims on incomplete requests
    /// are removed so they become claimable again.
    pub async fn master_housekeeping(&self, dead: MasterId) -> Result<Housekeeping, DbError> {
        const OP: &str = "cleaning up after a stopped master";
        let txn = self.write_txn(OP).await?;
        let mut hk = Housekeeping::default();
        let t = now();
        scheduler_masters::Entity::delete_many()
            .filter(scheduler_masters::Column::Masterid.eq(dead.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        changesource_masters::Entity::delete_many()
            .filter(changesource_masters::Column::Masterid.eq(dead.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        let bms = builder_masters::Entity::find()
            .filter(builder_masters::Column::Masterid.eq(dead.0))
            .all(&*txn)
            .await
            .ctx(OP)?;
        let bm_ids: Vec<i64> = bms.iter().map(|b| b.id).collect();
        for chunk in bm_ids.chunks(crate::common::BATCH) {
            configured_workers::Entity::delete_many()
                .filter(configured_workers::Column::Buildermasterid.is_in(chunk.to_vec()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
        }
        builder_masters::Entity::delete_many()
            .filter(builder_masters::Column::Masterid.eq(dead.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        hk.builders_stopped = bms.iter().map(|b| BuilderId(b.builderid)).collect();

        let open_builds = builds::Entity::find()
            .filter(builds::Column::Masterid.eq(dead.0))
            .filter(builds::Column::CompleteAt.is_null())
            .all(&*txn)
            .await
            .ctx(OP)?;
        for b in &open_builds {
            let open_steps = steps::Entity::find()
                .filter(steps::Column::Buildid.eq(b.id))
                .filter(steps::Column::CompleteAt.is_null())
                .all(&*txn)
                .await
                .ctx(OP)?;
            for s in &open_steps {
                let open_logs: Vec<i64> = logs::Entity::find()
                    .select_only()
                    .column(logs::Column::Id)
                    .filter(logs::Column::Stepid.eq(s.id))
                    .filter(logs::Column::Complete.eq(0))
                    .into_tuple()
                    .all(&*txn)
                    .await
                    .ctx(OP)?;
                if !open_logs.is_empty() {
                    logs::Entity::update_many()
                        .col_expr(logs::Column::Complete, Expr::value(1i16))
                        .filter(logs::Column::Id.is_in(open_logs.clone()))
                        .exec(&*txn)
                        .await
                        .ctx(OP)?;
                }
                hk.logs_finished.extend(open_logs.into_iter().map(LogId));
                steps::Entity::update_many()
                    .col_expr(steps::Column::CompleteAt, Expr::value(t))
                    .col_expr(steps::Column::Results, Expr::value(Results::Retry.code()))
                    .filter(steps::Column::Id.eq(s.id))
                    .exec(&*txn)
                    .await
                    .ctx(OP)?;
                hk.steps_finished.push(StepId(s.id));
            }
            builds::Entity::update_many()
                .col_expr(builds::Column::CompleteAt, Expr::value(t))
                .col_expr(builds::Column::Results, Expr::value(Results::Retry.code()))
                .filter(builds::Column::Id.eq(b.id))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            hk.builds_finished.push(BuildId(b.id));
        }

        // Claims of the dead master on incomplete requests (not the 4.3 defect: use its id).
        let claimed: Vec<i64> = buildrequest_claims::Entity::find()
            .select_only()
            .column(buildrequest_claims::Column::Brid)
            .filter(buildrequest_claims::Column::Masterid.eq(dead.0))
            .filter(
                buildrequest_claims::Column::Brid.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(buildrequests::Column::Id)
                        .from(buildrequests::Entity)
                        .cond_where(
                            sea_orm::sea_query::Cond::any()
                                .add(Expr::col(buildrequests::Column::Complete).ne(1))
                                .add(Expr::col(buildrequests::Column::Complete).is_null()),
                        )
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(&*txn)
            .await
            .ctx(OP)?;
        for chunk in claimed.chunks(crate::common::BATCH) {
            buildrequest_claims::Entity::delete_many()
                .filter(buildrequest_claims::Column::Brid.is_in(chunk.to_vec()))
                .filter(buildrequest_claims::Column::Masterid.eq(dead.0))
                .exec(&*txn)
                .await
                .ctx(OP)?;
        }
        hk.requests_unclaimed = claimed.into_iter().map(BuildRequestId).collect();
        txn.commit().await.ctx(OP)?;
        Ok(hk)
    }

    /// Rows of `connected_workers` for a master are left alone by housekeeping (as Python);
    /// this removes them (used when a master restarts).
    pub async fn forget_connected_workers(&self, masterid: MasterId) -> Result<(), DbError> {
        self.write(
            &crate::entities::connected_workers::Entity::delete_many()
                .filter(crate::entities::connected_workers::Column::Masterid.eq(masterid.0)),
        )
        .await
        .ctx("removing connected workers of a master")?;
        Ok(())
    }
}
