//! Entity for table `buildset_sourcestamps`.

use sea_orm::entity::prelude::*;

/// One row of `buildset_sourcestamps`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buildset_sourcestamps")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `buildsetid`.
    pub buildsetid: i64,
    /// Column `sourcestampid`.
    pub sourcestampid: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
