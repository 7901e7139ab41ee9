//! Entity for table `changes`.

use sea_orm::entity::prelude::*;

/// One row of `changes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "changes")]
pub struct Model {
    /// Column `changeid`.
    #[sea_orm(primary_key)]
    pub changeid: i64,
    /// Column `author`.
    pub author: String,
    /// Column `committer`.
    pub committer: Option<String>,
    /// Column `comments`.
    pub comments: String,
    /// Column `branch`.
    pub branch: Option<String>,
    /// Column `revision`.
    pub revision: Option<String>,
    /// Column `revlink`.
    pub revlink: Option<String>,
    /// Column `when_timestamp`.
    pub when_timestamp: i64,
    /// Column `category`.
    pub category: Option<String>,
    /// Column `repository`.
    pub repository: String,
    /// Column `codebase`.
    pub codebase: String,
    /// Column `project`.
    pub project: String,
    /// Column `sourcestampid`.
    pub sourcestampid: i64,
    /// Column `parent_changeids`.
    pub parent_changeids: Option<i64>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
