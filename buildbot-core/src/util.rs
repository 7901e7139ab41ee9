//! Small helpers every part of the crate (and the web server) uses.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, going on with the data when a panicking thread poisoned it (every lock here
/// guards plain bookkeeping that stays consistent between statements).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Seconds since the Unix epoch (0 if the clock is before it), as Buildbot stores times.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Most bytes of one client-supplied field that [`log_text`] writes.
pub const LOG_TEXT_MAX: usize = 256;

/// Client-supplied text (a path, an `Origin`, a name) as it may appear in a log line: control
/// characters, quotes and backslashes escaped as Rust escapes them (`\n`, `\u{1b}`), so it
/// can neither start a new line nor pass for other text, and cut after [`LOG_TEXT_MAX`] bytes
/// with `...(N bytes)` giving the full length.
///
/// ```
/// use buildbot_core::util::log_text;
///
/// assert_eq!(log_text("a\nb").to_string(), "a\\nb");
/// assert!(log_text(&"x".repeat(10_000)).to_string().ends_with("...(10000 bytes)"));
/// ```
pub fn log_text(s: &str) -> LogText<'_> {
    LogText(s)
}

/// What [`log_text`] returns: displays the escaped, truncated text.
#[derive(Clone, Copy, Debug)]
pub struct LogText<'a>(&'a str);

impl std::fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        let mut written = 0;
        for c in self.0.chars() {
            let esc = c.escape_debug();
            let len: usize = esc.clone().map(char::len_utf8).sum();
            if written + len > LOG_TEXT_MAX {
                return write!(f, "...({} bytes)", self.0.len());
            }
            for e in esc {
                f.write_char(e)?;
            }
            written += len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_escapes_and_truncates() {
        assert_eq!(log_text("plain/path/*").to_string(), "plain/path/*");
        assert_eq!(
            log_text("a\r\nINFO forged\u{1b}[31m").to_string(),
            "a\\r\\nINFO forged\\u{1b}[31m"
        );
        let long = "\n".repeat(1000);
        let out = log_text(&long).to_string();
        assert!(!out.contains('\n'));
        assert!(out.len() <= LOG_TEXT_MAX + 20, "{}", out.len());
        assert!(out.ends_with("...(1000 bytes)"), "{out}");
        // never cuts inside a character
        let wide = "é".repeat(500);
        assert!(log_text(&wide).to_string().starts_with("éé"));
    }
}
