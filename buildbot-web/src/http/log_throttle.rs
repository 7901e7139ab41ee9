//! Log lines about clients: their text escaped and truncated, their number bounded.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most bytes of client-supplied text in a log line.
pub(crate) const MAX_LOGGED: usize = 200;
/// Log lines of one kind allowed per [`WINDOW`]; the rest are counted.
pub(crate) const LINES_PER_WINDOW: u32 = 10;
/// See [`LINES_PER_WINDOW`].
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// `raw` for a log line: at most [`MAX_LOGGED`] bytes, control characters (`\n`, ...) and
/// quotes escaped, `…` when cut.
pub(crate) fn excerpt(raw: &[u8]) -> String {
    let cut = raw.len() > MAX_LOGGED;
    let text = String::from_utf8_lossy(&raw[..raw.len().min(MAX_LOGGED)]);
    let mut out: String = text.escape_debug().collect();
    if cut {
        out.push('…');
    }
    out
}

/// ` (N similar lines suppressed)`, or nothing for 0.
pub(crate) fn suppressed_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar line(s) suppressed)")
    }
}

/// Allows [`LINES_PER_WINDOW`] log lines per [`WINDOW`].
#[derive(Debug)]
pub(crate) struct Throttle(Mutex<State>);

#[derive(Debug)]
struct State {
    window: Option<Instant>,
    lines: u32,
    suppressed: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

impl Throttle {
    /// A throttle that has allowed nothing yet.
    pub(crate) const fn new() -> Throttle {
        Throttle(Mutex::new(State {
            window: None,
            lines: 0,
            suppressed: 0,
        }))
    }

    /// `Some(lines suppressed since the last allowed one)` when a line may be logged now.
    pub(crate) fn allow(&self) -> Option<u64> {
        let mut s = buildbot_core::util::lock(&self.0);
        let now = Instant::now();
        if s.window.is_none_or(|w| now.duration_since(w) >= WINDOW) {
            s.window = Some(now);
            s.lines = 0;
        }
        if s.lines < LINES_PER_WINDOW {
            s.lines += 1;
            Some(std::mem::take(&mut s.suppressed))
        } else {
            s.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_is_escaped_and_cut() {
        assert_eq!(excerpt(b"GET /a\nb HTTP/1.1"), "GET /a\\nb HTTP/1.1");
        assert_eq!(excerpt(b"\x1b[31m\xff"), "\\u{1b}[31m\u{fffd}");
        let long = excerpt(&[b'a'; 1000]);
        assert_eq!(long.len(), MAX_LOGGED + '…'.len_utf8());
    }

    #[test]
    fn lines_are_throttled() {
        let t = Throttle::new();
        for _ in 0..LINES_PER_WINDOW {
            assert_eq!(t.allow(), Some(0));
        }
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
    }
}
