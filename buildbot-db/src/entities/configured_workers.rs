//! Entity for table `configured_workers`.

use sea_orm::entity::prelude::*;

/// One row of `configured_workers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "configured_workers")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `buildermasterid`.
    pub buildermasterid: i64,
    /// Column `workerid`.
    pub workerid: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
