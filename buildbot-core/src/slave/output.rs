//! Output processing (§11): incremental decoding, line splitting, and buffering of
//! `update` entries.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::protocol::{Op, RpcPeer, TextChunk, UpdateEntry, WorkerSettings};

/// Seconds (as sent by the master: maybe negative, huge or NaN) to a duration, without
/// panicking.
pub(crate) fn secs(value: f64) -> Duration {
    if value.is_finite() && value > 0.0 {
        Duration::from_secs_f64(value.min(1e9))
    } else {
        Duration::ZERO
    }
}

/// Current Unix time as a float.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Text encodings the worker can decode output from and encode arguments to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    Latin1,
    Ascii,
}

impl Encoding {
    pub(crate) fn from_name(name: Option<&str>) -> Encoding {
        let Some(name) = name else {
            return Encoding::Utf8;
        };
        let n = name.to_ascii_lowercase().replace(['-', '_'], "");
        match n.as_str() {
            "utf8" | "" => Encoding::Utf8,
            "latin1" | "iso88591" | "l1" | "cp819" | "8859" => Encoding::Latin1,
            "ascii" | "usascii" | "646" => Encoding::Ascii,
            _ => {
                log::warn!("unsupported unicode_encoding {name:?}, using utf-8");
                Encoding::Utf8
            }
        }
    }

    /// Encodes text (command arguments, stdin) into bytes; unencodable characters become `?`.
    pub(crate) fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => s.as_bytes().to_vec(),
            Encoding::Latin1 => s
                .chars()
                .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
                .collect(),
            Encoding::Ascii => s
                .chars()
                .map(|c| if (c as u32) < 128 { c as u8 } else { b'?' })
                .collect(),
        }
    }
}

/// Incremental decoder with replacement characters for invalid input.
#[derive(Debug)]
pub(crate) struct Decoder {
    encoding: Encoding,
    /// An incomplete UTF-8 sequence at the end of the previous block (at most 3 bytes).
    pending: Vec<u8>,
}

impl Decoder {
    pub(crate) fn new(encoding: Encoding) -> Decoder {
        Decoder {
            encoding,
            pending: Vec::new(),
        }
    }

    pub(crate) fn decode(&mut self, bytes: &[u8]) -> String {
        let mut out = String::new();
        self.decode_into(bytes, &mut out);
        out
    }

    /// Decodes `bytes`, appending the text to `out` (no allocation when `out` has room).
    pub(crate) fn decode_into(&mut self, bytes: &[u8], out: &mut String) {
        match self.encoding {
            Encoding::Latin1 => out.extend(bytes.iter().map(|&b| b as char)),
            Encoding::Ascii => {
                out.extend(
                    bytes
                        .iter()
                        .map(|&b| if b < 128 { b as char } else { '\u{fffd}' }),
                );
            }
            Encoding::Utf8 => {
                if self.pending.is_empty() {
                    self.decode_utf8(bytes, out);
                } else {
                    // rare: a sequence was split between two reads
                    let mut joined = std::mem::take(&mut self.pending);
                    joined.extend_from_slice(bytes);
                    self.decode_utf8(&joined, out);
                }
            }
        }
    }

    fn decode_utf8(&mut self, mut rest: &[u8], out: &mut String) {
        out.reserve(rest.len());
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    return;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // the prefix is valid UTF-8 by construction
                    out.push_str(std::str::from_utf8(&rest[..valid]).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{fffd}');
                            rest = &rest[valid + n..];
                        }
                        None => {
                            self.pending.extend_from_slice(&rest[valid..]);
                            return;
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            self.pending.clear();
            "\u{fffd}".to_string()
        }
    }
}

/// `true` when `b` is a byte that may start a `newline_re` match other than `"\n"`
/// (`\r`, backspace, ESC). All are ASCII, so they never occur inside a multi-byte character.
#[inline]
fn is_special(b: u8) -> bool {
    b == b'\r' || b == 0x08 || b == 0x1b
}

/// Position of the first special byte (see [`is_special`]) at or after `from`.
fn find_special(bytes: &[u8], from: usize) -> Option<usize> {
    // blocks without early exit vectorise; only a block with a hit is searched byte-wise
    const BLOCK: usize = 256;
    let mut start = from;
    while start < bytes.len() {
        let end = (start + BLOCK).min(bytes.len());
        let block = &bytes[start..end];
        if block.iter().fold(false, |acc, &b| acc | is_special(b)) {
            return block.iter().position(|&b| is_special(b)).map(|p| start + p);
        }
        start = end;
    }
    None
}

