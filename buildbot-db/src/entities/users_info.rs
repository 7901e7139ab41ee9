//! Entity for table `users_info`.

use sea_orm::entity::prelude::*;

/// One row of `users_info`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users_info")]
pub struct Model {
    /// Column `uid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub uid: i64,
    /// Column `attr_type`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub attr_type: String,
    /// Column `attr_data`.
    pub attr_data: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
