//! Log storage: appends, reads, compaction, streaming, janitor, the 50 MiB W3 log.

use buildbot_db::*;
use futures::StreamExt;

use crate::db_tests;
use crate::harness::{Ctx, Kind, w3_lines, world};

async fn append_and_read(ctx: Ctx) {
    let db = &ctx.db;
    let w = world(db).await;
    let log = db
        .add_log(w.step, "stdio", LogType::Stdio)
        .await
        .expect("log");
    db.add_log(w.step, "property changes", LogType::Text)
        .await
        .expect("second log");
    let l2 = db
        .add_log(w.step, "stdio", LogType::Text)
        .await
        .expect("dup name");
    assert_eq!(
        db.get_log(l2).await.expect("g").expect("row").slug,
        "stdio_2"
    );
    let pc = db
        .get_log_by_slug(w.step, "property_changes")
        .await
        .expect("g")
        .expect("row");
    assert_eq!(pc.log_type, "t");
    let mut text = stdio_lines('h', "sh -c 'echo hi'\n");
    text.push_str(&stdio_lines('o', "hi\n"));
    text.push_str(&stdio_lines('e', "warning: x\n"));
    assert_eq!(db.append_log(log, &text).await.expect("a"), Some((0, 2)));
    assert_eq!(
        db.append_log(log, "oone more\n").await.expect("a"),
        Some((3, 3))
    );
    assert_eq!(db.append_log(log, "").await.expect("empty"), None);
    let row = db.get_log(log).await.expect("g").expect("row");
    assert_eq!(row.num_lines, 4);
    assert!(!row.complete);
    assert_eq!(
        db.get_log_lines(log, 0, 3).await.expect("r"),
        format!("{text}oone more\n")
    );
    assert_eq!(
        db.get_log_lines(log, 1, 2).await.expect("r"),
        "ohi\newarning: x\n"
    );
    assert_eq!(
        db.get_log_lines(log, 3, 100).await.expect("r"),
        "oone more\n"
    );
    assert_eq!(db.get_log_lines(log, 10, 20).await.expect("r"), "");
    db.finish_log(log).await.expect("finish");
    assert_eq!(db.compress_log(log).await.expect("compact"), 1);
    assert_eq!(db.compress_log(log).await.expect("compact again"), 0);
    assert_eq!(
        db.get_log_lines(log, 0, 3).await.expect("r"),
        format!("{text}oone more\n")
    );
    let chunks: Vec<LogChunk> = db
        .log_chunks(log)
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    assert_eq!(chunks.len(), 1, "small logs end as one chunk");
    assert_eq!((chunks[0].first_line, chunks[0].last_line), (0, 3));
    assert!(db.get_log(log).await.expect("g").expect("row").complete);
    let logs = db
        .list_logs(&Query::new().eq("stepid", w.step))
        .await
        .expect("l");
    assert_eq!(logs.len(), 3);
    // Janitor.
    db.start_step(w.step, false).await.expect("start");
    assert_eq!(db.delete_old_logs(0).await.expect("none old"), 0);
    assert_eq!(db.delete_old_logs(i64::MAX / 2).await.expect("old"), 3);
    assert_eq!(
        db.get_log(log).await.expect("g").expect("row").log_type,
        "d"
    );
    assert_eq!(db.get_log_lines(log, 0, 3).await.expect("r"), "");
}

async fn every_compression_reads_back(ctx: Ctx) {
    let mut db = ctx.db.clone();
    let w = world(&db).await;
    for c in LogCompression::ALL {
        db.set_log_compression(c);
        let log = db
            .add_log(w.step, c.name(), LogType::Text)
            .await
            .expect("log");
        let text = w3_lines(0, 2000);
        for part in text.as_bytes().chunks(20_000) {
            db.append_log(log, std::str::from_utf8(part).expect("utf8"))
                .await
                .expect("append");
        }
        assert_eq!(
            db.get_log(log).await.expect("g").expect("r").num_lines,
            2000
        );
        assert_eq!(
            db.get_log_lines(log, 0, 1999).await.expect("read"),
            text,
            "{c}"
        );
        db.finish_log(log).await.expect("finish");
        db.compress_log(log).await.expect("compact");
        assert_eq!(
            db.get_log_lines(log, 0, 1999).await.expect("read"),
            text,
            "{c} after compaction"
        );
        assert_eq!(
            db.get_log_lines(log, 1500, 1500).await.expect("read"),
            w3_lines(1500, 1501)
        );
    }
}

