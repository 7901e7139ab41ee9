//! `users`, `users_info`, and the `objects`/`object_state` key/value store (§8).

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::sea_query::ExprTrait as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::common::{find_or_create, py_json};
use crate::entities::{object_state, objects, users, users_info};
use crate::error::{Ctx, is_unique_violation};
use crate::hash::{increment_identifier, shorten};
use crate::{Db, DbError, ObjectId, UserId};

/// A user with its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserRow {
    /// Id.
    pub uid: UserId,
    /// Unique identifier (author string).
    pub identifier: String,
    /// Web login name.
    pub bb_username: Option<String>,
    /// Web password (hashed by the caller).
    pub bb_password: Option<String>,
    /// `attr_type → attr_data` (e.g. `git → "A <a@b>"`).
    pub attributes: BTreeMap<String, String>,
}

/// Buildbot's `users.encrypt` with a given salt: `salt` (16 hex characters in Buildbot)
/// followed by hex `sha1(password + salt)` — the form of `users.bb_password`.
pub fn hash_password(password: &str, salt: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(password.as_bytes());
    h.update(salt.as_bytes());
    format!("{salt}{}", hex::encode(h.finalize()))
}

/// Buildbot's `users.check_passwd`: whether `password` matches `stored` (16 hex salt
/// characters, then hex `sha1(password + salt)`); compared in constant time.
pub fn check_password(stored: &str, password: &str) -> bool {
    let Some(salt) = stored.get(..16) else {
        return false;
    };
    let guess = hash_password(password, salt);
    guess.len() == stored.len()
        && guess
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl Db {
    /// Python's `identifierToUid`: the uid of the user with this identifier.
    pub async fn identifier_to_uid(&self, identifier: &str) -> Result<Option<UserId>, DbError> {
        Ok(users::Entity::find()
            .filter(users::Column::Identifier.eq(identifier))
            .one(&self.x())
            .await
            .ctx("reading a user")?
            .map(|u| UserId(u.uid)))
    }

    /// Python's `findUserByAttr`: the user having `attr_type = attr_data`, else a new user
    /// with `identifier` (made unique with `_2`, `_3` ...) and that attribute.
    pub async fn find_user_by_attr(
        &self,
        identifier: &str,
        attr_type: &str,
        attr_data: &str,
    ) -> Result<UserId, DbError> {
        const OP: &str = "finding or creating a user";
        for _ in 0..10 {
            if let Some(r) = users_info::Entity::find()
                .filter(users_info::Column::AttrType.eq(attr_type))
                .filter(users_info::Column::AttrData.eq(attr_data))
                .one(&self.x())
                .await
                .ctx(OP)?
            {
                return Ok(UserId(r.uid));
            }
            let txn = self.write_txn(OP).await?;
            let mut ident = identifier.to_owned();
            let mut uid = None;
            for _ in 0..1000 {
                let taken = users::Entity::find()
                    .filter(users::Column::Identifier.eq(ident.clone()))
                    .one(&*txn)
                    .await
                    .ctx(OP)?;
                if taken.is_none() {
                    let r = users::Entity::insert(users::ActiveModel {
                        identifier: Set(ident.clone()),
                        ..Default::default()
                    })
                    .exec(&*txn)
                    .await
                    .ctx(OP)?;
                    uid = Some(r.last_insert_id);
                    break;
                }
                ident = increment_identifier(&ident, 255);
            }
            let Some(uid) = uid else {
                return Err(DbError::Conflict {
                    op: OP,
                    reason: format!("no free identifier for '{identifier}'"),
                });
            };
            let r = users_info::Entity::insert(users_info::ActiveModel {
                uid: Set(uid),
                attr_type: Set(attr_type.to_owned()),
                attr_data: Set(attr_data.to_owned()),
            })
            .exec_without_returning(&*txn)
            .await;
            match r {
                Ok(_) => {
                    txn.commit().await.ctx(OP)?;
                    return Ok(UserId(uid));
                }
                Err(e) if is_unique_violation(&e) => {
                    txn.rollback().await.ctx(OP)?;
                    continue;
                }
                Err(source) => return Err(DbError::Query { op: OP, source }),
            }
        }
        Err(DbError::Conflict {
            op: OP,
            reason: "kept conflicting".into(),
        })
    }

    /// One user.
    pub async fn get_user(&self, uid: UserId) -> Result<Option<UserRow>, DbError> {
        const OP: &str = "reading a user";
        let Some(u) = users::Entity::find_by_id(uid.0)
            .one(&self.x())
            .await
            .ctx(OP)?
        else {
            return Ok(None);
        };
        let attributes = users_info::Entity::find()
            .filter(users_info::Column::Uid.eq(uid.0))
            .all(&self.x())
            .await
            .ctx(OP)?
            .into_iter()
            .map(|a| (a.attr_type, a.attr_data))
            .collect();
        Ok(Some(UserRow {
            uid,
            identifier: u.identifier,
            bb_username: u.bb_username,
            bb_password: u.bb_password,
            attributes,
        }))
    }

    /// The user with web login `username`.
    pub async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRow>, DbError> {
        let u = users::Entity::find()
            .filter(users::Column::BbUsername.eq(username))
            .one(&self.x())
            .await
            .ctx("reading a user")?;
        match u {
            Some(u) => self.get_user(UserId(u.uid)).await,
            None => Ok(None),
        }
    }

    /// All users, by uid.
    pub async fn list_users(&self) -> Result<Vec<UserRow>, DbError> {
        let ids: Vec<i64> = users::Entity::find()
            .order_by_asc(users::Column::Uid)
            .all(&self.x())
            .await
            .ctx("listing users")?
            .into_iter()
            .map(|u| u.uid)
            .collect();
        let mut out = Vec::new();
        for id in ids {
            if let Some(u) = self.get_user(UserId(id)).await? {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Update a user: any of identifier, web credentials, and one attribute (upserted).
    pub async fn update_user(
        &self,
        uid: UserId,
        identifier: Option<&str>,
        bb_username: Option<&str>,
        bb_password: Option<&str>,
        attr: Option<(&str, &str)>,
    ) -> Result<(), DbError> {
        const OP: &str = "updating a user";
        let txn = self.write_txn(OP).await?;
        let mut am = users::ActiveModel {
            ..Default::default()
        };
        let mut any = false;
        if let Some(i) = identifier {
            am.identifier = Set(i.to_owned());
            any = true;
        }
        if let Some(u) = bb_username {
            am.bb_username = Set(Some(u.to_owned()));
            any = true;
        }
        if let Some(p) = bb_password {
            am.bb_password = Set(Some(p.to_owned()));
            any = true;
        }
        if any {
            users::Entity::update_many()
                .set(am)
                .filter(users::Column::Uid.eq(uid.0))
                .exec(&*txn)
                .await
                .ctx(OP)?;
        }
        if let Some((t, d)) = attr {
            let n = users_info::Entity::update_many()
                .col_expr(users_info::Column::AttrData, Expr::value(d.to_owned()))
                .filter(users_info::Column::Uid.eq(uid.0))
                .filter(users_info::Column::AttrType.eq(t))
                .exec(&*txn)
                .await
                .ctx(OP)?
                .rows_affected;
            if n == 0 {
                users_info::Entity::insert(users_info::ActiveModel {
                    uid: Set(uid.0),
                    attr_type: Set(t.to_owned()),
                    attr_data: Set(d.to_owned()),
                })
                .exec_without_returning(&*txn)
                .await
                .ctx(OP)?;
            }
        }
        txn.commit().await.ctx(OP)
    }

    /// Remove a user and its attributes (and its change links).
    pub async fn remove_user(&self, uid: UserId) -> Result<(), DbError> {
        const OP: &str = "removing a user";
        let txn = self.write_txn(OP).await?;
        users_info::Entity::delete_many()
            .filter(users_info::Column::Uid.eq(uid.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        crate::entities::change_users::Entity::delete_many()
            .filter(crate::entities::change_users::Column::Uid.eq(uid.0))
            .exec(&*txn)
            .await
            .ctx(OP)?;
        users::Entity::delete_by_id(uid.0)
            .exec(&*txn)
            .await
            .ctx(OP)?;
        txn.commit().await.ctx(OP)
    }

    /// Object id of the state-store owner `(name, class_name)` (names over 128 chars are
    /// shortened as Python does).
    pub async fn get_object_id(&self, name: &str, class_name: &str) -> Result<ObjectId, DbError> {
        let name = shorten(name, 128, 64);
        let class_name = shorten(class_name, 128, 64);
        let am = objects::ActiveModel {
            name: Set(name.clone()),
            class_name: Set(class_name.clone()),
            ..Default::default()
        };
        Ok(ObjectId(find_or_create!(
            &self.x(),
            "finding or creating a state object",
            objects::Entity,
            objects::Column::Name
                .eq(name)
                .and(objects::Column::ClassName.eq(class_name)),
            am,
            id
        )))
    }

    /// A stored state value, JSON-decoded.
    pub async fn get_state(
        &self,
        objectid: ObjectId,
        name: &str,
    ) -> Result<Option<serde_json::Value>, DbError> {
        let name = shorten(name, 255, 127);
        let r = object_state::Entity::find()
            .filter(object_state::Column::Objectid.eq(objectid.0))
            .filter(object_state::Column::Name.eq(name))
            .one(&self.x())
            .await
            .ctx("reading state")?;
        r.map(|r| {
            serde_json::from_str(&r.value_json).map_err(|source| DbError::Json {
                column: "object_state.value_json",
                source,
            })
        })
        .transpose()
    }

    /// Store a state value (update, else insert; on an insert race the other writer wins).
    pub async fn set_state(
        &self,
        objectid: ObjectId,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<(), DbError> {
        const OP: &str = "storing state";
        let name = shorten(name, 255, 127);
        let json = py_json(value);
        let n = self
            .write(
                &object_state::Entity::update_many()
                    .col_expr(object_state::Column::ValueJson, Expr::value(json.clone()))
                    .filter(object_state::Column::Objectid.eq(objectid.0))
                    .filter(object_state::Column::Name.eq(name.clone())),
            )
            .await
            .ctx(OP)?;
        if n == 0 {
            let r = self
                .write(&object_state::Entity::insert(object_state::ActiveModel {
                    objectid: Set(objectid.0),
                    name: Set(name),
                    value_json: Set(json),
                }))
                .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {}
                Err(source) => return Err(DbError::Query { op: OP, source }),
            }
        }
        Ok(())
    }

    /// Return the stored value, or store `value` and return it (on a race, the stored one).
    pub async fn atomic_create_state(
        &self,
        objectid: ObjectId,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<serde_json::Value, DbError> {
        if let Some(v) = self.get_state(objectid, name).await? {
            return Ok(v);
        }
        let short = shorten(name, 255, 127);
        let r = self
            .write(&object_state::Entity::insert(object_state::ActiveModel {
                objectid: Set(objectid.0),
                name: Set(short),
                value_json: Set(py_json(value)),
            }))
            .await;
        match r {
            Ok(_) => Ok(value.clone()),
            Err(e) if is_unique_violation(&e) => Ok(self
                .get_state(objectid, name)
                .await?
                .unwrap_or_else(|| value.clone())),
            Err(source) => Err(DbError::Query {
                op: "creating state",
                source,
            }),
        }
    }
}
