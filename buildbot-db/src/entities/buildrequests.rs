//! Entity for table `buildrequests`.

use sea_orm::entity::prelude::*;

/// One row of `buildrequests`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buildrequests")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `buildsetid`.
    pub buildsetid: i64,
    /// Column `builderid`.
    pub builderid: i64,
    /// Column `priority`.
    pub priority: i64,
    /// Column `complete`.
    pub complete: Option<i32>,
    /// Column `results`.
    pub results: Option<i16>,
    /// Column `submitted_at`.
    pub submitted_at: i64,
    /// Column `complete_at`.
    pub complete_at: Option<i64>,
    /// Column `waited_for`.
    pub waited_for: Option<i16>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
