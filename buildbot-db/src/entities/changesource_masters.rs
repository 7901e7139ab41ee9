//! Entity for table `changesource_masters`.

use sea_orm::entity::prelude::*;

/// One row of `changesource_masters`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "changesource_masters")]
pub struct Model {
    /// Column `changesourceid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub changesourceid: i64,
    /// Column `masterid`.
    pub masterid: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
