//! Entity for table `change_files`.

use sea_orm::entity::prelude::*;

/// One row of `change_files`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_files")]
pub struct Model {
    /// Column `changeid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub changeid: i64,
    /// Column `filename`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub filename: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
