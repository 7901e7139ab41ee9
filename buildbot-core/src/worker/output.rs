//! Output processing (§11): incremental decoding, line splitting, and buffering of
//! `update` entries.

use std::collections::BTreeMap;
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
                            out.push_str(std::str::from_utf8(&rest[..valid]).unwrap_or_default());
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

    pub(crate) fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            self.pending.clear();
            "\u{fffd}".to_string()
        }
    }
}

/// Applies the default `newline_re` replacements by hand (§11.1 step 2).
pub(crate) fn replace_newlines(input: &str) -> String {
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
fn escape_len(s: &[char]) -> Option<usize> {
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
    pub(crate) fn flush(&mut self) -> Option<TextChunk> {
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

fn push_line(chunk: &mut TextChunk, line: &str, t: f64) {
    let base = chunk.newline_offsets.last().map_or(0, |&o| o as usize + 1);
    let n = line.chars().count();
    chunk.text.push_str(line);
    chunk.text.push('\n');
    chunk.newline_offsets.push((base + n) as u64);
    chunk.line_times.push(t);
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
    /// Keyed by (stream name, stream) so that flushing goes in name order.
    splitters: BTreeMap<(String, Stream), LineSplitter>,
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
                splitters: BTreeMap::new(),
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
        let chunk = st
            .splitters
            .entry((stream.name().to_string(), stream.clone()))
            .or_insert_with(|| LineSplitter::new(max))
            .push(text, now);
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
        let size = entry.accounted_size();
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
        for ((_, stream), splitter) in st.splitters.iter_mut() {
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
    let shift = a.text.chars().count() as u64;
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
