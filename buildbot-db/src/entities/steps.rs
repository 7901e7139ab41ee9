//! Entity for table `steps`.

use sea_orm::entity::prelude::*;

/// One row of `steps`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "steps")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `number`.
    pub number: i64,
    /// Column `name`.
    pub name: String,
    /// Column `buildid`.
    pub buildid: i64,
    /// Column `started_at`.
    pub started_at: Option<i64>,
    /// Column `locks_acquired_at`.
    pub locks_acquired_at: Option<i64>,
    /// Column `complete_at`.
    pub complete_at: Option<i64>,
    /// Column `state_string`.
    pub state_string: String,
    /// Column `results`.
    pub results: Option<i32>,
    /// Column `urls_json`.
    pub urls_json: String,
    /// Column `hidden`.
    pub hidden: i16,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