/// Applies the default `newline_re` replacements by hand (§11.1 step 2); borrows the input
/// when there is nothing to replace (the common case).
pub(crate) fn replace_newlines(input: &str) -> Cow<'_, str> {
    let b = input.as_bytes();
    let Some(first) = find_special(b, 0) else {
        return Cow::Borrowed(input);
    };
    let mut out = String::with_capacity(input.len());
    let mut copied = 0; // bytes of `input` already handled
    let mut i = first;
    loop {
        out.push_str(&input[copied..i]);
        match b[i] {
            b'\r' => {
                if i + 1 < b.len() {
                    out.push('\n');
                    i += if b[i + 1] == b'\n' { 2 } else { 1 };
                } else {
                    out.push('\r');
                    i += 1;
                }
            }
            0x08 => {
                while i < b.len() && b[i] == 0x08 {
                    i += 1;
                }
                out.push('\n');
            }
            _ => {
                // ESC
                if let Some(len) = escape_len(&b[i..]) {
                    out.push('\n');
                    i += len;
                } else {
                    out.push('\u{1b}');
                    i += 1;
                }
            }
        }
        copied = i;
        match find_special(b, i) {
            Some(next) => i = next,
            None => {
                out.push_str(&input[copied..]);
                return Cow::Owned(out);
            }
        }
    }
}

/// Length of a newline-equivalent escape sequence at the start of `s` (which starts with ESC).
fn escape_len(s: &[u8]) -> Option<usize> {
    if s.get(1) != Some(&b'[') {
        return None;
    }
    if s.get(2) == Some(&b'u') {
        return Some(3);
    }
    // ESC [ digits ; digits (H|f)
    let mut j = 2;
    let start = j;
    while s.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    if j > start && s.get(j) == Some(&b';') {
        j += 1;
        let start2 = j;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > start2 && matches!(s.get(j), Some(b'H') | Some(b'f')) {
            return Some(j + 1);
        }
    }
    if s.get(2) == Some(&b'2') && s.get(3) == Some(&b'J') {
        return Some(4);
    }
    None
}

/// Number of characters of `s`, or `None` when it has more than `limit` (cheap for ASCII
/// and for short strings: the byte length bounds the character count).
fn chars_within(s: &str, limit: usize) -> Option<usize> {
    if s.len() <= limit {
        return Some(s.chars().count());
    }
    let n = s.chars().count();
    (n <= limit).then_some(n)
}

/// Splits one stream into whole lines (§11.1).
#[derive(Debug)]
pub(crate) struct LineSplitter {
    held: String,
    held_time: f64,
    max_line_length: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_line_length: usize) -> LineSplitter {
        LineSplitter {
            held: String::new(),
            held_time: 0.0,
            max_line_length: max_line_length.max(2),
        }
    }

    /// Adds text; returns the complete lines now available.
    pub(crate) fn push(&mut self, text: &str, now: f64) -> Option<TextChunk> {
        if text.is_empty() {
            return None;
        }
        let had_held = !self.held.is_empty();
        let first_time = if had_held { self.held_time } else { now };
        let combined: Cow<'_, str> = if had_held {
            let mut c = std::mem::take(&mut self.held);
            c.push_str(text);
            Cow::Owned(c)
        } else {
            Cow::Borrowed(text)
        };
        let replaced = replace_newlines(&combined);
        let (lines, rest) = match replaced.rfind('\n') {
            Some(pos) => (&replaced[..=pos], &replaced[pos + 1..]),
            None => ("", &*replaced),
        };
        let mut chunk = TextChunk::default();
        if !lines.is_empty() {
            self.emit_lines(&mut chunk, lines, first_time, now);
        }
        // over-long held text: emit full pieces, keep the remainder
        let piece = self.max_line_length - 1;
        let mut rest: &str = rest;
        let mut rest_time = if lines.is_empty() { first_time } else { now };
        while chars_within(rest, piece).is_none() {
            let cut = rest
                .char_indices()
                .nth(piece)
                .map_or(rest.len(), |(i, _)| i);
            // never split a trailing "\r" from what follows: it is resolved later
            push_line(&mut chunk, &rest[..cut], rest_time);
            rest = &rest[cut..];
            rest_time = now;
        }
        self.held.clear();
        self.held.push_str(rest);
        self.held_time = rest_time;
        (!chunk.text.is_empty()).then_some(chunk)
    }

    /// Emits `lines` (whole lines, each ending with `"\n"`): the first gets `first_time`,
    /// the others `now`; over-long lines are cut into pieces.
    fn emit_lines(&self, chunk: &mut TextChunk, lines: &str, first_time: f64, now: f64) {
        let piece = self.max_line_length - 1;
        let ascii = lines.is_ascii();
        let bytes = lines.as_bytes();
        let estimate = bytes.len() / 32 + 1;
        chunk.text.reserve(lines.len());
        chunk.newline_offsets.reserve(estimate);
        chunk.line_times.reserve(estimate);
        let mut base = chunk.newline_offsets.last().map_or(0, |&o| o as usize + 1);
        let mut copied = 0; // bytes of `lines` already appended to the chunk
        let mut start = 0;
        let mut t = first_time;
        while start < bytes.len() {
            let end = lines[start..].find('\n').map_or(bytes.len(), |p| start + p);
            let line = &lines[start..end];
            let n = if ascii {
                (line.len() <= piece).then_some(line.len())
            } else {
                chars_within(line, piece)
            };
            match n {
                Some(n) => {
                    base += n;
                    chunk.newline_offsets.push(base as u64);
                    chunk.line_times.push(t);
                    base += 1;
                }
                None => {
                    chunk.text.push_str(&lines[copied..start]);
                    let mut rest = line;
                    while !rest.is_empty() {
                        let cut = rest
                            .char_indices()
                            .nth(piece)
                            .map_or(rest.len(), |(i, _)| i);
                        push_line(chunk, &rest[..cut], t);
                        rest = &rest[cut..];
                    }
                    base = chunk.newline_offsets.last().map_or(0, |&o| o as usize + 1);
                    copied = end + 1;
                }
            }
            t = now;
            start = end + 1;
        }
        chunk.text.push_str(&lines[copied..]);
    }

    /// Flushes the held partial line with `"\n"` appended.
    pub(crate) fn flush(&mut self) -> Option<TextChunk> {
        if self.held.is_empty() {
            return None;
        }
        let t = self.held_time;
        let mut held = std::mem::take(&mut self.held);
        held.push('\n');
        let replaced = replace_newlines(&held);
        let mut chunk = TextChunk::default();
        self.emit_lines(&mut chunk, &replaced, t, t);
        (!chunk.text.is_empty()).then_some(chunk)
    }
}