async fn long_line_is_truncated(ctx: Ctx) {
    let db = &ctx.db;
    let w = world(db).await;
    let log = db
        .add_log(w.step, "long", LogType::Text)
        .await
        .expect("log");
    let long = format!("{}\nnext\n", "é".repeat(40_000));
    db.append_log(log, &long).await.expect("append");
    let r = db.get_log_lines(log, 0, 1).await.expect("read");
    let mut lines = r.lines();
    let first = lines.next().expect("first");
    assert!(first.len() <= MAX_CHUNK_SIZE && first.chars().all(|c| c == 'é'));
    assert_eq!(lines.next(), Some("next"));
}

/// The W3 stream appended in worker-sized updates, read back byte-identical.
async fn w3_log(ctx: Ctx) {
    let total_lines = match ctx.kind {
        Kind::Sqlite | Kind::Postgres => 524_288,
        // MariaDB: a quarter of it keeps the suite fast; same code path.
        Kind::MySql => 131_072,
    };
    let db = &ctx.db;
    let w = world(db).await;
    let log = db
        .add_log(w.step, "stdio", LogType::Stdio)
        .await
        .expect("log");
    let mut line = 0usize;
    let mut k = 0usize;
    while line < total_lines {
        let n = (80 + (k * 37) % 81).min(total_lines - line); // 8–16 KiB per update
        let text = w3_lines(line, line + n);
        let r = db.append_log(log, &text).await.expect("append");
        assert_eq!(r, Some((line as i64, (line + n - 1) as i64)));
        line += n;
        k += 1;
    }
    db.finish_log(log).await.expect("finish");
    let row = db.get_log(log).await.expect("g").expect("row");
    assert_eq!(row.num_lines, total_lines as i64);
    // Raw stream read: byte-identical, never the whole log in one piece.
    let mut stream = Box::pin(db.log_chunks(log));
    let mut next_line = 0usize;
    let mut max_chunk = 0usize;
    while let Some(c) = stream.next().await {
        let c = c.expect("chunk");
        assert_eq!(c.first_line as usize, next_line);
        let n = (c.last_line - c.first_line + 1) as usize;
        assert_eq!(c.text, w3_lines(next_line, next_line + n));
        max_chunk = max_chunk.max(c.text.len());
        next_line += n;
    }
    assert_eq!(next_line, total_lines);
    assert!(max_chunk <= MAX_CHUNK_SIZE);
    let last = total_lines as i64 - 1;
    assert_eq!(
        db.get_log_lines(log, 0, 0).await.expect("first"),
        w3_lines(0, 1)
    );
    assert_eq!(
        db.get_log_lines(log, last, last).await.expect("last"),
        w3_lines(total_lines - 1, total_lines)
    );
    // 655 lines of 100 bytes fit in a chunk: this range crosses several boundaries.
    assert_eq!(
        db.get_log_lines(log, 600, 2100).await.expect("range"),
        w3_lines(600, 2101)
    );
    assert_eq!(
        db.get_log_lines(log, 100_000, 100_050).await.expect("mid"),
        w3_lines(100_000, 100_051)
    );
    // Compaction keeps the content.
    db.compress_log(log).await.expect("compact");
    assert_eq!(
        db.get_log_lines(log, 600, 2100).await.expect("range"),
        w3_lines(600, 2101)
    );
}

db_tests! {
    append_read => append_and_read,
    compressions => every_compression_reads_back,
    long_line => long_line_is_truncated,
    w3_50mib => w3_log,
}
