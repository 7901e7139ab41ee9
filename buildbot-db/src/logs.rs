//! `logs` and `logchunks`: appending, reading line ranges, streaming, compaction, janitor
//! (§5.3, §5.4).

use futures::Stream;
use sea_orm::sea_query::{Expr, ExprTrait, Query as SqQuery};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::common::{BATCH, flag};
use crate::compress::decompress;
use crate::entities::{logchunks, logs, steps};
use crate::error::{Ctx, is_unique_violation};
use crate::hash::{force_identifier, increment_identifier};
use crate::query::{Field, Query, Ty, apply, col};
use crate::{Db, DbError, LogCompression, LogId, StepId};

/// Largest chunk (bytes of text) written by an append.
pub const MAX_CHUNK_SIZE: usize = 65536;
/// Largest line span merged by compaction.
pub const MAX_CHUNK_LINES: i64 = 1000;

/// Kind of log (`logs.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogType {
    /// `s`: stdio, each line prefixed by its stream (`h`, `o`, `e`).
    Stdio,
    /// `t`: plain text.
    Text,
    /// `h`: HTML.
    Html,
    /// `d`: deleted by the janitor.
    Deleted,
}

impl LogType {
    /// The stored letter.
    pub fn code(self) -> &'static str {
        match self {
            LogType::Stdio => "s",
            LogType::Text => "t",
            LogType::Html => "h",
            LogType::Deleted => "d",
        }
    }

    /// From the stored letter.
    pub fn from_code(s: &str) -> Option<LogType> {
        Some(match s {
            "s" => LogType::Stdio,
            "t" => LogType::Text,
            "h" => LogType::Html,
            "d" => LogType::Deleted,
            _ => return None,
        })
    }
}

/// A log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogRow {
    /// Id.
    pub logid: LogId,
    /// Display name.
    pub name: String,
    /// Identifier unique within the step.
    pub slug: String,
    /// Step.
    pub stepid: StepId,
    /// Finished.
    pub complete: bool,
    /// Lines stored.
    pub num_lines: i64,
    /// Stored type letter (`s`, `t`, `h`, `d`).
    pub log_type: String,
}

impl LogRow {
    /// The type, if known.
    pub fn kind(&self) -> Option<LogType> {
        LogType::from_code(&self.log_type)
    }
}

impl From<logs::Model> for LogRow {
    fn from(l: logs::Model) -> Self {
        LogRow {
            logid: LogId(l.id),
            name: l.name,
            slug: l.slug,
            stepid: StepId(l.stepid),
            complete: flag(l.complete),
            num_lines: l.num_lines,
            log_type: l.log_type,
        }
    }
}

/// A decompressed chunk: lines `first_line..=last_line`, each ending with `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogChunk {
    /// First line index.
    pub first_line: i64,
    /// Last line index.
    pub last_line: i64,
    /// The text, every line terminated by `\n`.
    pub text: String,
}

/// Prefix every line of `text` with a stream tag (`'o'` stdout, `'e'` stderr, `'h'` header)
/// as stored in stdio logs. `text` must consist of whole lines (end with `\n`).
pub fn stdio_lines(stream: char, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32 + 2);
    for line in text.split_inclusive('\n') {
        out.push(stream);
        out.push_str(line);
    }
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Python's `_splitBigChunk`: a prefix shorter than 64 KiB ending at a line boundary (the
/// splitting newline is dropped), or a truncated over-long line.
fn split_big_chunk(content: &[u8]) -> (&[u8], Option<&[u8]>) {
    if content.len() < MAX_CHUNK_SIZE {
        return (content, None);
    }
    if let Some(i) = memrchr(b'\n', &content[..MAX_CHUNK_SIZE]) {
        return (&content[..i], Some(&content[i + 1..]));
    }
    let mut end = MAX_CHUNK_SIZE;
    while end > 0 && std::str::from_utf8(&content[..end]).is_err() {
        end -= 1;
    }
    let rest = content[MAX_CHUNK_SIZE..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| &content[MAX_CHUNK_SIZE + i + 1..]);
    (&content[..end], rest)
}

fn memrchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().rposition(|&b| b == needle)
}

/// A chunk ready for insertion: number of lines, stored bytes, compression id.
struct Prepared {
    lines: i64,
    content: Vec<u8>,
    compressed: i16,
}

