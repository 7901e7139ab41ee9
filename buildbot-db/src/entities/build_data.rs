//! Entity for table `build_data`.

use sea_orm::entity::prelude::*;

/// One row of `build_data`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "build_data")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `buildid`.
    pub buildid: i64,
    /// Column `name`.
    pub name: String,
    /// Column `value`.
    pub value: Vec<u8>,
    /// Column `length`.
    pub length: i64,
    /// Column `source`.
    pub source: String,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
