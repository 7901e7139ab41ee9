//! Entity for table `test_result_sets`.

use sea_orm::entity::prelude::*;

/// One row of `test_result_sets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "test_result_sets")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `builderid`.
    pub builderid: i64,
    /// Column `buildid`.
    pub buildid: i64,
    /// Column `stepid`.
    pub stepid: i64,
    /// Column `description`.
    pub description: Option<String>,
    /// Column `category`.
    pub category: String,
    /// Column `value_unit`.
    pub value_unit: String,
    /// Column `tests_passed`.
    pub tests_passed: Option<i64>,
    /// Column `tests_failed`.
    pub tests_failed: Option<i64>,
    /// Column `complete`.
    pub complete: i16,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
