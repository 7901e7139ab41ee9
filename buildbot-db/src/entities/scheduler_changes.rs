//! Entity for table `scheduler_changes`.

use sea_orm::entity::prelude::*;

/// One row of `scheduler_changes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduler_changes")]
pub struct Model {
    /// Column `schedulerid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub schedulerid: i64,
    /// Column `changeid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub changeid: i64,
    /// Column `important`.
    pub important: Option<i32>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
