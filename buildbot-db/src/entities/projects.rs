//! Entity for table `projects`.

use sea_orm::entity::prelude::*;

/// One row of `projects`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Column `name`.
    pub name: String,
    /// Column `name_hash`.
    pub name_hash: String,
    /// Column `slug`.
    pub slug: String,
    /// Column `description`.
    pub description: Option<String>,
    /// Column `description_format`.
    pub description_format: Option<String>,
    /// Column `description_html`.
    pub description_html: Option<String>,
}

/// No relations are declared; joins are written explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
