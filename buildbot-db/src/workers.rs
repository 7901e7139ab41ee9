//! `workers`, `configured_workers`, `connected_workers`.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::common::{find_or_create, flag};
use crate::entities::{builder_masters, configured_workers, connected_workers, workers};
use crate::error::Ctx;
use crate::query::{Field, Query, Ty, apply, col};
use crate::{BuilderId, Db, DbError, MasterId, WorkerId};

/// A worker with its connections and configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkerRow {
    /// Id.
    pub workerid: WorkerId,
    /// Name.
    pub name: String,
    /// Info JSON object (`admin`, `host`, `access_uri`, `version`).
    pub workerinfo: serde_json::Value,
    /// Paused by a user.
    pub paused: bool,
    /// Why.
    pub pause_reason: Option<String>,
    /// Graceful shutdown requested.
    pub graceful: bool,
    /// Masters it is connected to.
    pub connected_to: Vec<MasterId>,
    /// `(master, builder)` pairs it is configured for.
    pub configured_on: Vec<(MasterId, BuilderId)>,
}

fn worker_field(name: &str) -> Option<Field> {
    use workers::Column as C;
    let e = workers::Entity;
    Some(match name {
        "workerid" => Field::Col(col(e, C::Id), Ty::Int),
        "name" => Field::Col(col(e, C::Name), Ty::Str),
        "paused" => Field::Col(col(e, C::Paused), Ty::Bool),
        "graceful" => Field::Col(col(e, C::Graceful), Ty::Bool),
        "pause_reason" => Field::Col(col(e, C::PauseReason), Ty::Str),
        _ => return None,
    })
}

impl Db {
    /// Find or create the worker `name` (info `{}`).
    pub async fn find_or_create_worker(&self, name: &str) -> Result<WorkerId, DbError> {
        let am = workers::ActiveModel {
            name: Set(name.to_owned()),
            info: Set("{}".to_owned()),
            paused: Set(0),
            graceful: Set(0),
            ..Default::default()
        };
        Ok(WorkerId(find_or_create!(
            &self.x(),
            "finding or creating a worker",
            workers::Entity,
            workers::Column::Name.eq(name),
            am,
            id
        )))
    }

    /// Declare on which builders of `masterid` the worker may run (diff of
    /// `configured_workers`: rows for other builders of that master removed, missing added).
    pub async fn worker_configured(
        &self,
        workerid: WorkerId,
        masterid: MasterId,
        builderids: &[BuilderId],
    ) -> Result<(), DbError> {
        const OP: &str = "configuring a worker";
        let txn = self.write_txn(OP).await?;
        let bms = builder_masters::Entity::find()
            .filter(builder_masters::Column::Masterid.eq(masterid.0))
            .all(&*txn)
            .await
            .ctx(OP)?;
        let wanted: Vec<i64> = bms
            .iter()
            .filter(|b| builderids.iter().any(|x| x.0 == b.builderid))
            .map(|b| b.id)
            .collect();
        let all: Vec<i64> = bms.iter().map(|b| b.id).collect();
        let existing: Vec<i64> = configured_workers::Entity::find()
            .filter(configured_workers::Column::Workerid.eq(workerid.0))
            .filter(configured_workers::Column::Buildermasterid.is_in(all.clone()))
            .all(&*txn)
            .await
            .ctx(OP)?
            .into_iter()
            .map(|c| c.buildermasterid)
            .collect();
        let remove: Vec<i64> = existing
            .iter()
            .filter(|e| !wanted.contains(e))
            .copied()
            .collect();
        if !remove.is_empty() {
            configured_workers::Entity::delete_many()
                .filter(configured_workers::Column::Workerid.eq(workerid.0))
                .filter(configured_workers::Column::Buildermasterid.is_in(remove))
                .exec(&*txn)
                .await
                .ctx(OP)?;
        }
        for bm in wanted.iter().filter(|w| !existing.contains(w)) {
            configured_workers::Entity::insert(configured_workers::ActiveModel {
                buildermasterid: Set(*bm),
                workerid: Set(workerid.0),
                ..Default::default()
            })
            .exec(&*txn)
            .await
            .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)
    }

    /// Remove every `configured_workers` row of a master.
    pub async fn deconfigure_all_workers_for_master(
        &self,
        masterid: MasterId,
    ) -> Result<(), DbError> {
        const OP: &str = "deconfiguring workers";
        let bms: Vec<i64> = builder_masters::Entity::find()
            .filter(builder_masters::Column::Masterid.eq(masterid.0))
            .all(&self.x())
            .await
            .ctx(OP)?
            .into_iter()
            .map(|b| b.id)
            .collect();
        if !bms.is_empty() {
            self.write(
                &configured_workers::Entity::delete_many()
                    .filter(configured_workers::Column::Buildermasterid.is_in(bms)),
            )
            .await
            .ctx(OP)?;
        }
        Ok(())
    }

