//! Entity for table `change_users`.

use sea_orm::entity::prelude::*;

/// One row of `change_users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_users")]
pub struct Model {
    /// Column `changeid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub changeid: i64,
    /// Column `uid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub uid: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
