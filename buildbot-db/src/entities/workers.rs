//! Entity for table `workers`.

use sea_orm::entity::prelude::*;

/// One row of `workers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workers")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `name`.
    pub name: String,
    /// Column `info`.
    pub info: String,
    /// Column `paused`.
    pub paused: i16,
    /// Column `pause_reason`.
    pub pause_reason: Option<String>,
    /// Column `graceful`.
    pub graceful: i16,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
