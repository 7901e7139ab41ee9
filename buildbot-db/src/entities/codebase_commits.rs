//! Entity for table `codebase_commits`.

use sea_orm::entity::prelude::*;

/// One row of `codebase_commits`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "codebase_commits")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `codebaseid`.
    pub codebaseid: i64,
    /// Column `author`.
    pub author: String,
    /// Column `committer`.
    pub committer: Option<String>,
    /// Column `comments`.
    pub comments: String,
    /// Column `when_timestamp`.
    pub when_timestamp: i64,
    /// Column `revision`.
    pub revision: String,
    /// Column `parent_commitid`.
    pub parent_commitid: Option<i64>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