fn push_line(chunk: &mut TextChunk, line: &str, t: f64) {
    let base = chunk.newline_offsets.last().map_or(0, |&o| o as usize + 1);
    let n = line.chars().count();
    chunk.text.push_str(line);
    chunk.text.push('\n');
    chunk.newline_offsets.push((base + n) as u64);
    chunk.line_times.push(t);
}

/// Number of characters of a chunk's text. Chunks made here hold whole lines, so it is the
/// offset of the last newline + 1 (no need to count).
fn chunk_chars(c: &TextChunk) -> usize {
    match c.newline_offsets.last() {
        Some(&last) if whole_lines(c) => {
            debug_assert_eq!(last as usize + 1, c.text.chars().count());
            last as usize + 1
        }
        _ => c.text.chars().count(),
    }
}

/// [`UpdateEntry::accounted_size`] without counting characters again.
fn accounted_size(entry: &UpdateEntry) -> usize {
    match entry {
        UpdateEntry::Stdout(c)
        | UpdateEntry::Stderr(c)
        | UpdateEntry::Header(c)
        | UpdateEntry::Log { chunk: c, .. } => {
            chunk_chars(c) + 8 * (c.newline_offsets.len() + c.line_times.len())
        }
        other => other.accounted_size(),
    }
}

/// Names of the text streams.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
    Header,
    Log(String),
}

impl Stream {
    fn name(&self) -> &str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::Header => "header",
            Stream::Log(n) => n,
        }
    }

    fn entry(&self, chunk: TextChunk) -> UpdateEntry {
        match self {
            Stream::Stdout => UpdateEntry::Stdout(chunk),
            Stream::Stderr => UpdateEntry::Stderr(chunk),
            Stream::Header => UpdateEntry::Header(chunk),
            Stream::Log(n) => UpdateEntry::Log {
                name: n.clone(),
                chunk,
            },
        }
    }
}

struct OutState {
    /// One splitter per stream (few: looked up linearly); flushing sorts them by name.
    splitters: Vec<(Stream, LineSplitter)>,
    buffer: Vec<UpdateEntry>,
    size: usize,
    timer_gen: u64,
    finished: bool,
}

/// Everything a running command sends to the master: its output goes through line
/// splitting and the update buffer; `complete` ends it.
pub(crate) struct CommandIo {
    peer: RpcPeer,
    command_id: String,
    settings: WorkerSettings,
    state: Mutex<OutState>,
}

