//! Entity for table `build_properties`.

use sea_orm::entity::prelude::*;

/// One row of `build_properties`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "build_properties")]
pub struct Model {
    /// Column `buildid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub buildid: i64,
    /// Column `name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Column `value`.
    pub value: String,
    /// Column `source`.
    pub source: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
