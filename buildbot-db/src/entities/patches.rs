//! Entity for table `patches`.

use sea_orm::entity::prelude::*;

/// One row of `patches`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patches")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `patchlevel`.
    pub patchlevel: i64,
    /// Column `patch_base64`.
    pub patch_base64: String,
    /// Column `patch_author`.
    pub patch_author: String,
    /// Column `patch_comment`.
    pub patch_comment: String,
    /// Column `subdir`.
    pub subdir: Option<String>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
