//! Entity for table `codebase_branches`.

use sea_orm::entity::prelude::*;

/// One row of `codebase_branches`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "codebase_branches")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `codebaseid`.
    pub codebaseid: i64,
    /// Column `name`.
    pub name: String,
    /// Column `name_hash`.
    pub name_hash: String,
    /// Column `commitid`.
    pub commitid: Option<i64>,
    /// Column `last_timestamp`.
    pub last_timestamp: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