impl CommandIo {
    pub(crate) fn new(peer: RpcPeer, command_id: String, settings: WorkerSettings) -> Arc<Self> {
        Arc::new(CommandIo {
            peer,
            command_id,
            settings,
            state: Mutex::new(OutState {
                splitters: Vec::new(),
                buffer: Vec::new(),
                size: 0,
                timer_gen: 0,
                finished: false,
            }),
        })
    }

    pub(crate) fn peer(&self) -> &RpcPeer {
        &self.peer
    }

    pub(crate) fn command_id(&self) -> &str {
        &self.command_id
    }

    fn state(&self) -> MutexGuard<'_, OutState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds text of one stream (it goes through the line splitter).
    pub(crate) fn text(self: &Arc<Self>, stream: Stream, text: &str) {
        if text.is_empty() {
            return;
        }
        let now = unix_now();
        let mut st = self.state();
        let max = self.settings.max_line_length as usize;
        let index = match st.splitters.iter().position(|(s, _)| *s == stream) {
            Some(i) => i,
            None => {
                st.splitters.push((stream.clone(), LineSplitter::new(max)));
                st.splitters.len() - 1
            }
        };
        let chunk = st.splitters[index].1.push(text, now);
        if let Some(chunk) = chunk {
            self.append(&mut st, stream.entry(chunk));
        }
    }

    /// Adds a header text.
    pub(crate) fn header(self: &Arc<Self>, text: &str) {
        self.text(Stream::Header, text);
    }

    /// Adds a non-text entry.
    pub(crate) fn entry(self: &Arc<Self>, entry: UpdateEntry) {
        let mut st = self.state();
        self.append(&mut st, entry);
    }

    fn append(self: &Arc<Self>, st: &mut OutState, entry: UpdateEntry) {
        let size = accounted_size(&entry);
        let limit = self.settings.buffer_size as usize;
        if st.size + size > limit {
            self.send_buffer(st);
            if size > limit {
                match entry {
                    UpdateEntry::Stdout(_)
                    | UpdateEntry::Stderr(_)
                    | UpdateEntry::Header(_)
                    | UpdateEntry::Log { .. } => {
                        for piece in split_entry(entry, limit) {
                            self.send_update(vec![piece]);
                        }
                    }
                    other => self.send_update(vec![other]),
                }
                return;
            }
        }
        let was_empty = st.buffer.is_empty();
        let merged = match (st.buffer.last_mut(), &entry) {
            (Some(UpdateEntry::Stdout(a)), UpdateEntry::Stdout(b))
            | (Some(UpdateEntry::Stderr(a)), UpdateEntry::Stderr(b))
            | (Some(UpdateEntry::Header(a)), UpdateEntry::Header(b)) => {
                merge_chunk(a, b);
                true
            }
            (
                Some(UpdateEntry::Log { name: na, chunk: a }),
                UpdateEntry::Log { name: nb, chunk: b },
            ) if na == nb => {
                merge_chunk(a, b);
                true
            }
            _ => false,
        };
        if !merged {
            st.buffer.push(entry);
        }
        st.size += size;
        if was_empty && !st.finished {
            st.timer_gen += 1;
            let generation = st.timer_gen;
            let me = Arc::clone(self);
            let delay = secs(self.settings.buffer_timeout.min(3600.0));
            async_std::task::spawn(async move {
                async_std::task::sleep(delay).await;
                let mut st = me.state();
                if st.timer_gen == generation && !st.buffer.is_empty() {
                    me.send_buffer(&mut st);
                }
            });
        }
    }

    fn send_buffer(&self, st: &mut OutState) {
        st.timer_gen += 1;
        if st.buffer.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut st.buffer);
        st.size = 0;
        self.send_update(entries);
    }

    fn send_update(&self, args: Vec<UpdateEntry>) {
        // Fire and forget: the response is registered and discarded.
        drop(self.peer.send(Op::Update {
            command_id: self.command_id.clone(),
            args,
        }));
    }

    /// Flushes held partial lines (in stream-name order) and sends the buffer now.
    pub(crate) fn flush_all(self: &Arc<Self>) {
        let mut st = self.state();
        let mut flushed = Vec::new();
        // in ascending order of the stream names (then streams), like the Python worker
        st.splitters
            .sort_by(|(a, _), (b, _)| (a.name(), a).cmp(&(b.name(), b)));
        for (stream, splitter) in st.splitters.iter_mut() {
            if let Some(chunk) = splitter.flush() {
                flushed.push(stream.entry(chunk));
            }
        }
        for e in flushed {
            self.append(&mut st, e);
        }
        self.send_buffer(&mut st);
    }

    /// Flushes everything and sends `complete`.
    pub(crate) fn complete(self: &Arc<Self>, failure: Option<String>) {
        self.flush_all();
        self.state().finished = true;
        let complete = self.peer.send(Op::Complete {
            command_id: self.command_id.clone(),
            failure,
        });
        let id = self.command_id.clone();
        async_std::task::spawn(async move {
            if let Err(e) = complete.await {
                log::info!("command {id}: sending complete failed: {e}");
            }
        });
    }
}

