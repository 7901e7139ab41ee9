//! The changes page: `/changes`, the latest changes and how the polling change sources
//! are doing (last poll, last error).

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
        let sources: Vec<Value> = req
            .state()
            .handle
            .change_source_status()
            .into_iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "type": s.type_name,
                    "last_poll": s.last_poll.map(fmt_time),
                    "last_changes": s.last_changes,
                    "error": s.error,
                })
            })
            .collect();
        Ok(page(
            &req,
            "changes.html",
            json!({"page": "changes", "changes": cs, "sources": sources}),
        ))
    }
    .await;
    done(r)
}
