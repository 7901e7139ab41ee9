//! Entity for table `masters`.

use sea_orm::entity::prelude::*;

/// One row of `masters`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "masters")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `name`.
    pub name: String,
    /// Column `name_hash`.
    pub name_hash: String,
    /// Column `active`.
    pub active: i32,
    /// Column `last_active`.
    pub last_active: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
