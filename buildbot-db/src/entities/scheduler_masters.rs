//! Entity for table `scheduler_masters`.

use sea_orm::entity::prelude::*;

/// One row of `scheduler_masters`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduler_masters")]
pub struct Model {
    /// Column `schedulerid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub schedulerid: i64,
    /// Column `masterid`.
    pub masterid: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
