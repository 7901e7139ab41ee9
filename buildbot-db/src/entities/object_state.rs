//! Entity for table `object_state`.

use sea_orm::entity::prelude::*;

/// One row of `object_state`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "object_state")]
pub struct Model {
    /// Column `objectid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub objectid: i64,
    /// Column `name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Column `value_json`.
    pub value_json: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
