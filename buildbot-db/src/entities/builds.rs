//! Entity for table `builds`.

use sea_orm::entity::prelude::*;

/// One row of `builds`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "builds")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `number`.
    pub number: i64,
    /// Column `builderid`.
    pub builderid: i64,
    /// Column `buildrequestid`.
    pub buildrequestid: i64,
    /// Column `workerid`.
    pub workerid: Option<i64>,
    /// Column `masterid`.
    pub masterid: i64,
    /// Column `started_at`.
    pub started_at: i64,
    /// Column `complete_at`.
    pub complete_at: Option<i64>,
    /// Column `locks_duration_s`.
    pub locks_duration_s: i64,
    /// Column `state_string`.
    pub state_string: String,
    /// Column `results`.
    pub results: Option<i32>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
