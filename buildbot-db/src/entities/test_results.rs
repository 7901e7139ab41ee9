//! Entity for table `test_results`.

use sea_orm::entity::prelude::*;

/// One row of `test_results`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "test_results")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `builderid`.
    pub builderid: i64,
    /// Column `test_result_setid`.
    pub test_result_setid: i64,
    /// Column `test_nameid`.
    pub test_nameid: Option<i64>,
    /// Column `test_code_pathid`.
    pub test_code_pathid: Option<i64>,
    /// Column `line`.
    pub line: Option<i64>,
    /// Column `duration_ns`.
    pub duration_ns: Option<i64>,
    /// Column `value`.
    pub value: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
