//! `builds`, `build_properties`, `build_data`, `steps` (§6.3, §6.4, §3.16, §3.17).

use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::common::{Properties, flag, py_json};
use crate::db::now;
use crate::entities::{build_data, build_properties, builds, steps};
use crate::error::{Ctx, is_unique_violation};
use crate::query::{Field, Query, Ty, apply, col};
use crate::{BuildId, BuildRequestId, BuilderId, Db, DbError, MasterId, Results, StepId, WorkerId};

/// A build.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildRow {
    /// Global id.
    pub buildid: BuildId,
    /// Per-builder number.
    pub number: i64,
    /// Builder.
    pub builderid: BuilderId,
    /// First request served.
    pub buildrequestid: BuildRequestId,
    /// Worker.
    pub workerid: Option<WorkerId>,
    /// Master running it.
    pub masterid: MasterId,
    /// Start (row creation).
    pub started_at: i64,
    /// End (`None` while running).
    pub complete_at: Option<i64>,
    /// Seconds waiting for locks.
    pub locks_duration_s: i64,
    /// Summary text.
    pub state_string: String,
    /// Result code (`None` while running).
    pub results: Option<i64>,
}

impl BuildRow {
    /// Finished?
    pub fn complete(&self) -> bool {
        self.complete_at.is_some()
    }
}

impl From<builds::Model> for BuildRow {
    fn from(b: builds::Model) -> Self {
        BuildRow {
            buildid: BuildId(b.id),
            number: b.number,
            builderid: BuilderId(b.builderid),
            buildrequestid: BuildRequestId(b.buildrequestid),
            workerid: b.workerid.map(WorkerId),
            masterid: MasterId(b.masterid),
            started_at: b.started_at,
            complete_at: b.complete_at,
            locks_duration_s: b.locks_duration_s,
            state_string: b.state_string,
            results: b.results.map(i64::from),
        }
    }
}

/// A `build_data` row (value omitted in listings).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildDataRow {
    /// Build.
    pub buildid: BuildId,
    /// Name.
    pub name: String,
    /// The bytes (`None` when listed without values).
    pub value: Option<Vec<u8>>,
    /// Length of the value.
    pub length: i64,
    /// Who set it.
    pub source: String,
}

/// A step.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepRow {
    /// Id.
    pub stepid: StepId,
    /// 0-based position.
    pub number: i64,
    /// Unique name within the build.
    pub name: String,
    /// Build.
    pub buildid: BuildId,
    /// Start.
    pub started_at: Option<i64>,
    /// Locks obtained.
    pub locks_acquired_at: Option<i64>,
    /// End.
    pub complete_at: Option<i64>,
    /// Summary text.
    pub state_string: String,
    /// Result code.
    pub results: Option<i64>,
    /// `(name, url)` in insertion order.
    pub urls: Vec<(String, String)>,
    /// Hidden in the UI.
    pub hidden: bool,
}

impl StepRow {
    /// Finished?
    pub fn complete(&self) -> bool {
        self.complete_at.is_some()
    }
}

