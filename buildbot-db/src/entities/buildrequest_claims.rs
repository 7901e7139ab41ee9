//! Entity for table `buildrequest_claims`.

use sea_orm::entity::prelude::*;

/// One row of `buildrequest_claims`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buildrequest_claims")]
pub struct Model {
    /// Column `brid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub brid: i64,
    /// Column `masterid`.
    pub masterid: i64,
    /// Column `claimed_at`.
    pub claimed_at: i64,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