fn merge_chunk(a: &mut TextChunk, b: &TextChunk) {
    let shift = chunk_chars(a) as u64;
    a.text.push_str(&b.text);
    a.newline_offsets
        .extend(b.newline_offsets.iter().map(|o| o + shift));
    a.line_times.extend_from_slice(&b.line_times);
}

/// Splits an over-size text entry at line boundaries into pieces that fit `limit`.
fn split_entry(entry: UpdateEntry, limit: usize) -> Vec<UpdateEntry> {
    let (make, chunk): (Box<dyn Fn(TextChunk) -> UpdateEntry>, TextChunk) = match entry {
        UpdateEntry::Stdout(c) => (Box::new(UpdateEntry::Stdout), c),
        UpdateEntry::Stderr(c) => (Box::new(UpdateEntry::Stderr), c),
        UpdateEntry::Header(c) => (Box::new(UpdateEntry::Header), c),
        UpdateEntry::Log { name, chunk } => (
            Box::new(move |c| UpdateEntry::Log {
                name: name.clone(),
                chunk: c,
            }),
            chunk,
        ),
        other => return vec![other],
    };
    if !whole_lines(&chunk) {
        return split_lines_slow(&chunk, limit)
            .into_iter()
            .map(make)
            .collect();
    }
    let text = chunk.text.as_str();
    let offsets = &chunk.newline_offsets;
    let mut out = Vec::new();
    let mut emit = |from_byte: usize, to_byte: usize, from_line: usize, to_line: usize| {
        let shift = if from_line == 0 {
            0
        } else {
            offsets[from_line - 1] + 1
        };
        out.push(make(TextChunk {
            text: text[from_byte..to_byte].to_string(),
            newline_offsets: offsets[from_line..to_line]
                .iter()
                .map(|o| o - shift)
                .collect(),
            line_times: chunk.line_times[from_line..to_line].to_vec(),
        }));
    };
    let (mut piece_byte, mut piece_line, mut piece_size) = (0, 0, 0);
    let mut byte = 0;
    for i in 0..offsets.len() {
        // characters of line i, its "\n" included
        let chars = if i == 0 {
            offsets[0] + 1
        } else {
            offsets[i] - offsets[i - 1]
        } as usize;
        let n = chars + 16;
        if piece_size + n > limit && piece_line < i {
            emit(piece_byte, byte, piece_line, i);
            (piece_byte, piece_line, piece_size) = (byte, i, 0);
        }
        piece_size += n;
        byte += text[byte..].find('\n').map_or(text.len() - byte, |p| p + 1);
    }
    if piece_line < offsets.len() {
        emit(piece_byte, text.len(), piece_line, offsets.len());
    }
    out
}

/// `true` for chunks made by the splitter: whole lines, one offset and one time per line.
fn whole_lines(c: &TextChunk) -> bool {
    !c.newline_offsets.is_empty()
        && c.text.ends_with('\n')
        && c.newline_offsets.len() == c.line_times.len()
}

