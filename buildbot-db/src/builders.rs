//! `builders`, `tags`, `builders_tags`, `builder_masters`, `projects`, `codebases`.

use std::collections::BTreeMap;

use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::common::find_or_create;
use crate::entities::{builder_masters, builders, builders_tags, codebases, projects, tags};
use crate::error::Ctx;
use crate::hash::name_hash;
use crate::query::{Field, Query, Ty, apply, col};
use crate::{BuilderId, Db, DbError, MasterId, ProjectId, TagId};

/// A builder with its tags and the masters running it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuilderRow {
    /// Id.
    pub builderid: BuilderId,
    /// Name from the config.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// e.g. `markdown`.
    pub description_format: Option<String>,
    /// Rendered description.
    pub description_html: Option<String>,
    /// Project.
    pub projectid: Option<ProjectId>,
    /// Tags, in config order.
    pub tags: Vec<String>,
    /// Masters currently running it, ascending.
    pub masterids: Vec<MasterId>,
}

/// The config-derived info written by [`Db::update_builder_info`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuilderInfo {
    /// Free text.
    pub description: Option<String>,
    /// e.g. `markdown`.
    pub description_format: Option<String>,
    /// Rendered description.
    pub description_html: Option<String>,
    /// Project.
    pub projectid: Option<ProjectId>,
    /// Tags, in order.
    pub tags: Vec<String>,
}

impl BuilderInfo {
    /// Info with only tags.
    pub fn new(tags: Vec<String>) -> BuilderInfo {
        BuilderInfo {
            tags,
            ..Default::default()
        }
    }
}

/// A row of `projects`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectRow {
    /// Id.
    pub projectid: ProjectId,
    /// Name.
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// Free text.
    pub description: Option<String>,
    /// e.g. `markdown`.
    pub description_format: Option<String>,
    /// Rendered description.
    pub description_html: Option<String>,
}

fn builder_field(name: &str) -> Option<Field> {
    use builders::Column as C;
    let e = builders::Entity;
    Some(match name {
        "builderid" => Field::Col(col(e, C::Id), Ty::Int),
        "name" => Field::Col(col(e, C::Name), Ty::Str),
        "description" => Field::Col(col(e, C::Description), Ty::Str),
        "description_format" => Field::Col(col(e, C::DescriptionFormat), Ty::Str),
        "projectid" => Field::Col(col(e, C::Projectid), Ty::Int),
        _ => return None,
    })
}

impl Db {
    /// Find or create the builder named `name`.
    pub async fn find_or_create_builder(&self, name: &str) -> Result<BuilderId, DbError> {
        let hash = name_hash(name);
        let am = builders::ActiveModel {
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            ..Default::default()
        };
        Ok(BuilderId(find_or_create!(
            &self.x(),
            "finding or creating a builder",
            builders::Entity,
            builders::Column::NameHash.eq(hash),
            am,
            id
        )))
    }

    async fn find_or_create_tag(&self, name: &str) -> Result<TagId, DbError> {
        let hash = name_hash(name);
        let am = tags::ActiveModel {
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            ..Default::default()
        };
        Ok(TagId(find_or_create!(
            &self.x(),
            "finding or creating a tag",
            tags::Entity,
            tags::Column::NameHash.eq(hash),
            am,
            id
        )))
    }