impl From<steps::Model> for StepRow {
    fn from(s: steps::Model) -> Self {
        let urls = serde_json::from_str::<serde_json::Value>(&s.urls_json)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| {
                Some((
                    u.get("name")?.as_str()?.to_owned(),
                    u.get("url")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        StepRow {
            stepid: StepId(s.id),
            number: s.number,
            name: s.name,
            buildid: BuildId(s.buildid),
            started_at: s.started_at,
            locks_acquired_at: s.locks_acquired_at,
            complete_at: s.complete_at,
            state_string: s.state_string,
            results: s.results.map(i64::from),
            urls,
            hidden: flag(s.hidden),
        }
    }
}

fn build_field(name: &str) -> Option<Field> {
    use builds::Column as C;
    let e = builds::Entity;
    Some(match name {
        "buildid" => Field::Col(col(e, C::Id), Ty::Int),
        "number" => Field::Col(col(e, C::Number), Ty::Int),
        "builderid" => Field::Col(col(e, C::Builderid), Ty::Int),
        "buildrequestid" => Field::Col(col(e, C::Buildrequestid), Ty::Int),
        "workerid" => Field::Col(col(e, C::Workerid), Ty::Int),
        "masterid" => Field::Col(col(e, C::Masterid), Ty::Int),
        "started_at" => Field::Col(col(e, C::StartedAt), Ty::Int),
        "complete_at" => Field::Col(col(e, C::CompleteAt), Ty::Int),
        "complete" => Field::Cond(col(e, C::CompleteAt).is_not_null()),
        "locks_duration_s" => Field::Col(col(e, C::LocksDurationS), Ty::Int),
        "state_string" => Field::Col(col(e, C::StateString), Ty::Str),
        "results" => Field::Col(col(e, C::Results), Ty::Int),
        _ => return None,
    })
}

fn step_field(name: &str) -> Option<Field> {
    use steps::Column as C;
    let e = steps::Entity;
    Some(match name {
        "stepid" => Field::Col(col(e, C::Id), Ty::Int),
        "number" => Field::Col(col(e, C::Number), Ty::Int),
        "name" => Field::Col(col(e, C::Name), Ty::Str),
        "buildid" => Field::Col(col(e, C::Buildid), Ty::Int),
        "started_at" => Field::Col(col(e, C::StartedAt), Ty::Int),
        "locks_acquired_at" => Field::Col(col(e, C::LocksAcquiredAt), Ty::Int),
        "complete_at" => Field::Col(col(e, C::CompleteAt), Ty::Int),
        "complete" => Field::Cond(col(e, C::CompleteAt).is_not_null()),
        "state_string" => Field::Col(col(e, C::StateString), Ty::Str),
        "results" => Field::Col(col(e, C::Results), Ty::Int),
        "hidden" => Field::Col(col(e, C::Hidden), Ty::Bool),
        _ => return None,
    })
}

impl Db {
    /// Insert a build with number `max+1` for the builder (retrying on a number conflict),
    /// `state_string` as given (Buildbot uses `created`). Returns `(buildid, number)`.
    pub async fn add_build(
        &self,
        builderid: BuilderId,
        buildrequestid: BuildRequestId,
        workerid: Option<WorkerId>,
        masterid: MasterId,
        state_string: &str,
    ) -> Result<(BuildId, i64), DbError> {
        const OP: &str = "adding a build";
        if self.backend() != crate::Backend::MySql {
            // the next number and the row in one statement (MySQL has no RETURNING)
            use sea_orm::Iden;
            use sea_orm::sea_query::{Alias, Query as Q};
            let b = |c: builds::Column| Alias::new(c.to_string());
            let number = Func::coalesce([
                Func::max(Expr::col(b(builds::Column::Number))).into(),
                Expr::val(0),
            ])
            .add(1);
            let select = Q::select()
                .expr(number)
                .exprs([
                    Expr::val(builderid.0),
                    Expr::val(buildrequestid.0),
                    Expr::val(workerid.map(|w| w.0)),
                    Expr::val(masterid.0),
                    Expr::val(now()),
                    Expr::val(0),
                    Expr::val(state_string),
                ])
                .from(builds::Entity)
                .and_where(Expr::col(b(builds::Column::Builderid)).eq(builderid.0))
                .to_owned();
            let insert = Q::insert()
                .into_table(builds::Entity)
                .columns([
                    b(builds::Column::Number),
                    b(builds::Column::Builderid),
                    b(builds::Column::Buildrequestid),
                    b(builds::Column::Workerid),
                    b(builds::Column::Masterid),
                    b(builds::Column::StartedAt),
                    b(builds::Column::LocksDurationS),
                    b(builds::Column::StateString),
                ])
                .select_from(select)
                .map_err(|e| DbError::Conflict {
                    op: OP,
                    reason: e.to_string(),
                })?
                .returning(
                    Q::returning().columns([b(builds::Column::Id), b(builds::Column::Number)]),
                )
                .to_owned();
            for _ in 0..100 {
                let stmt = self.db_backend().build(&insert);
                match self.insert_returning_ints(stmt).await {
                    Ok(Some(row)) if row.len() == 2 => {
                        return Ok((BuildId(row[0]), row[1]));
                    }
                    Ok(_) => {
                        return Err(DbError::Conflict {
                            op: OP,
                            reason: "the insert returned no row".into(),
                        });
                    }
                    // a build of the same builder inserted at the same time: take the next
                    Err(e) if is_unique_violation(&e) => continue,
                    Err(source) => return Err(DbError::Query { op: OP, source }),
                }
            }
        }
        for _ in 0..100 {
            let max: Option<Option<i64>> = builds::Entity::find()
                .select_only()
                .expr(Func::max(Expr::col(builds::Column::Number)))
                .filter(builds::Column::Builderid.eq(builderid.0))
                .into_tuple()
                .one(&self.x())
                .await
                .ctx(OP)?;
            let number = max.flatten().unwrap_or(0) + 1;
            let r = self
                .insert(builds::Entity::insert(builds::ActiveModel {
                    number: Set(number),
                    builderid: Set(builderid.0),
                    buildrequestid: Set(buildrequestid.0),
                    workerid: Set(workerid.map(|w| w.0)),
                    masterid: Set(masterid.0),
                    started_at: Set(now()),
                    complete_at: Set(None),
                    locks_duration_s: Set(0),
                    state_string: Set(state_string.to_owned()),
                    results: Set(None),
                    ..Default::default()
                }))
                .await;
            match r {
                Ok(id) => return Ok((BuildId(id), number)),
                Err(e) if is_unique_violation(&e) => continue,
                Err(source) => return Err(DbError::Query { op: OP, source }),
            }
        }
        Err(DbError::Conflict {
            op: OP,
            reason: "could not allocate a build number".into(),
        })
    }

    /// Set a build's summary text.
    pub async fn set_build_state_string(
        &self,
        buildid: BuildId,
        state_string: &str,
    ) -> Result<(), DbError> {
        self.write(
            &builds::Entity::update_many()
                .col_expr(
                    builds::Column::StateString,
                    Expr::value(state_string.to_owned()),
                )
                .filter(builds::Column::Id.eq(buildid.0)),
        )
        .await
        .ctx("setting a build state string")?;
        Ok(())
    }

    /// Add to a build's lock waiting time.
    pub async fn add_build_locks_duration(
        &self,
        buildid: BuildId,
        seconds: i64,
    ) -> Result<(), DbError> {
        self.write(
            &builds::Entity::update_many()
                .col_expr(
                    builds::Column::LocksDurationS,
                    Expr::col(builds::Column::LocksDurationS).add(seconds),
                )
                .filter(builds::Column::Id.eq(buildid.0)),
        )
        .await
        .ctx("adding build lock duration")?;
        Ok(())
    }

    /// Finish a build (`complete_at=now, results`).
    pub async fn finish_build(&self, buildid: BuildId, results: Results) -> Result<(), DbError> {
        self.finish_build_with_state(buildid, results, None).await
    }

    /// Finish a build and, when given, set its final summary text in the same statement
    /// (the row ends up as after [`Db::set_build_state_string`] then [`Db::finish_build`]).
    pub async fn finish_build_with_state(
        &self,
        buildid: BuildId,
        results: Results,
        state_string: Option<&str>,
    ) -> Result<(), DbError> {
        let mut u = builds::Entity::update_many();
        if let Some(s) = state_string {
            u = u.col_expr(builds::Column::StateString, Expr::value(s.to_owned()));
        }
        self.write(
            &u.col_expr(builds::Column::CompleteAt, Expr::value(now()))
                .col_expr(builds::Column::Results, Expr::value(results.code()))
                .filter(builds::Column::Id.eq(buildid.0)),
        )
        .await
        .ctx("finishing a build")?;
        Ok(())
    }

    /// One build.
    pub async fn get_build(&self, buildid: BuildId) -> Result<Option<BuildRow>, DbError> {
        Ok(builds::Entity::find_by_id(buildid.0)
            .one(&self.x())
            .await
            .ctx("reading a build")?
            .map(Into::into))
    }

    /// A build by builder and number.
    pub async fn get_build_by_number(
        &self,
        builderid: BuilderId,
        number: i64,
    ) -> Result<Option<BuildRow>, DbError> {
        Ok(builds::Entity::find()
            .filter(builds::Column::Builderid.eq(builderid.0))
            .filter(builds::Column::Number.eq(number))
            .one(&self.x())
            .await
            .ctx("reading a build")?
            .map(Into::into))
    }

    /// Builds (REST fields of `builds`, incl. derived `complete`).
    pub async fn list_builds(&self, q: &Query) -> Result<Vec<BuildRow>, DbError> {
        Ok(apply(
            builds::Entity::find(),
            q,
            "builds",
            build_field,
            col(builds::Entity, builds::Column::Id),
        )?
        .all(&self.x())
        .await
        .ctx("listing builds")?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    /// Write build properties: only new or changed ones (value JSON or source differ) are
    /// written. Returns the names that changed.
    pub async fn set_build_properties(
        &self,
        buildid: BuildId,
        props: &Properties,
    ) -> Result<Vec<String>, DbError> {
        const OP: &str = "setting build properties";
        let existing = self.get_build_properties(buildid).await?;
        let all_new = props.keys().all(|k| !existing.contains_key(k));
        if all_new && props.len() <= crate::common::BATCH {
            self.add_build_properties(buildid, props).await?;
            return Ok(props.keys().cloned().collect());
        }
        let mut changed = Vec::new();
        let mut new_rows = Vec::new();
        let txn = self.write_txn(OP).await?;
        for (name, (value, source)) in props {
            match existing.get(name) {
                Some((v, s)) if py_json(v) == py_json(value) && s == source => continue,
                Some(_) => {
                    build_properties::Entity::update_many()
                        .col_expr(build_properties::Column::Value, Expr::value(py_json(value)))
                        .col_expr(
                            build_properties::Column::Source,
                            Expr::value(source.clone()),
                        )
                        .filter(build_properties::Column::Buildid.eq(buildid.0))
                        .filter(build_properties::Column::Name.eq(name.clone()))
                        .exec(&*txn)
                        .await
                        .ctx(OP)?;
                }
                None => {
                    new_rows.push(build_properties::ActiveModel {
                        buildid: Set(buildid.0),
                        name: Set(name.clone()),
                        value: Set(py_json(value)),
                        source: Set(source.clone()),
                    });
                }
            }
            changed.push(name.clone());
        }
        // new properties in one statement per batch (a build starts with ~15 of them)
        while !new_rows.is_empty() {
            let rest = new_rows.split_off(new_rows.len().min(crate::common::BATCH));
            build_properties::Entity::insert_many(std::mem::replace(&mut new_rows, rest))
                .exec_without_returning(&*txn)
                .await
                .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)?;
        Ok(changed)
    }

    /// Insert build properties the build does not have yet (e.g. the first write of a new
    /// build's properties): no read of the existing ones, and one statement when there are
    /// at most a hundred. A name the build already has fails with a unique violation.
    pub async fn add_build_properties(
        &self,
        buildid: BuildId,
        props: &Properties,
    ) -> Result<(), DbError> {
        const OP: &str = "adding build properties";
        let rows: Vec<_> = props
            .iter()
            .map(|(name, (value, source))| build_properties::ActiveModel {
                buildid: Set(buildid.0),
                name: Set(name.clone()),
                value: Set(py_json(value)),
                source: Set(source.clone()),
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        if rows.len() <= crate::common::BATCH {
            self.write(&build_properties::Entity::insert_many(rows))
                .await
                .ctx(OP)?;
            return Ok(());
        }
        let txn = self.exec_txn(OP).await?;
        let mut rows = rows;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(crate::common::BATCH));
            txn.write(&build_properties::Entity::insert_many(std::mem::replace(
                &mut rows, rest,
            )))
            .await
            .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)?;
        Ok(())
    }

    /// Properties of a build.
    pub async fn get_build_properties(&self, buildid: BuildId) -> Result<Properties, DbError> {
        Ok(build_properties::Entity::find()
            .filter(build_properties::Column::Buildid.eq(buildid.0))
            .all(&self.x())
            .await
            .ctx("reading build properties")?
            .into_iter()
            .map(|p| {
                let v =
                    serde_json::from_str(&p.value).unwrap_or(serde_json::Value::String(p.value));
                (p.name, (v, p.source))
            })
            .collect())
    }

    /// Upsert a `build_data` value.
    pub async fn set_build_data(
        &self,
        buildid: BuildId,
        name: &str,
        value: &[u8],
        source: &str,
    ) -> Result<(), DbError> {
        let upsert = build_data::Entity::insert(build_data::ActiveModel {
            buildid: Set(buildid.0),
            name: Set(name.to_owned()),
            value: Set(value.to_vec()),
            length: Set(value.len() as i64),
            source: Set(source.to_owned()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([build_data::Column::Buildid, build_data::Column::Name])
                .update_columns([
                    build_data::Column::Value,
                    build_data::Column::Length,
                    build_data::Column::Source,
                ])
                .to_owned(),
        );
        self.write(&upsert).await.ctx("setting build data")?;
        Ok(())
    }

    /// One `build_data` entry with its value.
    pub async fn get_build_data(
        &self,
        buildid: BuildId,
        name: &str,
    ) -> Result<Option<BuildDataRow>, DbError> {
        Ok(build_data::Entity::find()
            .filter(build_data::Column::Buildid.eq(buildid.0))
            .filter(build_data::Column::Name.eq(name))
            .one(&self.x())
            .await
            .ctx("reading build data")?
            .map(|d| BuildDataRow {
                buildid,
                name: d.name,
                value: Some(d.value),
                length: d.length,
                source: d.source,
            }))
    }

    /// `build_data` entries of a build, without values.
    pub async fn list_build_data(&self, buildid: BuildId) -> Result<Vec<BuildDataRow>, DbError> {
        let rows: Vec<(String, i64, String)> = build_data::Entity::find()
            .select_only()
            .column(build_data::Column::Name)
            .column(build_data::Column::Length)
            .column(build_data::Column::Source)
            .filter(build_data::Column::Buildid.eq(buildid.0))
            .order_by_asc(build_data::Column::Id)
            .into_tuple()
            .all(&self.x())
            .await
            .ctx("listing build data")?;
        Ok(rows
            .into_iter()
            .map(|(name, length, source)| BuildDataRow {
                buildid,
                name,
                value: None,
                length,
                source,
            })
            .collect())
    }

    /// Add a step (number `max+1`, state `pending`). If the name is taken in this build, a
    /// unique name is made (`name[:50-len(_n)] + _n`). Returns `(stepid, number, name)`.
    pub async fn add_step(
        &self,
        buildid: BuildId,
        name: &str,
        state_string: &str,
    ) -> Result<(StepId, i64, String), DbError> {
        self.add_step_numbered(buildid, name, state_string, None, None)
            .await
    }

    /// [`Db::add_step`] with the step number known by the caller (`Some(n)`: the caller owns
    /// the build and knows that `n` is `max+1`, which saves a query; `None`: `max+1` is read)
    /// and, with `started_at`, the step already started with its locks acquired at that time
    /// (the row [`Db::start_step`]`(id, true)` would leave, without a second statement).
    pub async fn add_step_numbered(
        &self,
        buildid: BuildId,
        name: &str,
        state_string: &str,
        number: Option<i64>,
        started_at: Option<i64>,
    ) -> Result<(StepId, i64, String), DbError> {
        const OP: &str = "adding a step";
        let hinted = number.is_some();
        let number = match number {
            Some(n) => n,
            None => {
                let max: Option<Option<i64>> = steps::Entity::find()
                    .select_only()
                    .expr(Func::max(Expr::col(steps::Column::Number)))
                    .filter(steps::Column::Buildid.eq(buildid.0))
                    .into_tuple()
                    .one(&self.x())
                    .await
                    .ctx(OP)?;
                max.flatten().map_or(0, |n| n + 1)
            }
        };
        let row = |name: String| steps::ActiveModel {
            number: Set(number),
            name: Set(name),
            buildid: Set(buildid.0),
            started_at: Set(started_at),
            locks_acquired_at: Set(started_at),
            complete_at: Set(None),
            state_string: Set(state_string.to_owned()),
            results: Set(None),
            urls_json: Set("[]".to_owned()),
            hidden: Set(0),
            ..Default::default()
        };
        match self
            .insert(steps::Entity::insert(row(name.to_owned())))
            .await
        {
            Ok(id) => return Ok((StepId(id), number, name.to_owned())),
            // the hint was wrong (or the name is taken): redo it the careful way
            Err(e) if hinted && is_unique_violation(&e) => {
                return Box::pin(self.add_step_numbered(
                    buildid,
                    name,
                    state_string,
                    None,
                    started_at,
                ))
                .await;
            }
            Err(e) if is_unique_violation(&e) => {}
            Err(source) => return Err(DbError::Query { op: OP, source }),
        }
        let names: Vec<String> = steps::Entity::find()
            .select_only()
            .column(steps::Column::Name)
            .filter(steps::Column::Buildid.eq(buildid.0))
            .into_tuple()
            .all(&self.x())
            .await
            .ctx(OP)?;
        let mut n = 1;
        let newname = loop {
            let suffix = format!("_{n}");
            let base: String = name.chars().take(50 - suffix.len()).collect();
            let cand = format!("{base}{suffix}");
            if !names.contains(&cand) {
                break cand;
            }
            n += 1;
        };
        let r = self
            .insert(steps::Entity::insert(row(newname.clone())))
            .await
            .ctx(OP)?;
        Ok((StepId(r), number, newname))
    }

    /// Start a step (`started_at=now`; with `locks_acquired`, also `locks_acquired_at`).
    pub async fn start_step(&self, stepid: StepId, locks_acquired: bool) -> Result<(), DbError> {
        let t = now();
        let mut u = steps::Entity::update_many().col_expr(steps::Column::StartedAt, Expr::value(t));
        if locks_acquired {
            u = u.col_expr(steps::Column::LocksAcquiredAt, Expr::value(t));
        }
        self.write(&u.filter(steps::Column::Id.eq(stepid.0)))
            .await
            .ctx("starting a step")?;
        Ok(())
    }

    /// Record that the step's locks are held.
    pub async fn set_step_locks_acquired(&self, stepid: StepId) -> Result<(), DbError> {
        self.write(
            &steps::Entity::update_many()
                .col_expr(steps::Column::LocksAcquiredAt, Expr::value(now()))
                .filter(steps::Column::Id.eq(stepid.0)),
        )
        .await
        .ctx("setting step locks")?;
        Ok(())
    }

    /// Set a step's summary text.
    pub async fn set_step_state_string(
        &self,
        stepid: StepId,
        state_string: &str,
    ) -> Result<(), DbError> {
        self.write(
            &steps::Entity::update_many()
                .col_expr(
                    steps::Column::StateString,
                    Expr::value(state_string.to_owned()),
                )
                .filter(steps::Column::Id.eq(stepid.0)),
        )
        .await
        .ctx("setting a step state string")?;
        Ok(())
    }

    /// Append a URL to a step (duplicates skipped). Returns whether it was added.
    pub async fn add_step_url(
        &self,
        stepid: StepId,
        name: &str,
        url: &str,
    ) -> Result<bool, DbError> {
        const OP: &str = "adding a step URL";
        let txn = self.write_txn(OP).await?;
        let Some(s) = steps::Entity::find_by_id(stepid.0)
            .one(&*txn)
            .await
            .ctx(OP)?
        else {
            return Err(DbError::NotFound {
                what: "step",
                id: stepid.0,
            });
        };
        let mut urls = match serde_json::from_str::<serde_json::Value>(&s.urls_json) {
            Ok(serde_json::Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let entry = serde_json::json!({"name": name, "url": url});
        if urls.contains(&entry) {
            return Ok(false);
        }
        urls.push(entry);
        steps::Entity::update_many()
            .col_expr(
                steps::Column::UrlsJson,
                Expr::value(py_json(&serde_json::Value::Array(urls))),
            )
            .filter(steps::Column::Id.eq(stepid.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        txn.commit().await.ctx(OP)?;
        Ok(true)
    }

    /// Finish a step.
    pub async fn finish_step(
        &self,
        stepid: StepId,
        results: Results,
        hidden: bool,
    ) -> Result<(), DbError> {
        self.finish_step_with_state(stepid, results, hidden, None)
            .await
    }

    /// Finish a step and, when given, set its final summary text in the same statement
    /// (the row ends up as after [`Db::set_step_state_string`] then [`Db::finish_step`]).
    pub async fn finish_step_with_state(
        &self,
        stepid: StepId,
        results: Results,
        hidden: bool,
        state_string: Option<&str>,
    ) -> Result<(), DbError> {
        let mut u = steps::Entity::update_many();
        if let Some(s) = state_string {
            u = u.col_expr(steps::Column::StateString, Expr::value(s.to_owned()));
        }
        self.write(
            &u.col_expr(steps::Column::CompleteAt, Expr::value(now()))
                .col_expr(steps::Column::Results, Expr::value(results.code()))
                .col_expr(steps::Column::Hidden, Expr::value(i16::from(hidden)))
                .filter(steps::Column::Id.eq(stepid.0)),
        )
        .await
        .ctx("finishing a step")?;
        Ok(())
    }

    /// One step.
    pub async fn get_step(&self, stepid: StepId) -> Result<Option<StepRow>, DbError> {
        Ok(steps::Entity::find_by_id(stepid.0)
            .one(&self.x())
            .await
            .ctx("reading a step")?
            .map(Into::into))
    }

    /// Steps (REST fields of `steps`), by id unless ordered.
    pub async fn list_steps(&self, q: &Query) -> Result<Vec<StepRow>, DbError> {
        Ok(apply(
            steps::Entity::find(),
            q,
            "steps",
            step_field,
            col(steps::Entity, steps::Column::Id),
        )?
        .all(&self.x())
        .await
        .ctx("listing steps")?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}
