//! Entity for table `users`.

use sea_orm::entity::prelude::*;

/// One row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Column `uid`.
    #[sea_orm(primary_key)]
    pub uid: i64,
    /// Column `identifier`.
    pub identifier: String,
    /// Column `bb_username`.
    pub bb_username: Option<String>,
    /// Column `bb_password`.
    pub bb_password: Option<String>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