fn compress_chunk(
    (method, limit): (LogCompression, u64),
    logid: i64,
    raw: &[u8],
) -> Result<(Vec<u8>, i16), DbError> {
    if method == LogCompression::Raw || raw.len() as u64 <= limit {
        return Ok((raw.to_vec(), 0));
    }
    let z = method
        .compress(raw)
        .map_err(|source| DbError::Compression {
            logid,
            action: "compress",
            source,
        })?;
    Ok(if z.len() < raw.len() {
        (z, method.id())
    } else {
        (raw.to_vec(), 0)
    })
}

fn prepare(
    method: (LogCompression, u64),
    logid: i64,
    content: &[u8],
) -> Result<Vec<Prepared>, DbError> {
    // Strip the final newline: chunks never end with one.
    let mut rest = Some(content.strip_suffix(b"\n").unwrap_or(content));
    let mut out = Vec::new();
    while let Some(c) = rest {
        let (chunk, r) = split_big_chunk(c);
        rest = r;
        let lines = chunk.iter().filter(|&&b| b == b'\n').count() as i64 + 1;
        let (content, compressed) = compress_chunk(method, logid, chunk)?;
        out.push(Prepared {
            lines,
            content,
            compressed,
        });
    }
    Ok(out)
}

fn log_field(name: &str) -> Option<Field> {
    use logs::Column as C;
    let e = logs::Entity;
    Some(match name {
        "logid" => Field::Col(col(e, C::Id), Ty::Int),
        "name" => Field::Col(col(e, C::Name), Ty::Str),
        "slug" => Field::Col(col(e, C::Slug), Ty::Str),
        "stepid" => Field::Col(col(e, C::Stepid), Ty::Int),
        "complete" => Field::Col(col(e, C::Complete), Ty::Bool),
        "num_lines" => Field::Col(col(e, C::NumLines), Ty::Int),
        "type" => Field::Col(col(e, C::LogType), Ty::Str),
        _ => return None,
    })
}

