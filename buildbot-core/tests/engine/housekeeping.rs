//! Issue 14 item 1, options that now do what they say: `lazylogfiles` (logfiles opened at
//! the start of the command unless lazy), `warningPattern` (a regular expression matched
//! from the start of the line), `changeHorizon` (old changes pruned at start and hourly)
//! and `logCompressionLimit` (small chunks stored raw).

use buildbot_core::master::config::{Registry, parse_config};
use buildbot_db::{LogChunk, NewChange, Query};
use futures::StreamExt;

use crate::harness::*;

#[async_std::test]
async fn logfiles_warnings_change_horizon_and_compression_limit() {
    init_log();
    let text = format!(
        "changeHorizon = 3\nlogCompressionMethod = \"zstd\"\nlogCompressionLimit = 100000\n{ONE_BUILDER}{}",
        r#"steps = [
  { type = "ShellCommand", name = "eager", command = ["true"], logfiles = { out = "out.txt" } },
  { type = "ShellCommand", name = "lazy", command = ["true"], logfiles = { out = "out.txt" }, lazylogfiles = true },
  { type = "Compile", name = "warn", command = ["sh", "-c", "echo 'W123 odd'; echo 'see W9'; echo 'warning: x'"], warningPattern = "W[0-9]+" },
]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b"]
"#
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    // changes made before the master starts: the janitor prunes them at start
    let dir = tempfile::tempdir().unwrap();
    {
        let db = buildbot_db::Db::connect("sqlite:///state.sqlite", dir.path())
            .await
            .unwrap();
        db.upgrade().await.unwrap();
        for i in 0..5 {
            db.add_change(&NewChange::new("dev", &format!("change {i}")))
                .await
                .unwrap();
        }
        db.close().await.unwrap();
    }
    let m = TestMaster::start_in(cfg, dir.path(), "127.0.0.1:0").await;
    let kept = eventually("changeHorizon pruning", || async {
        let c = m.db().list_changes(&Query::new()).await.unwrap();
        (c.len() == 3).then_some(c)
    })
    .await;
    let comments: Vec<&str> = kept.iter().map(|c| c.comments.as_str()).collect();
    assert_eq!(
        comments,
        ["change 2", "change 3", "change 4"],
        "the newest are kept"
    );

    let _w = OwnWorker::start(m.worker_addr().port(), W1);
    eventually("worker", || async {
        (!m.connected_workers().is_empty()).then_some(())
    })
    .await;
    let brid = {
        let (_, ids) = m
            .force(
                "force",
                buildbot_core::master::ForceRequest::new("t", "housekeeping"),
            )
            .await
            .unwrap();
        ids[0]
    };
    let build = eventually("the build", || async {
        let b = m
            .db()
            .list_builds(&Query::new().eq("buildrequestid", brid.0))
            .await
            .unwrap();
        b.into_iter().find(|b| b.complete_at.is_some())
    })
    .await;
    // after Buildbot's worker_preparation step: eager, lazy, warn
    let steps: Vec<_> = steps(&m, &build)
        .await
        .into_iter()
        .filter(|s| s.name != "worker_preparation")
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    let logs_of = |i: usize| {
        let (db, stepid) = (m.db().clone(), steps[i].stepid);
        async move {
            db.list_logs(&Query::new().eq("stepid", stepid.0))
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(logs_of(0).await, ["stdio", "out"], "opened although empty");
    assert_eq!(
        logs_of(1).await,
        ["stdio"],
        "lazy: never written, never opened"
    );
    // the pattern is a regular expression matched from the start of the line
    assert_eq!(steps[2].results, Some(1), "warnings");
    let props = m.db().get_build_properties(build.buildid).await.unwrap();
    assert_eq!(props["warnings-count"].0, 1, "only 'W123 odd' matches");
    // chunks under logCompressionLimit are stored raw
    let stdio = m
        .db()
        .list_logs(&Query::new().eq("stepid", steps[2].stepid.0))
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.name == "stdio")
        .unwrap();
    let chunks: Vec<LogChunk> = m
        .db()
        .log_chunks(stdio.logid)
        .map(|c| c.unwrap())
        .collect()
        .await;
    assert!(!chunks.is_empty());
    // stored as is: the bytes kept are the text itself (each chunk without its last `\n`)
    let raw: usize = chunks.iter().map(|c| c.text.len() - 1).sum();
    let (_, stored) = m.db().log_chunk_stats(stdio.logid).await.unwrap();
    assert_eq!(stored as usize, raw, "{chunks:?}");
    m.stop().await.unwrap();
}