    /// A worker attached to `masterid`: `connected_workers` row (duplicate ignored), `info`
    /// overwritten, `graceful` reset, in one transaction.
    pub async fn worker_connected(
        &self,
        workerid: WorkerId,
        masterid: MasterId,
        info: &serde_json::Value,
    ) -> Result<(), DbError> {
        const OP: &str = "recording a worker connection";
        let txn = self.write_txn(OP).await?;
        let exists = connected_workers::Entity::find()
            .filter(connected_workers::Column::Workerid.eq(workerid.0))
            .filter(connected_workers::Column::Masterid.eq(masterid.0))
            .one(&*txn)
            .await
            .ctx(OP)?
            .is_some();
        if !exists {
            connected_workers::Entity::insert(connected_workers::ActiveModel {
                masterid: Set(masterid.0),
                workerid: Set(workerid.0),
                ..Default::default()
            })
            .exec(&*txn)
            .await
            .ctx(OP)?;
        }
        workers::Entity::update_many()
            .col_expr(workers::Column::Info, Expr::value(info.to_string()))
            .col_expr(workers::Column::Graceful, Expr::value(0i16))
            .filter(workers::Column::Id.eq(workerid.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        txn.commit().await.ctx(OP)
    }

    /// A worker detached from `masterid`.
    pub async fn worker_disconnected(
        &self,
        workerid: WorkerId,
        masterid: MasterId,
    ) -> Result<(), DbError> {
        self.write(
            &connected_workers::Entity::delete_many()
                .filter(connected_workers::Column::Workerid.eq(workerid.0))
                .filter(connected_workers::Column::Masterid.eq(masterid.0)),
        )
        .await
        .ctx("recording a worker disconnection")?;
        Ok(())
    }

    /// Set pause / graceful flags (`pause_reason` is cleared when unpaused).
    pub async fn set_worker_state(
        &self,
        workerid: WorkerId,
        paused: bool,
        graceful: bool,
        pause_reason: Option<&str>,
    ) -> Result<(), DbError> {
        self.write(
            &workers::Entity::update_many()
                .col_expr(workers::Column::Paused, Expr::value(i16::from(paused)))
                .col_expr(workers::Column::Graceful, Expr::value(i16::from(graceful)))
                .col_expr(
                    workers::Column::PauseReason,
                    Expr::value(if paused {
                        pause_reason.map(str::to_owned)
                    } else {
                        None
                    }),
                )
                .filter(workers::Column::Id.eq(workerid.0)),
        )
        .await
        .ctx("updating worker state")?;
        Ok(())
    }

    /// One worker.
    pub async fn get_worker(&self, workerid: WorkerId) -> Result<Option<WorkerRow>, DbError> {
        Ok(self
            .list_workers(&Query::new().eq("workerid", workerid.0), None, None)
            .await?
            .into_iter()
            .next())
    }

    /// Worker by name.
    pub async fn get_worker_by_name(&self, name: &str) -> Result<Option<WorkerRow>, DbError> {
        Ok(self
            .list_workers(&Query::new().eq("name", name), None, None)
            .await?
            .into_iter()
            .next())
    }

    /// Workers, optionally only those configured for `builderid` and/or on `masterid`
    /// (configured or connected there).
    pub async fn list_workers(
        &self,
        q: &Query,
        builderid: Option<BuilderId>,
        masterid: Option<MasterId>,
    ) -> Result<Vec<WorkerRow>, DbError> {
        const OP: &str = "listing workers";
        let rows = apply(
            workers::Entity::find(),
            q,
            "workers",
            worker_field,
            col(workers::Entity, workers::Column::Id),
        )?
        .all(&self.x())
        .await
        .ctx(OP)?;
        let mut conn_to: BTreeMap<i64, Vec<MasterId>> = BTreeMap::new();
        for c in connected_workers::Entity::find()
            .all(&self.x())
            .await
            .ctx(OP)?
        {
            conn_to
                .entry(c.workerid)
                .or_default()
                .push(MasterId(c.masterid));
        }
        let bms: BTreeMap<i64, (i64, i64)> = builder_masters::Entity::find()
            .all(&self.x())
            .await
            .ctx(OP)?
            .into_iter()
            .map(|b| (b.id, (b.masterid, b.builderid)))
            .collect();
        let mut conf: BTreeMap<i64, Vec<(MasterId, BuilderId)>> = BTreeMap::new();
        for c in configured_workers::Entity::find()
            .all(&self.x())
            .await
            .ctx(OP)?
        {
            if let Some((m, b)) = bms.get(&c.buildermasterid) {
                conf.entry(c.workerid)
                    .or_default()
                    .push((MasterId(*m), BuilderId(*b)));
            }
        }
        let mut out = Vec::new();
        for w in rows {
            let connected_to = conn_to.remove(&w.id).unwrap_or_default();
            let configured_on = conf.remove(&w.id).unwrap_or_default();
            if let Some(b) = builderid
                && !configured_on
                    .iter()
                    .any(|(m, x)| *x == b && masterid.is_none_or(|mm| mm == *m))
            {
                continue;
            }
            if let Some(m) = masterid
                && builderid.is_none()
                && !configured_on.iter().any(|(x, _)| *x == m)
                && !connected_to.contains(&m)
            {
                continue;
            }
            let workerinfo =
                serde_json::from_str(&w.info).unwrap_or_else(|_| serde_json::json!({}));
            out.push(WorkerRow {
                workerid: WorkerId(w.id),
                name: w.name,
                workerinfo: if workerinfo.is_null() {
                    serde_json::json!({})
                } else {
                    workerinfo
                },
                paused: flag(w.paused),
                pause_reason: w.pause_reason,
                graceful: flag(w.graceful),
                connected_to,
                configured_on,
            });
        }
        Ok(out)
    }
}
