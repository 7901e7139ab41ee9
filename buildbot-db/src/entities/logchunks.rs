//! Entity for table `logchunks`.

use sea_orm::entity::prelude::*;

/// One row of `logchunks`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "logchunks")]
pub struct Model {
    /// Column `logid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub logid: i64,
    /// Column `first_line`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub first_line: i64,
    /// Column `last_line`.
    pub last_line: i64,
    /// Column `content`.
    pub content: Option<Vec<u8>>,
    /// Column `compressed`.
    pub compressed: i16,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