    /// Write a builder's description, project and tags (tags are deleted and re-inserted in
    /// the given order).
    pub async fn update_builder_info(
        &self,
        builderid: BuilderId,
        info: &BuilderInfo,
    ) -> Result<(), DbError> {
        const OP: &str = "updating builder info";
        let mut tagids = Vec::new();
        for t in &info.tags {
            let id = self.find_or_create_tag(t).await?;
            if !tagids.contains(&id) {
                tagids.push(id);
            }
        }
        let txn = self.write_txn(OP).await?;
        builders::Entity::update_many()
            .set(builders::ActiveModel {
                description: Set(info.description.clone()),
                description_format: Set(info.description_format.clone()),
                description_html: Set(info.description_html.clone()),
                projectid: Set(info.projectid.map(|p| p.0)),
                ..Default::default()
            })
            .filter(builders::Column::Id.eq(builderid.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        builders_tags::Entity::delete_many()
            .filter(builders_tags::Column::Builderid.eq(builderid.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        for t in tagids {
            builders_tags::Entity::insert(builders_tags::ActiveModel {
                builderid: Set(builderid.0),
                tagid: Set(t.0),
                ..Default::default()
            })
            .exec(&*txn)
            .await
            .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)
    }

    /// Record that `masterid` runs `builderid` (idempotent). Returns the `builder_masters` id.
    pub async fn add_builder_master(
        &self,
        builderid: BuilderId,
        masterid: MasterId,
    ) -> Result<i64, DbError> {
        let am = builder_masters::ActiveModel {
            builderid: Set(builderid.0),
            masterid: Set(masterid.0),
            ..Default::default()
        };
        Ok(find_or_create!(
            &self.x(),
            "adding a builder to a master",
            builder_masters::Entity,
            builder_masters::Column::Builderid
                .eq(builderid.0)
                .and(builder_masters::Column::Masterid.eq(masterid.0)),
            am,
            id
        ))
    }

    /// Remove the link (and the `configured_workers` rows hanging on it).
    pub async fn remove_builder_master(
        &self,
        builderid: BuilderId,
        masterid: MasterId,
    ) -> Result<(), DbError> {
        const OP: &str = "removing a builder from a master";
        let txn = self.write_txn(OP).await?;
        let bms = builder_masters::Entity::find()
            .filter(builder_masters::Column::Builderid.eq(builderid.0))
            .filter(builder_masters::Column::Masterid.eq(masterid.0))
            .all(&*txn)
            .await
            .ctx(OP)?;
        for bm in bms {
            crate::entities::configured_workers::Entity::delete_many()
                .filter(crate::entities::configured_workers::Column::Buildermasterid.eq(bm.id))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            builder_masters::Entity::delete_by_id(bm.id)
                .exec(&*txn)
                .await
                .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)
    }

    /// One builder.
    pub async fn get_builder(&self, builderid: BuilderId) -> Result<Option<BuilderRow>, DbError> {
        Ok(self
            .list_builders(&Query::new().eq("builderid", builderid.0), None)
            .await?
            .into_iter()
            .next())
    }

    /// Builder id by name.
    pub async fn builder_id_by_name(&self, name: &str) -> Result<Option<BuilderId>, DbError> {
        Ok(builders::Entity::find()
            .filter(builders::Column::NameHash.eq(name_hash(name)))
            .one(&self.x())
            .await
            .ctx("reading a builder")?
            .map(|b| BuilderId(b.id)))
    }

    /// Builders, optionally only those running on `masterid`.
    pub async fn list_builders(
        &self,
        q: &Query,
        masterid: Option<MasterId>,
    ) -> Result<Vec<BuilderRow>, DbError> {
        const OP: &str = "listing builders";
        let sel = apply(
            builders::Entity::find(),
            q,
            "builders",
            builder_field,
            col(builders::Entity, builders::Column::Id),
        )?;
        let rows = sel.all(&self.x()).await.ctx(OP)?;
        let mut bm: BTreeMap<i64, Vec<MasterId>> = BTreeMap::new();
        for r in builder_masters::Entity::find()
            .order_by_asc(builder_masters::Column::Masterid)
            .all(&self.x())
            .await
            .ctx(OP)?
        {
            bm.entry(r.builderid)
                .or_default()
                .push(MasterId(r.masterid));
        }
        let tag_names: BTreeMap<i64, String> = tags::Entity::find()
            .all(&self.x())
            .await
            .ctx(OP)?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let mut btags: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for r in builders_tags::Entity::find()
            .order_by_asc(builders_tags::Column::Id)
            .all(&self.x())
            .await
            .ctx(OP)?
        {
            if let Some(n) = tag_names.get(&r.tagid) {
                btags.entry(r.builderid).or_default().push(n.clone());
            }
        }
        Ok(rows
            .into_iter()
            .map(|b| BuilderRow {
                builderid: BuilderId(b.id),
                tags: btags.remove(&b.id).unwrap_or_default(),
                masterids: bm.get(&b.id).cloned().unwrap_or_default(),
                name: b.name,
                description: b.description,
                description_format: b.description_format,
                description_html: b.description_html,
                projectid: b.projectid.map(ProjectId),
            })
            .filter(|b| masterid.is_none_or(|m| b.masterids.contains(&m)))
            .collect())
    }

    /// Find or create a project (slug = name on creation).
    pub async fn find_or_create_project(&self, name: &str) -> Result<ProjectId, DbError> {
        let hash = name_hash(name);
        let am = projects::ActiveModel {
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            slug: Set(name.chars().take(50).collect()),
            ..Default::default()
        };
        Ok(ProjectId(find_or_create!(
            &self.x(),
            "finding or creating a project",
            projects::Entity,
            projects::Column::NameHash.eq(hash),
            am,
            id
        )))
    }

    /// Update a project's slug and description.
    pub async fn update_project_info(
        &self,
        projectid: ProjectId,
        slug: &str,
        description: Option<&str>,
        description_format: Option<&str>,
        description_html: Option<&str>,
    ) -> Result<(), DbError> {
        self.write(
            &projects::Entity::update_many()
                .set(projects::ActiveModel {
                    slug: Set(slug.to_owned()),
                    description: Set(description.map(str::to_owned)),
                    description_format: Set(description_format.map(str::to_owned)),
                    description_html: Set(description_html.map(str::to_owned)),
                    ..Default::default()
                })
                .filter(projects::Column::Id.eq(projectid.0)),
        )
        .await
        .ctx("updating a project")?;
        Ok(())
    }

    /// All projects, by id.
    pub async fn list_projects(&self) -> Result<Vec<ProjectRow>, DbError> {
        Ok(projects::Entity::find()
            .order_by_asc(projects::Column::Id)
            .all(&self.x())
            .await
            .ctx("listing projects")?
            .into_iter()
            .map(|p| ProjectRow {
                projectid: ProjectId(p.id),
                name: p.name,
                slug: p.slug,
                description: p.description,
                description_format: p.description_format,
                description_html: p.description_html,
            })
            .collect())
    }

    /// Find or create a codebase of a project (slug = name on creation). Returns its id.
    pub async fn find_or_create_codebase(
        &self,
        projectid: ProjectId,
        name: &str,
    ) -> Result<i64, DbError> {
        let hash = name_hash(name);
        let am = codebases::ActiveModel {
            projectid: Set(projectid.0),
            name: Set(name.to_owned()),
            name_hash: Set(hash.clone()),
            slug: Set(name.chars().take(50).collect()),
            ..Default::default()
        };
        let r = find_or_create!(
            &self.x(),
            "finding or creating a codebase",
            codebases::Entity,
            codebases::Column::Projectid
                .eq(projectid.0)
                .and(codebases::Column::NameHash.eq(hash)),
            am,
            id
        );
        Ok(r)
    }
}
