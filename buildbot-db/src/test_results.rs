//! `test_result_sets`, `test_results`, `test_names`, `test_code_paths` (§3.20).

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::common::flag;
use crate::entities::{test_code_paths, test_names, test_result_sets, test_results};
use crate::error::Ctx;
use crate::{BuildId, BuilderId, Db, DbError, StepId, TestResultSetId};

/// A test result set.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestResultSetRow {
    /// Id.
    pub test_result_setid: TestResultSetId,
    /// Builder.
    pub builderid: BuilderId,
    /// Build.
    pub buildid: BuildId,
    /// Step.
    pub stepid: StepId,
    /// Free text.
    pub description: Option<String>,
    /// e.g. `pass_fail`.
    pub category: String,
    /// e.g. `boolean`.
    pub value_unit: String,
    /// Passed count (pass/fail categories).
    pub tests_passed: Option<i64>,
    /// Failed count.
    pub tests_failed: Option<i64>,
    /// All results submitted.
    pub complete: bool,
}

/// One test result to insert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTestResult {
    /// Test name.
    pub test_name: Option<String>,
    /// Code path.
    pub test_code_path: Option<String>,
    /// Line.
    pub line: Option<i64>,
    /// Duration.
    pub duration_ns: Option<i64>,
    /// Value (always a string).
    pub value: String,
}

impl NewTestResult {
    /// A named result.
    pub fn named(name: &str, value: &str) -> NewTestResult {
        NewTestResult {
            test_name: Some(name.to_owned()),
            value: value.to_owned(),
            ..Default::default()
        }
    }
}

/// A stored test result.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestResultRow {
    /// Id.
    pub test_resultid: i64,
    /// Builder.
    pub builderid: BuilderId,
    /// Set.
    pub test_result_setid: TestResultSetId,
    /// Test name.
    pub test_name: Option<String>,
    /// Code path.
    pub test_code_path: Option<String>,
    /// Line.
    pub line: Option<i64>,
    /// Duration.
    pub duration_ns: Option<i64>,
    /// Value.
    pub value: String,
}

impl From<test_result_sets::Model> for TestResultSetRow {
    fn from(s: test_result_sets::Model) -> Self {
        TestResultSetRow {
            test_result_setid: TestResultSetId(s.id),
            builderid: BuilderId(s.builderid),
            buildid: BuildId(s.buildid),
            stepid: StepId(s.stepid),
            description: s.description,
            category: s.category,
            value_unit: s.value_unit,
            tests_passed: s.tests_passed,
            tests_failed: s.tests_failed,
            complete: flag(s.complete),
        }
    }
}

impl Db {
    /// Create a test result set (incomplete).
    pub async fn add_test_result_set(
        &self,
        builderid: BuilderId,
        buildid: BuildId,
        stepid: StepId,
        description: Option<&str>,
        category: &str,
        value_unit: &str,
    ) -> Result<TestResultSetId, DbError> {
        let r = self
            .insert(test_result_sets::Entity::insert(
                test_result_sets::ActiveModel {
                    builderid: Set(builderid.0),
                    buildid: Set(buildid.0),
                    stepid: Set(stepid.0),
                    description: Set(description.map(str::to_owned)),
                    category: Set(category.to_owned()),
                    value_unit: Set(value_unit.to_owned()),
                    tests_passed: Set(None),
                    tests_failed: Set(None),
                    complete: Set(0),
                    ..Default::default()
                },
            ))
            .await
            .ctx("adding a test result set")?;
        Ok(TestResultSetId(r))
    }

    /// Complete a set with its counts; completing a complete set is an error.
    pub async fn complete_test_result_set(
        &self,
        id: TestResultSetId,
        tests_passed: Option<i64>,
        tests_failed: Option<i64>,
    ) -> Result<(), DbError> {
        const OP: &str = "completing a test result set";
        let n = self
            .write(
                &test_result_sets::Entity::update_many()
                    .col_expr(test_result_sets::Column::Complete, Expr::value(1i16))
                    .col_expr(
                        test_result_sets::Column::TestsPassed,
                        Expr::value(tests_passed),
                    )
                    .col_expr(
                        test_result_sets::Column::TestsFailed,
                        Expr::value(tests_failed),
                    )
                    .filter(test_result_sets::Column::Id.eq(id.0))
                    .filter(test_result_sets::Column::Complete.eq(0)),
            )
            .await
            .ctx(OP)?;
        if n == 0 {
            return Err(DbError::Conflict {
                op: OP,
                reason: format!("test result set {id} is missing or already complete"),
            });
        }
        Ok(())
    }

