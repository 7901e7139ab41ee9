//! Clustered services: `schedulers`, `changesources`, their `*_masters` ownership rows and
//! `scheduler_changes` (§3.9, §3.10, §7.5).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::common::{find_or_create, oflag};
use crate::entities::{
    changesource_masters, changesources, scheduler_changes, scheduler_masters, schedulers,
};
use crate::error::{Ctx, is_unique_violation};
use crate::hash::name_hash;
use crate::{ChangeId, ChangeSourceId, Db, DbError, MasterId, SchedulerId};

/// What inserting an ownership row (`scheduler_masters` / `changesource_masters`, whose primary
/// key is the cluster lock) means: inserted → ours; a unique violation → whoever owns the row
/// (ours again if it already was); anything else → an error of `op`.
async fn claim_outcome<F, Fut>(
    inserted: Result<(), DbErr>,
    masterid: MasterId,
    op: &'static str,
    owner: F,
) -> Result<ServiceClaim, DbError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<i64>, DbErr>>,
{
    match inserted {
        Ok(()) => Ok(ServiceClaim::Owned),
        Err(e) if is_unique_violation(&e) => Ok(match owner().await.ctx(op)? {
            Some(o) if o != masterid.0 => ServiceClaim::OwnedBy(MasterId(o)),
            _ => ServiceClaim::Owned,
        }),
        Err(source) => Err(DbError::Query { op, source }),
    }
}

/// A scheduler and its owning master, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchedulerRow {
    /// Id.
    pub schedulerid: SchedulerId,
    /// Name.
    pub name: String,
    /// Enabled flag (NULL reads as false).
    pub enabled: bool,
    /// Owning master.
    pub masterid: Option<MasterId>,
}

/// A change source and its owning master, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeSourceRow {
    /// Id.
    pub changesourceid: ChangeSourceId,
    /// Name.
    pub name: String,
    /// Owning master.
    pub masterid: Option<MasterId>,
}

/// Outcome of a claim attempt on a clustered service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceClaim {
    /// This master owns it (now or already).
    Owned,
    /// Another master owns it.
    OwnedBy(MasterId),
}

impl Db {
    /// Find or create a scheduler (new ones are enabled).
    pub async fn find_or_create_scheduler(&self, name: &str) -> Result<SchedulerId, DbError> {
        let hash = name_hash(name);
        let am = schedulers::ActiveModel {
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            enabled: Set(Some(1)),
            ..Default::default()
        };
        Ok(SchedulerId(find_or_create!(
            &self.x(),
            "finding or creating a scheduler",
            schedulers::Entity,
            schedulers::Column::NameHash.eq(hash),
            am,
            id
        )))
    }

    /// Enable or disable a scheduler.
    pub async fn set_scheduler_enabled(
        &self,
        id: SchedulerId,
        enabled: bool,
    ) -> Result<(), DbError> {
        self.write(
            &schedulers::Entity::update_many()
                .col_expr(schedulers::Column::Enabled, Expr::value(i16::from(enabled)))
                .filter(schedulers::Column::Id.eq(id.0)),
        )
        .await
        .ctx("enabling a scheduler")?;
        Ok(())
    }

    /// Try to become the owner of a scheduler (`scheduler_masters` primary key = cluster lock).
    pub async fn claim_scheduler(
        &self,
        id: SchedulerId,
        masterid: MasterId,
    ) -> Result<ServiceClaim, DbError> {
        const OP: &str = "claiming a scheduler";
        let inserted = self
            .write(&scheduler_masters::Entity::insert(
                scheduler_masters::ActiveModel {
                    schedulerid: Set(id.0),
                    masterid: Set(masterid.0),
                },
            ))
            .await
            .map(drop);
        claim_outcome(inserted, masterid, OP, || async {
            let owner = scheduler_masters::Entity::find_by_id(id.0)
                .one(&self.x())
                .await?;
            Ok(owner.map(|o| o.masterid))
        })
        .await
    }

    /// Give up ownership of a scheduler (only if owned by `masterid`).
    pub async fn unclaim_scheduler(
        &self,
        id: SchedulerId,
        masterid: MasterId,
    ) -> Result<(), DbError> {
        self.write(
            &scheduler_masters::Entity::delete_many()
                .filter(scheduler_masters::Column::Schedulerid.eq(id.0))
                .filter(scheduler_masters::Column::Masterid.eq(masterid.0)),
        )
        .await
        .ctx("unclaiming a scheduler")?;
        Ok(())
    }

    /// All schedulers, by id.
    pub async fn list_schedulers(&self) -> Result<Vec<SchedulerRow>, DbError> {
        const OP: &str = "listing schedulers";
        let owners = scheduler_masters::Entity::find()
            .all(&self.x())
            .await
            .ctx(OP)?;
        Ok(schedulers::Entity::find()
            .order_by_asc(schedulers::Column::Id)
            .all(&self.x())
            .await
            .ctx(OP)?
            .into_iter()
            .map(|s| SchedulerRow {
                schedulerid: SchedulerId(s.id),
                masterid: owners
                    .iter()
                    .find(|o| o.schedulerid == s.id)
                    .map(|o| MasterId(o.masterid)),
                name: s.name,
                enabled: oflag(s.enabled),
            })
            .collect())
    }

