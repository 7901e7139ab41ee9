//! The changes page: `/changes`, the latest changes.

use buildbot_db::Query;
use serde_json::{Value, json};

use super::context::fmt_time;
use super::respond::{OrPage, done, page};
use crate::state::Req;

pub(super) async fn changes(req: Req) -> tide::Result {
    let r = async {
        let db = req.state().handle.db();
        let rows = db
            .list_changes(&Query::new().order("changeid", true).limit(50))
            .await
            .or_page(&req)?;
        let cs: Vec<Value> = rows
            .iter()
            .map(|c| {
                let link = c
                    .revlink
                    .as_ref()
                    .filter(|l| l.starts_with("http://") || l.starts_with("https://"));
                json!({
                    "changeid": c.changeid.0,
                    "author": c.author,
                    "committer": c.committer,
                    "comments": c.comments,
                    "branch": c.branch,
                    "revision": c.revision,
                    "revlink": link,
                    "when": fmt_time(c.when_timestamp),
                    "repository": c.repository,
                    "project": c.project,
                    "category": c.category,
                    "files": c.files,
                })
            })
            .collect();
        Ok(page(
            &req,
            "changes.html",
            json!({"page": "changes", "changes": cs}),
        ))
    }
    .await;
    done(r)
}
