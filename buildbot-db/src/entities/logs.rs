//! Entity for table `logs`.

use sea_orm::entity::prelude::*;

/// One row of `logs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "logs")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `name`.
    pub name: String,
    /// Column `slug`.
    pub slug: String,
    /// Column `stepid`.
    pub stepid: i64,
    /// Column `complete`.
    pub complete: i16,
    /// Column `num_lines`.
    pub num_lines: i64,
    /// Column `type`.
    #[sea_orm(column_name = "type")]
    pub log_type: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
