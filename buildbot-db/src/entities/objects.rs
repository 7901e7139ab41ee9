//! Entity for table `objects`.

use sea_orm::entity::prelude::*;

/// One row of `objects`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "objects")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `name`.
    pub name: String,
    /// Column `class_name`.
    pub class_name: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
