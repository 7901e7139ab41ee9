//! Entity for table `change_properties`.

use sea_orm::entity::prelude::*;

/// One row of `change_properties`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_properties")]
pub struct Model {
    /// Column `changeid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub changeid: i64,
    /// Column `property_name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub property_name: String,
    /// Column `property_value`.
    pub property_value: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