    /// Test result sets of a build (by id).
    pub async fn list_test_result_sets(
        &self,
        buildid: BuildId,
    ) -> Result<Vec<TestResultSetRow>, DbError> {
        Ok(test_result_sets::Entity::find()
            .filter(test_result_sets::Column::Buildid.eq(buildid.0))
            .order_by_asc(test_result_sets::Column::Id)
            .all(&self.x())
            .await
            .ctx("listing test result sets")?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One set.
    pub async fn get_test_result_set(
        &self,
        id: TestResultSetId,
    ) -> Result<Option<TestResultSetRow>, DbError> {
        Ok(test_result_sets::Entity::find_by_id(id.0)
            .one(&self.x())
            .await
            .ctx("reading a test result set")?
            .map(Into::into))
    }

    /// Insert results (names and code paths are per-builder dictionaries, created as needed).
    pub async fn add_test_results(
        &self,
        builderid: BuilderId,
        setid: TestResultSetId,
        results: &[NewTestResult],
    ) -> Result<(), DbError> {
        const OP: &str = "adding test results";
        let mut names: BTreeMap<String, i64> = BTreeMap::new();
        let mut paths: BTreeMap<String, i64> = BTreeMap::new();
        let txn = self.write_txn(OP).await?;
        for r in results {
            if r.test_name.is_none() && r.test_code_path.is_none() {
                return Err(DbError::InvalidArgument {
                    op: OP,
                    reason: "a test result needs a name or a code path".into(),
                });
            }
            if let Some(n) = &r.test_name
                && !names.contains_key(n)
            {
                let found = test_names::Entity::find()
                    .filter(test_names::Column::Builderid.eq(builderid.0))
                    .filter(test_names::Column::Name.eq(n.clone()))
                    .one(&*txn)
                    .await
                    .ctx(OP)?;
                let id = match found {
                    Some(f) => f.id,
                    None => {
                        test_names::Entity::insert(test_names::ActiveModel {
                            builderid: Set(builderid.0),
                            name: Set(n.clone()),
                            ..Default::default()
                        })
                        .exec(&*txn)
                        .await
                        .ctx(OP)?
                        .last_insert_id
                    }
                };
                names.insert(n.clone(), id);
            }
            if let Some(p) = &r.test_code_path
                && !paths.contains_key(p)
            {
                let found = test_code_paths::Entity::find()
                    .filter(test_code_paths::Column::Builderid.eq(builderid.0))
                    .filter(test_code_paths::Column::Path.eq(p.clone()))
                    .one(&*txn)
                    .await
                    .ctx(OP)?;
                let id = match found {
                    Some(f) => f.id,
                    None => {
                        test_code_paths::Entity::insert(test_code_paths::ActiveModel {
                            builderid: Set(builderid.0),
                            path: Set(p.clone()),
                            ..Default::default()
                        })
                        .exec(&*txn)
                        .await
                        .ctx(OP)?
                        .last_insert_id
                    }
                };
                paths.insert(p.clone(), id);
            }
        }
        for batch in results.chunks(500) {
            test_results::Entity::insert_many(batch.iter().map(|r| {
                test_results::ActiveModel {
                    builderid: Set(builderid.0),
                    test_result_setid: Set(setid.0),
                    test_nameid: Set(r.test_name.as_ref().and_then(|n| names.get(n).copied())),
                    test_code_pathid: Set(r
                        .test_code_path
                        .as_ref()
                        .and_then(|p| paths.get(p).copied())),
                    line: Set(r.line),
                    duration_ns: Set(r.duration_ns),
                    value: Set(r.value.clone()),
                    ..Default::default()
                }
            }))
            .exec_without_returning(&*txn)
            .await
            .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)
    }

    /// Results of a set, by id.
    pub async fn list_test_results(
        &self,
        setid: TestResultSetId,
    ) -> Result<Vec<TestResultRow>, DbError> {
        const OP: &str = "listing test results";
        let rows = test_results::Entity::find()
            .filter(test_results::Column::TestResultSetid.eq(setid.0))
            .order_by_asc(test_results::Column::Id)
            .all(&self.x())
            .await
            .ctx(OP)?;
        let name_ids: Vec<i64> = rows.iter().filter_map(|r| r.test_nameid).collect();
        let path_ids: Vec<i64> = rows.iter().filter_map(|r| r.test_code_pathid).collect();
        let mut names = BTreeMap::new();
        for c in name_ids.chunks(crate::common::BATCH) {
            for n in test_names::Entity::find()
                .filter(test_names::Column::Id.is_in(c.to_vec()))
                .all(&self.x())
                .await
                .ctx(OP)?
            {
                names.insert(n.id, n.name);
            }
        }
        let mut paths = BTreeMap::new();
        for c in path_ids.chunks(crate::common::BATCH) {
            for p in test_code_paths::Entity::find()
                .filter(test_code_paths::Column::Id.is_in(c.to_vec()))
                .all(&self.x())
                .await
                .ctx(OP)?
            {
                paths.insert(p.id, p.path);
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| TestResultRow {
                test_resultid: r.id,
                builderid: BuilderId(r.builderid),
                test_result_setid: TestResultSetId(r.test_result_setid),
                test_name: r.test_nameid.and_then(|i| names.get(&i).cloned()),
                test_code_path: r.test_code_pathid.and_then(|i| paths.get(&i).cloned()),
                line: r.line,
                duration_ns: r.duration_ns,
                value: r.value,
            })
            .collect())
    }
}
