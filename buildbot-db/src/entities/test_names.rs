//! Entity for table `test_names`.

use sea_orm::entity::prelude::*;

/// One row of `test_names`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "test_names")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `builderid`.
    pub builderid: i64,
    /// Column `name`.
    pub name: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