/// [`split_entry`] for any chunk: counts every line.
fn split_lines_slow(chunk: &TextChunk, limit: usize) -> Vec<TextChunk> {
    let mut out = Vec::new();
    let mut cur = TextChunk::default();
    let mut cur_size = 0;
    let mut lines = chunk.text.split_inclusive('\n');
    for t in &chunk.line_times {
        let Some(line) = lines.next() else { break };
        let n = line.chars().count() + 16;
        if cur_size + n > limit && !cur.text.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_size = 0;
        }
        push_line(&mut cur, line.strip_suffix('\n').unwrap_or(line), *t);
        cur_size += n;
    }
    if !cur.text.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr_handling() {
        let mut s = LineSplitter::new(4096);
        let c = s.push("a\r\nb\rc\r", 1.0).unwrap();
        assert_eq!(c.text, "a\nb\n");
        assert_eq!(c.newline_offsets, vec![1, 3]);
        let c = s.push("d\n", 2.0).unwrap();
        assert_eq!(c.text, "c\nd\n");
        assert_eq!(c.line_times, vec![1.0, 2.0]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            replace_newlines("\u{1b}[2Jclear\u{8}\u{8}bs\n"),
            "\nclear\nbs\n"
        );
        assert_eq!(replace_newlines("a\u{1b}[12;3Hb\u{1b}[uc"), "a\nb\nc");
        assert_eq!(replace_newlines("a\u{1b}[12;Hb"), "a\u{1b}[12;Hb");
    }

    #[test]
    fn long_lines_lose_nothing() {
        let mut s = LineSplitter::new(10);
        let line: String = "x".repeat(25);
        let c = s.push(&format!("{line}\n"), 1.0).unwrap();
        assert_eq!(c.text.replace('\n', ""), line);
        assert!(c.text.split('\n').all(|l| l.len() <= 9));
    }

    #[test]
    fn flush_partial() {
        let mut s = LineSplitter::new(4096);
        assert!(s.push("no-newline", 1.0).is_none());
        assert_eq!(s.flush().unwrap().text, "no-newline\n");
        let mut s = LineSplitter::new(4096);
        s.push("c\r", 1.0);
        assert_eq!(s.flush().unwrap().text, "c\n");
    }

    #[test]
    fn utf8_split_sequences() {
        let mut d = Decoder::new(Encoding::Utf8);
        let bytes = "é€".as_bytes();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&d.decode(&[*b]));
        }
        assert_eq!(out, "é€");
        assert_eq!(d.decode(b"a\xffb"), "a\u{fffd}b");
    }
}

/// The first (simple, slow) implementation, kept as the reference for the fast one.
#[cfg(test)]
#[allow(clippy::all)]
mod reference {
    use super::Encoding;
    use crate::protocol::{TextChunk, UpdateEntry};

    #[derive(Debug)]
    pub(super) struct Decoder {
        encoding: Encoding,
        pending: Vec<u8>,
    }

    impl Decoder {
        pub(super) fn new(encoding: Encoding) -> Decoder {
            Decoder {
                encoding,
                pending: Vec::new(),
            }
        }

