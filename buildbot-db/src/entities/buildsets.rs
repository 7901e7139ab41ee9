//! Entity for table `buildsets`.

use sea_orm::entity::prelude::*;

/// One row of `buildsets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buildsets")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `external_idstring`.
    pub external_idstring: Option<String>,
    /// Column `reason`.
    pub reason: Option<String>,
    /// Column `submitted_at`.
    pub submitted_at: i64,
    /// Column `complete`.
    pub complete: i16,
    /// Column `complete_at`.
    pub complete_at: Option<i64>,
    /// Column `results`.
    pub results: Option<i16>,
    /// Column `parent_buildid`.
    pub parent_buildid: Option<i64>,
    /// Column `parent_relationship`.
    pub parent_relationship: Option<String>,
    /// Column `rebuilt_buildid`.
    pub rebuilt_buildid: Option<i64>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
