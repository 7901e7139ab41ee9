//! Entity for table `alembic_version`.

use sea_orm::entity::prelude::*;

/// One row of `alembic_version`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alembic_version")]
pub struct Model {
    /// Column `version_num`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version_num: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