        pub(super) fn decode(&mut self, bytes: &[u8]) -> String {
            match self.encoding {
                Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
                Encoding::Ascii => bytes
                    .iter()
                    .map(|&b| if b < 128 { b as char } else { '\u{fffd}' })
                    .collect(),
                Encoding::Utf8 => {
                    self.pending.extend_from_slice(bytes);
                    let mut out = String::with_capacity(self.pending.len());
                    let mut rest: &[u8] = &self.pending;
                    loop {
                        match std::str::from_utf8(rest) {
                            Ok(s) => {
                                out.push_str(s);
                                rest = &[];
                                break;
                            }
                            Err(e) => {
                                let valid = e.valid_up_to();
                                // SAFETY-free: the prefix is valid UTF-8 by construction.
                                out.push_str(
                                    std::str::from_utf8(&rest[..valid]).unwrap_or_default(),
                                );
                                match e.error_len() {
                                    Some(n) => {
                                        out.push('\u{fffd}');
                                        rest = &rest[valid + n..];
                                    }
                                    None => {
                                        rest = &rest[valid..];
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    self.pending = rest.to_vec();
                    out
                }
            }
        }

        pub(super) fn finish(&mut self) -> String {
            if self.pending.is_empty() {
                String::new()
            } else {
                self.pending.clear();
                "\u{fffd}".to_string()
            }
        }
    }

    pub(super) fn replace_newlines(input: &str) -> String {
        let chars: Vec<char> = input.chars().collect();
        let mut out = String::with_capacity(input.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\r' => {
                    if i + 1 < chars.len() {
                        out.push('\n');
                        i += if chars[i + 1] == '\n' { 2 } else { 1 };
                    } else {
                        out.push('\r');
                        i += 1;
                    }
                }
                '\u{8}' => {
                    while i < chars.len() && chars[i] == '\u{8}' {
                        i += 1;
                    }
                    out.push('\n');
                }
                '\u{1b}' => {
                    if let Some(len) = escape_len(&chars[i..]) {
                        out.push('\n');
                        i += len;
                    } else {
                        out.push(c);
                        i += 1;
                    }
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    /// Length of a newline-equivalent escape sequence at the start of `s` (which starts with ESC).
    pub(super) fn escape_len(s: &[char]) -> Option<usize> {
        if s.get(1) != Some(&'[') {
            return None;
        }
        if s.get(2) == Some(&'u') {
            return Some(3);
        }
        // ESC [ digits ; digits (H|f)
        let mut j = 2;
        let start = j;
        while s.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        if j > start && s.get(j) == Some(&';') {
            j += 1;
            let start2 = j;
            while s.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            if j > start2 && matches!(s.get(j), Some('H') | Some('f')) {
                return Some(j + 1);
            }
        }
        if s.get(2) == Some(&'2') && s.get(3) == Some(&'J') {
            return Some(4);
        }
        None
    }

    #[derive(Debug)]
    pub(super) struct LineSplitter {
        held: String,
        held_time: f64,
        max_line_length: usize,
    }

    impl LineSplitter {
        pub(super) fn new(max_line_length: usize) -> LineSplitter {
            LineSplitter {
                held: String::new(),
                held_time: 0.0,
                max_line_length: max_line_length.max(2),
            }
        }

        /// Adds text; returns the complete lines now available.
        pub(super) fn push(&mut self, text: &str, now: f64) -> Option<TextChunk> {
            if text.is_empty() {
                return None;
            }
            let had_held = !self.held.is_empty();
            let first_time = if had_held { self.held_time } else { now };
            let mut combined = std::mem::take(&mut self.held);
            combined.push_str(text);
            let replaced = replace_newlines(&combined);
            let (lines, rest) = match replaced.rfind('\n') {
                Some(pos) => (&replaced[..=pos], &replaced[pos + 1..]),
                None => ("", replaced.as_str()),
            };
            let mut chunk = TextChunk::default();
            let mut first = true;
            for line in lines.split_inclusive('\n') {
                let t = if first { first_time } else { now };
                first = false;
                self.emit_line(&mut chunk, &line[..line.len() - 1], t);
            }
            // over-long held text: emit full pieces, keep the remainder
            let piece = self.max_line_length - 1;
            let mut rest: &str = rest;
            let mut rest_time = if lines.is_empty() { first_time } else { now };
            while rest.chars().count() > piece {
                let cut = rest
                    .char_indices()
                    .nth(piece)
                    .map_or(rest.len(), |(i, _)| i);
                // never split a trailing "\r" from what follows: it is resolved later
                push_line(&mut chunk, &rest[..cut], rest_time);
                rest = &rest[cut..];
                rest_time = now;
            }
            self.held = rest.to_string();
            self.held_time = rest_time;
            (!chunk.text.is_empty()).then_some(chunk)
        }

        fn emit_line(&self, chunk: &mut TextChunk, line: &str, t: f64) {
            let piece = self.max_line_length - 1;
            if line.chars().count() <= piece {
                push_line(chunk, line, t);
                return;
            }
            let mut rest = line;
            while !rest.is_empty() {
                let cut = rest
                    .char_indices()
                    .nth(piece)
                    .map_or(rest.len(), |(i, _)| i);
                push_line(chunk, &rest[..cut], t);
                rest = &rest[cut..];
            }
        }

        /// Flushes the held partial line with `"\n"` appended.
        pub(super) fn flush(&mut self) -> Option<TextChunk> {
            if self.held.is_empty() {
                return None;
            }
            let t = self.held_time;
            let mut held = std::mem::take(&mut self.held);
            held.push('\n');
            let replaced = replace_newlines(&held);
            let mut chunk = TextChunk::default();
            for line in replaced.split_inclusive('\n') {
                self.emit_line(&mut chunk, line.strip_suffix('\n').unwrap_or(line), t);
            }
            (!chunk.text.is_empty()).then_some(chunk)
        }
    }

    pub(super) fn push_line(chunk: &mut TextChunk, line: &str, t: f64) {
        let base = chunk.newline_offsets.last().map_or(0, |&o| o as usize + 1);
        let n = line.chars().count();
        chunk.text.push_str(line);
        chunk.text.push('\n');
        chunk.newline_offsets.push((base + n) as u64);
        chunk.line_times.push(t);
    }

    pub(super) fn merge_chunk(a: &mut TextChunk, b: &TextChunk) {
        let shift = a.text.chars().count() as u64;
        a.text.push_str(&b.text);
        a.newline_offsets
            .extend(b.newline_offsets.iter().map(|o| o + shift));
        a.line_times.extend_from_slice(&b.line_times);
    }

    pub(super) fn split_entry(entry: UpdateEntry, limit: usize) -> Vec<UpdateEntry> {
        let (make, chunk): (Box<dyn Fn(TextChunk) -> UpdateEntry>, TextChunk) = match entry {
            UpdateEntry::Stdout(c) => (Box::new(UpdateEntry::Stdout), c),
            UpdateEntry::Stderr(c) => (Box::new(UpdateEntry::Stderr), c),
            UpdateEntry::Header(c) => (Box::new(UpdateEntry::Header), c),
            UpdateEntry::Log { name, chunk } => (
                Box::new(move |c| UpdateEntry::Log {
                    name: name.clone(),
                    chunk: c,
                }),
                chunk,
            ),
            other => return vec![other],
        };
        let mut out = Vec::new();
        let mut cur = TextChunk::default();
        let mut cur_size = 0;
        let mut lines = chunk.text.split_inclusive('\n');
        for t in &chunk.line_times {
            let Some(line) = lines.next() else { break };
            let n = line.chars().count() + 16;
            if cur_size + n > limit && !cur.text.is_empty() {
                out.push(make(std::mem::take(&mut cur)));
                cur_size = 0;
            }
            push_line(&mut cur, line.strip_suffix('\n').unwrap_or(line), *t);
            cur_size += n;
        }
        if !cur.text.is_empty() {
            out.push(make(cur));
        }
        out
    }
}

#[cfg(test)]
mod differential {
    use super::*;

    /// xorshift: deterministic pseudo-random input without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const PIECES: &[&str] = &[
        "a",
        "bc",
        "0123456789",
        "\n",
        "\r",
        "\r\n",
        "\u{8}",
        "\u{8}\u{8}",
        "\u{1b}",
        "\u{1b}[",
        "\u{1b}[u",
        "\u{1b}[2J",
        "\u{1b}[12;3H",
        "\u{1b}[1;f",
        "\u{1b}[;3H",
        "2",
        ";",
        "H",
        "é",
        "€",
        "😀",
        " ",
        "\n\n",
    ];

    fn random_text(rng: &mut Rng, max_pieces: usize) -> String {
        let n = rng.below(max_pieces + 1);
        let mut s = String::new();
        for _ in 0..n {
            if rng.below(20) == 0 {
                let len = rng.below(40);
                s.push_str(&"x".repeat(len));
            } else {
                s.push_str(PIECES[rng.below(PIECES.len())]);
            }
        }
        s
    }

    #[test]
    fn replace_newlines_matches_reference() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let s = random_text(&mut rng, 30);
            assert_eq!(
                replace_newlines(&s),
                reference::replace_newlines(&s),
                "{s:?}"
            );
        }
        let long = "abc\u{1b}[1;2H".repeat(200) + &"z".repeat(1000) + "\r";
        assert_eq!(replace_newlines(&long), reference::replace_newlines(&long));
    }

    #[test]
    fn splitter_matches_reference() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..3_000 {
            let max = [2, 3, 5, 10, 4096][rng.below(5)];
            let mut fast = LineSplitter::new(max);
            let mut slow = reference::LineSplitter::new(max);
            for step in 0..rng.below(8) {
                let s = random_text(&mut rng, 25);
                let now = (round * 10 + step) as f64;
                assert_eq!(fast.push(&s, now), slow.push(&s, now), "{s:?} max {max}");
            }
            assert_eq!(fast.flush(), slow.flush());
        }
    }

    #[test]
    fn decoder_matches_reference() {
        let mut rng = Rng(0x0bad_cafe_dead_beef);
        let sample = "aé€😀\n".as_bytes();
        for _ in 0..5_000 {
            let mut fast = Decoder::new(Encoding::Utf8);
            let mut slow = reference::Decoder::new(Encoding::Utf8);
            for _ in 0..rng.below(6) {
                let len = rng.below(12);
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        if rng.below(8) == 0 {
                            rng.next() as u8
                        } else {
                            sample[rng.below(sample.len())]
                        }
                    })
                    .collect();
                assert_eq!(fast.decode(&bytes), slow.decode(&bytes), "{bytes:?}");
            }
            assert_eq!(fast.finish(), slow.finish());
        }
    }

    #[test]
    fn merge_and_split_match_reference() {
        let mut rng = Rng(0x5151_5151_abab_abab);
        for _ in 0..2_000 {
            let mut splitter = LineSplitter::new(4096);
            let mut a = TextChunk::default();
            let mut b = TextChunk::default();
            for _ in 0..rng.below(6) {
                let s = random_text(&mut rng, 40);
                if let Some(c) = splitter.push(&s, 1.5) {
                    let mut a2 = a.clone();
                    merge_chunk(&mut a, &c);
                    reference::merge_chunk(&mut a2, &c);
                    assert_eq!(a, a2);
                    b = c;
                }
            }
            assert_eq!(
                accounted_size(&UpdateEntry::Stdout(a.clone())),
                UpdateEntry::Stdout(a.clone()).accounted_size()
            );
            for limit in [1, 20, 40, 100, 1000] {
                for chunk in [a.clone(), b.clone()] {
                    let fast = split_entry(UpdateEntry::Stderr(chunk.clone()), limit);
                    let slow = reference::split_entry(UpdateEntry::Stderr(chunk), limit);
                    assert_eq!(fast, slow);
                }
            }
        }
    }
}
