//! Entity for table `sourcestamps`.

use sea_orm::entity::prelude::*;

/// One row of `sourcestamps`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sourcestamps")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `ss_hash`.
    pub ss_hash: String,
    /// Column `branch`.
    pub branch: Option<String>,
    /// Column `revision`.
    pub revision: Option<String>,
    /// Column `patchid`.
    pub patchid: Option<i64>,
    /// Column `repository`.
    pub repository: String,
    /// Column `codebase`.
    pub codebase: String,
    /// Column `project`.
    pub project: String,
    /// Column `created_at`.
    pub created_at: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