    /// Find or create a change source.
    pub async fn find_or_create_changesource(&self, name: &str) -> Result<ChangeSourceId, DbError> {
        let hash = name_hash(name);
        let am = changesources::ActiveModel {
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            ..Default::default()
        };
        Ok(ChangeSourceId(find_or_create!(
            &self.x(),
            "finding or creating a change source",
            changesources::Entity,
            changesources::Column::NameHash.eq(hash),
            am,
            id
        )))
    }

    /// Try to become the owner of a change source.
    pub async fn claim_changesource(
        &self,
        id: ChangeSourceId,
        masterid: MasterId,
    ) -> Result<ServiceClaim, DbError> {
        const OP: &str = "claiming a change source";
        let inserted = self
            .write(&changesource_masters::Entity::insert(
                changesource_masters::ActiveModel {
                    changesourceid: Set(id.0),
                    masterid: Set(masterid.0),
                },
            ))
            .await
            .map(drop);
        claim_outcome(inserted, masterid, OP, || async {
            let owner = changesource_masters::Entity::find_by_id(id.0)
                .one(&self.x())
                .await?;
            Ok(owner.map(|o| o.masterid))
        })
        .await
    }

    /// Give up ownership of a change source.
    pub async fn unclaim_changesource(
        &self,
        id: ChangeSourceId,
        masterid: MasterId,
    ) -> Result<(), DbError> {
        self.write(
            &changesource_masters::Entity::delete_many()
                .filter(changesource_masters::Column::Changesourceid.eq(id.0))
                .filter(changesource_masters::Column::Masterid.eq(masterid.0)),
        )
        .await
        .ctx("unclaiming a change source")?;
        Ok(())
    }

    /// All change sources, by id.
    pub async fn list_changesources(&self) -> Result<Vec<ChangeSourceRow>, DbError> {
        const OP: &str = "listing change sources";
        let owners = changesource_masters::Entity::find()
            .all(&self.x())
            .await
            .ctx(OP)?;
        Ok(changesources::Entity::find()
            .order_by_asc(changesources::Column::Id)
            .all(&self.x())
            .await
            .ctx(OP)?
            .into_iter()
            .map(|s| ChangeSourceRow {
                changesourceid: ChangeSourceId(s.id),
                masterid: owners
                    .iter()
                    .find(|o| o.changesourceid == s.id)
                    .map(|o| MasterId(o.masterid)),
                name: s.name,
            })
            .collect())
    }

    /// Record a scheduler's classification of a change (upsert on (scheduler, change)).
    pub async fn classify_changes(
        &self,
        id: SchedulerId,
        classifications: &[(ChangeId, bool)],
    ) -> Result<(), DbError> {
        const OP: &str = "classifying changes";
        let txn = self.write_txn(OP).await?;
        for (ch, important) in classifications {
            scheduler_changes::Entity::delete_many()
                .filter(scheduler_changes::Column::Schedulerid.eq(id.0))
                .filter(scheduler_changes::Column::Changeid.eq(ch.0))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            scheduler_changes::Entity::insert(scheduler_changes::ActiveModel {
                schedulerid: Set(id.0),
                changeid: Set(ch.0),
                important: Set(Some(i32::from(*important))),
            })
            .exec_without_returning(&*txn)
            .await
            .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)
    }

    /// Classified changes of a scheduler: `(changeid, important)` by change id.
    pub async fn get_change_classifications(
        &self,
        id: SchedulerId,
    ) -> Result<Vec<(ChangeId, bool)>, DbError> {
        Ok(scheduler_changes::Entity::find()
            .filter(scheduler_changes::Column::Schedulerid.eq(id.0))
            .order_by_asc(scheduler_changes::Column::Changeid)
            .all(&self.x())
            .await
            .ctx("reading change classifications")?
            .into_iter()
            .map(|r| (ChangeId(r.changeid), oflag(r.important)))
            .collect())
    }

    /// Forget the classifications of these changes.
    pub async fn unclassify_changes(
        &self,
        id: SchedulerId,
        changes: &[ChangeId],
    ) -> Result<(), DbError> {
        for chunk in changes.chunks(crate::common::BATCH) {
            self.write(
                &scheduler_changes::Entity::delete_many()
                    .filter(scheduler_changes::Column::Schedulerid.eq(id.0))
                    .filter(scheduler_changes::Column::Changeid.is_in(chunk.iter().map(|c| c.0))),
            )
            .await
            .ctx("forgetting change classifications")?;
        }
        Ok(())
    }

    /// Forget classifications up to and including `less_than_or_equal` (all when `None`).
    pub async fn flush_change_classifications(
        &self,
        id: SchedulerId,
        up_to: Option<ChangeId>,
    ) -> Result<(), DbError> {
        let mut d = scheduler_changes::Entity::delete_many()
            .filter(scheduler_changes::Column::Schedulerid.eq(id.0));
        if let Some(c) = up_to {
            d = d.filter(scheduler_changes::Column::Changeid.lte(c.0));
        }
        self.write(&d)
            .await
            .ctx("flushing change classifications")?;
        Ok(())
    }
}