fn chunk_text(logid: i64, compressed: i16, content: Option<&[u8]>) -> Result<String, DbError> {
    let raw = decompress(logid, compressed, content.unwrap_or_default())?;
    Ok(match String::from_utf8(raw) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

impl Db {
    /// Add a log to a step. The slug is derived from the name (§4.4) and made unique within
    /// the step (`_2`, `_3` ...).
    pub async fn add_log(
        &self,
        stepid: StepId,
        name: &str,
        log_type: LogType,
    ) -> Result<LogId, DbError> {
        const OP: &str = "adding a log";
        let mut slug = force_identifier(name, 50);
        if slug.is_empty() {
            slug = "_".into();
        }
        for _ in 0..1000 {
            let r = self
                .insert(logs::Entity::insert(logs::ActiveModel {
                    name: Set(name.to_owned()),
                    slug: Set(slug.clone()),
                    stepid: Set(stepid.0),
                    complete: Set(0),
                    num_lines: Set(0),
                    log_type: Set(log_type.code().to_owned()),
                    ..Default::default()
                }))
                .await;
            match r {
                Ok(id) => return Ok(LogId(id)),
                Err(e) if is_unique_violation(&e) => slug = increment_identifier(&slug, 50),
                Err(source) => return Err(DbError::Query { op: OP, source }),
            }
        }
        Err(DbError::Conflict {
            op: OP,
            reason: format!("no free slug for log '{name}'"),
        })
    }

    /// Append whole lines (`content` should end with `\n`; one is added if missing) to a
    /// log: split into chunks of < 64 KiB, compressed with [`Db::log_compression`], stored
    /// with `num_lines` updated, in one transaction. Returns the `(first, last)` line
    /// indexes written (`None` for empty content).
    pub async fn append_log(
        &self,
        logid: LogId,
        content: &str,
    ) -> Result<Option<(i64, i64)>, DbError> {
        const OP: &str = "appending to a log";
        if content.is_empty() {
            return Ok(None);
        }
        self.stats.add_log_bytes(content.len());
        let method = (self.log_compression(), self.log_compression_limit());
        let prepared = if content.len() > 256 * 1024 {
            let owned = content.as_bytes().to_vec();
            async_std::task::spawn_blocking(move || prepare(method, logid.0, &owned)).await?
        } else {
            prepare(method, logid.0, content.as_bytes())?
        };
        let total: i64 = prepared.iter().map(|p| p.lines).sum();
        if self.backend() == crate::Backend::Sqlite
            && let Some(r) = self.append_on_writer(logid, total, &prepared).await
        {
            return r;
        }
        let txn = self.write_txn(OP).await?;
        let backend = txn.get_database_backend();
        let first = match backend {
            DbBackend::Sqlite | DbBackend::Postgres => {
                let stmt = SqQuery::update()
                    .table(logs::Entity)
                    .value(
                        logs::Column::NumLines,
                        Expr::col(logs::Column::NumLines).add(total),
                    )
                    .and_where(Expr::col(logs::Column::Id).eq(logid.0))
                    .returning_col(logs::Column::NumLines)
                    .to_owned();
                let row = txn.query_one(&stmt).await.ctx(OP)?;
                let Some(row) = row else {
                    return Err(DbError::NotFound {
                        what: "log",
                        id: logid.0,
                    });
                };
                row.try_get_by_index::<i64>(0).ctx(OP)? - total
            }
            _ => {
                let n: Option<i64> = logs::Entity::find_by_id(logid.0)
                    .select_only()
                    .column(logs::Column::NumLines)
                    .lock_exclusive()
                    .into_tuple()
                    .one(&*txn)
                    .await
                    .ctx(OP)?;
                let Some(n) = n else {
                    return Err(DbError::NotFound {
                        what: "log",
                        id: logid.0,
                    });
                };
                logs::Entity::update_many()
                    .col_expr(logs::Column::NumLines, Expr::value(n + total))
                    .filter(logs::Column::Id.eq(logid.0))
                    .exec(&*txn)
                    .await
                    .ctx(OP)?;
                n
            }
        };
        let mut line = first;
        let mut rows = Vec::with_capacity(prepared.len());
        for p in prepared {
            rows.push(logchunks::ActiveModel {
                logid: Set(logid.0),
                first_line: Set(line),
                last_line: Set(line + p.lines - 1),
                content: Set(Some(p.content)),
                compressed: Set(p.compressed),
            });
            line += p.lines;
        }
        // A few rows per statement keeps statements well below packet limits.
        let mut it = rows.into_iter().peekable();
        while it.peek().is_some() {
            let batch: Vec<_> = it.by_ref().take(8).collect();
            logchunks::Entity::insert_many(batch)
                .exec_without_returning(&*txn)
                .await
                .ctx(OP)?;
        }
        txn.commit().await.ctx(OP)?;
        Ok(Some((first, first + total - 1)))
    }

    /// SQLite fast path on the writer connection (`writer.rs`): `BEGIN IMMEDIATE`, the
    /// `num_lines` update returning the new count, the chunk inserts, `COMMIT`, run in place
    /// with cached statements. `None`: no writer connection (in-memory SQLite).
    async fn append_on_writer(
        &self,
        logid: LogId,
        total: i64,
        prepared: &[Prepared],
    ) -> Option<Result<Option<(i64, i64)>, DbError>> {
        use rusqlite::OptionalExtension;
        const OP: &str = "appending to a log";
        let id = logid.0;
        let append = |c: &rusqlite::Connection| -> rusqlite::Result<Option<i64>> {
            let n: Option<i64> = c
                .prepare_cached(
                    "UPDATE logs SET num_lines=num_lines+?1 WHERE id=?2 RETURNING num_lines",
                )?
                .query_row(rusqlite::params![total, id], |r| r.get(0))
                .optional()?;
            let Some(n) = n else {
                return Ok(None);
            };
            let mut ins = c.prepare_cached(
                "INSERT INTO logchunks(logid,first_line,last_line,content,compressed) VALUES (?1,?2,?3,?4,?5)",
            )?;
            let mut line = n - total;
            for p in prepared {
                ins.execute(rusqlite::params![
                    id,
                    line,
                    line + p.lines - 1,
                    p.content,
                    p.compressed
                ])?;
                line += p.lines;
            }
            Ok(Some(n))
        };
        let mut w = self.writer().await;
        let r = crate::writer::run(
            &mut w,
            &self.stats,
            "log append (BEGIN IMMEDIATE;UPDATE logs …)",
            |c| {
                c.execute_batch("BEGIN IMMEDIATE")?;
                match append(c) {
                    Ok(n) => {
                        c.execute_batch(if n.is_some() { "COMMIT" } else { "ROLLBACK" })?;
                        Ok(n)
                    }
                    Err(e) => {
                        let _ = c.execute_batch("ROLLBACK");
                        Err(e)
                    }
                }
            },
        )
        .await?;
        w.after_write();
        Some(match r {
            Ok(Some(n)) => Ok(Some((n - total, n - 1))),
            Ok(None) => Err(DbError::NotFound { what: "log", id }),
            Err(source) => Err(DbError::Query { op: OP, source }),
        })
    }

    /// Mark a log finished.
    pub async fn finish_log(&self, logid: LogId) -> Result<(), DbError> {
        self.write(
            &logs::Entity::update_many()
                .col_expr(logs::Column::Complete, Expr::value(1i16))
                .filter(logs::Column::Id.eq(logid.0)),
        )
        .await
        .ctx("finishing a log")?;
        Ok(())
    }

    /// Compaction after finish (§5.4): merge consecutive chunks while the stored size stays
    /// ≤ 64 KiB and the group spans ≤ 1000 lines; each group is swapped in one transaction.
    /// Returns the number of chunk groups rewritten.
    pub async fn compress_log(&self, logid: LogId) -> Result<usize, DbError> {
        const OP: &str = "compacting a log";
        let rows: Vec<(i64, i64, Option<i64>)> = logchunks::Entity::find()
            .select_only()
            .column(logchunks::Column::FirstLine)
            .column(logchunks::Column::LastLine)
            .expr(Expr::cust(if self.db_backend() == DbBackend::Postgres {
                "CAST(LENGTH(content) AS BIGINT)"
            } else {
                "LENGTH(content)"
            }))
            .filter(logchunks::Column::Logid.eq(logid.0))
            .order_by_asc(logchunks::Column::FirstLine)
            .into_tuple()
            .all(&self.x())
            .await
            .ctx(OP)?;
        let mut groups = Vec::new();
        let (mut first, mut last, mut len, mut n) = (0i64, 0i64, 0usize, 0usize);
        for (fl, ll, l) in rows {
            let l = l.unwrap_or(0) as usize;
            if len + l > MAX_CHUNK_SIZE || ll - first > MAX_CHUNK_LINES {
                if n > 1 {
                    groups.push((first, last));
                }
                first = fl;
                len = 0;
                n = 0;
            }
            last = ll;
            len += l;
            n += 1;
        }
        if n > 1 {
            groups.push((first, last));
        }
        let method = (self.log_compression(), self.log_compression_limit());
        for (gf, gl) in &groups {
            let txn = self.write_txn(OP).await?;
            let chunks = logchunks::Entity::find()
                .filter(logchunks::Column::Logid.eq(logid.0))
                .filter(logchunks::Column::FirstLine.gte(*gf))
                .filter(logchunks::Column::LastLine.lte(*gl))
                .order_by_asc(logchunks::Column::FirstLine)
                .all(&*txn)
                .await
                .ctx(OP)?;
            let mut raw = Vec::new();
            for c in &chunks {
                if !raw.is_empty() {
                    raw.push(b'\n');
                }
                raw.extend(decompress(
                    logid.0,
                    c.compressed,
                    c.content.as_deref().unwrap_or_default(),
                )?);
            }
            let (content, compressed) = compress_chunk(method, logid.0, &raw)?;
            logchunks::Entity::delete_many()
                .filter(logchunks::Column::Logid.eq(logid.0))
                .filter(logchunks::Column::FirstLine.gte(*gf))
                .filter(logchunks::Column::LastLine.lte(*gl))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            logchunks::Entity::insert(logchunks::ActiveModel {
                logid: Set(logid.0),
                first_line: Set(*gf),
                last_line: Set(*gl),
                content: Set(Some(content)),
                compressed: Set(compressed),
            })
            .exec_without_returning(&*txn)
            .await
            .ctx(OP)?;
            txn.commit().await.ctx(OP)?;
        }
        Ok(groups.len())
    }

    /// Lines `first..=last` (0-based, inclusive) of a log, each terminated by `\n` (stdio
    /// logs keep their stream prefix). Only the chunks covering the range are read.
    pub async fn get_log_lines(
        &self,
        logid: LogId,
        first: i64,
        last: i64,
    ) -> Result<String, DbError> {
        const OP: &str = "reading log lines";
        let mut out = String::new();
        if last < first {
            return Ok(out);
        }
        let mut from = first;
        loop {
            let chunks = logchunks::Entity::find()
                .filter(logchunks::Column::Logid.eq(logid.0))
                .filter(logchunks::Column::FirstLine.lte(last))
                .filter(logchunks::Column::LastLine.gte(from))
                .order_by_asc(logchunks::Column::FirstLine)
                .limit(BATCH as u64)
                .all(&self.x())
                .await
                .ctx(OP)?;
            let n = chunks.len();
            for c in &chunks {
                let text = chunk_text(logid.0, c.compressed, c.content.as_deref())?;
                for (i, line) in text.split('\n').enumerate() {
                    let idx = c.first_line + i as i64;
                    if idx > last {
                        break;
                    }
                    if idx >= from {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                from = std::cmp::max(from, c.last_line + 1);
            }
            if n < BATCH || from > last {
                return Ok(out);
            }
        }
    }

    /// Every chunk of a log in order, decompressed, fetched a few at a time: a log of any
    /// size is never held in memory at once.
    pub fn log_chunks(
        &self,
        logid: LogId,
    ) -> impl Stream<Item = Result<LogChunk, DbError>> + Send + 'static {
        const PAGE: u64 = 16;
        let db = self.clone();
        let state = (
            db,
            0i64,
            std::collections::VecDeque::<LogChunk>::new(),
            false,
        );
        futures::stream::try_unfold(state, move |(db, next, mut buf, done)| async move {
            if let Some(c) = buf.pop_front() {
                return Ok(Some((c, (db, next, buf, done))));
            }
            if done {
                return Ok(None);
            }
            let rows = logchunks::Entity::find()
                .filter(logchunks::Column::Logid.eq(logid.0))
                .filter(logchunks::Column::FirstLine.gte(next))
                .order_by_asc(logchunks::Column::FirstLine)
                .limit(PAGE)
                .all(&db.conn)
                .await
                .ctx("streaming log chunks")?;
            let done = (rows.len() as u64) < PAGE;
            let mut next = next;
            for r in rows {
                let mut text = chunk_text(logid.0, r.compressed, r.content.as_deref())?;
                text.push('\n');
                next = r.last_line + 1;
                buf.push_back(LogChunk {
                    first_line: r.first_line,
                    last_line: r.last_line,
                    text,
                });
            }
            match buf.pop_front() {
                Some(c) => Ok(Some((c, (db, next, buf, done)))),
                None => Ok(None),
            }
        })
    }

    /// Storage statistics of a log: `(chunk rows, stored bytes)`.
    pub async fn log_chunk_stats(&self, logid: LogId) -> Result<(u64, u64), DbError> {
        let len = if self.db_backend() == DbBackend::Postgres {
            "CAST(SUM(LENGTH(content)) AS BIGINT)"
        } else {
            "SUM(LENGTH(content))"
        };
        let r: Option<(i64, Option<i64>)> = logchunks::Entity::find()
            .select_only()
            .expr(Expr::cust(if self.db_backend() == DbBackend::Postgres {
                "CAST(COUNT(*) AS BIGINT)"
            } else {
                "COUNT(*)"
            }))
            .expr(Expr::cust(len))
            .filter(logchunks::Column::Logid.eq(logid.0))
            .into_tuple()
            .one(&self.x())
            .await
            .ctx("reading log statistics")?;
        let (n, bytes) = r.unwrap_or((0, None));
        Ok((n as u64, bytes.unwrap_or(0) as u64))
    }

    /// One log.
    pub async fn get_log(&self, logid: LogId) -> Result<Option<LogRow>, DbError> {
        Ok(logs::Entity::find_by_id(logid.0)
            .one(&self.x())
            .await
            .ctx("reading a log")?
            .map(Into::into))
    }

    /// A log by step and slug.
    pub async fn get_log_by_slug(
        &self,
        stepid: StepId,
        slug: &str,
    ) -> Result<Option<LogRow>, DbError> {
        Ok(logs::Entity::find()
            .filter(logs::Column::Stepid.eq(stepid.0))
            .filter(logs::Column::Slug.eq(slug))
            .one(&self.x())
            .await
            .ctx("reading a log")?
            .map(Into::into))
    }

    /// Logs (REST fields of `logs`).
    pub async fn list_logs(&self, q: &Query) -> Result<Vec<LogRow>, DbError> {
        Ok(apply(
            logs::Entity::find(),
            q,
            "logs",
            log_field,
            col(logs::Entity, logs::Column::Id),
        )?
        .all(&self.x())
        .await
        .ctx("listing logs")?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    /// Log janitor: logs of steps started before `older_than` (epoch) lose their chunks and
    /// become type `d`. Returns the number of logs deleted.
    pub async fn delete_old_logs(&self, older_than: i64) -> Result<u64, DbError> {
        const OP: &str = "deleting old logs";
        let ids: Vec<i64> = logs::Entity::find()
            .select_only()
            .column(logs::Column::Id)
            .filter(logs::Column::LogType.ne("d"))
            .filter(
                logs::Column::Stepid.in_subquery(
                    SqQuery::select()
                        .column(steps::Column::Id)
                        .from(steps::Entity)
                        .and_where(Expr::col(steps::Column::StartedAt).lt(older_than))
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(&self.x())
            .await
            .ctx(OP)?;
        for chunk in ids.chunks(BATCH) {
            let txn = self.write_txn(OP).await?;
            logchunks::Entity::delete_many()
                .filter(logchunks::Column::Logid.is_in(chunk.to_vec()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            logs::Entity::update_many()
                .col_expr(logs::Column::LogType, Expr::value("d"))
                .filter(logs::Column::Id.is_in(chunk.to_vec()))
                .exec(&*txn)
                .await
                .ctx(OP)?;
            txn.commit().await.ctx(OP)?;
        }
        Ok(ids.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_python() {
        let small = b"a\nb";
        assert_eq!(split_big_chunk(small), (&small[..], None));
        let mut big = Vec::new();
        for _ in 0..1000 {
            big.extend_from_slice(&[b'x'; 99]);
            big.push(b'\n');
        }
        let (a, rest) = split_big_chunk(&big);
        assert!(a.len() < MAX_CHUNK_SIZE && !a.ends_with(b"\n"));
        assert_eq!(a.len() + 1 + rest.map_or(0, <[u8]>::len), big.len());
        let long = vec![b'y'; 70000];
        let (a, rest) = split_big_chunk(&long);
        assert_eq!(a.len(), MAX_CHUNK_SIZE);
        assert!(rest.is_none());
    }

    #[test]
    fn prepare_counts_lines() {
        let text: String = (0..3000)
            .map(|i| format!("line {i:05} {}\n", "z".repeat(40)))
            .collect();
        let p = prepare((LogCompression::Zstd, 0), 1, text.as_bytes()).expect("prepare");
        assert_eq!(p.iter().map(|c| c.lines).sum::<i64>(), 3000);
        assert!(p.len() >= 3);
        let tiny = prepare((LogCompression::Zstd, 0), 1, b"hi\n").expect("tiny");
        assert_eq!(
            tiny[0].compressed, 0,
            "incompressible chunks are stored raw"
        );
        assert_eq!(tiny[0].content, b"hi");
        // logCompressionLimit: chunks up to the limit stay raw, larger ones are compressed
        let small: String = (0..40).map(|i| format!("line {i:05} zzzz\n")).collect();
        assert!(small.len() < 4096);
        let zstd = LogCompression::Zstd;
        assert_ne!(
            prepare((zstd, 0), 1, small.as_bytes()).unwrap()[0].compressed,
            0
        );
        assert_eq!(
            prepare((zstd, 4096), 1, small.as_bytes()).unwrap()[0].compressed,
            0
        );
        assert_ne!(
            prepare((zstd, 4096), 1, text.as_bytes()).unwrap()[0].compressed,
            0
        );
    }

    #[test]
    fn stdio_prefix() {
        assert_eq!(stdio_lines('o', "a\nb\n"), "oa\nob\n");
        assert_eq!(stdio_lines('e', "x"), "ex\n");
    }
}
