//! Small helpers every part of the crate uses.

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

/// The most bytes of client-supplied text a log line shows.
pub const LOG_TEXT_MAX: usize = 300;

/// Client-supplied text (a worker name, a path, a payload) as it may appear in a log line:
/// control characters escaped — a line break cannot forge a log line — and at most
/// [`LOG_TEXT_MAX`] bytes of it shown, with how many more there were.
pub fn log_text(s: &str) -> LogText<'_> {
    LogText(s)
}

/// See [`log_text`].
#[derive(Clone, Copy, Debug)]
pub struct LogText<'a>(&'a str);

impl std::fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut end = self.0.len().min(LOG_TEXT_MAX);
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        for c in self.0[..end].chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_str(c.encode_utf8(&mut [0; 4]))?;
            }
        }
        if end < self.0.len() {
            write!(f, "…(+{} bytes)", self.0.len() - end)?;
        }
        Ok(())
    }
}

/// `v` formatted for a log line: formatting stops after [`LOG_TEXT_MAX`] bytes (a huge value
/// is never formatted whole, `…` marks the cut), control characters escaped.
pub fn log_preview(v: &dyn std::fmt::Display) -> String {
    struct Capped(String);
    impl std::fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = LOG_TEXT_MAX - self.0.len();
            let mut take = s.len().min(room);
            while !s.is_char_boundary(take) {
                take -= 1;
            }
            self.0.push_str(&s[..take]);
            if take < s.len() {
                Err(std::fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut out = Capped(String::new());
    let cut = std::fmt::write(&mut out, format_args!("{v}")).is_err();
    let mut shown = log_text(&out.0).to_string();
    if cut {
        shown.push('…');
    }
    shown
}

/// `fnmatch`-style match with `*` (any run of bytes, `/` included) and `?` (one byte), as
/// Python's `fnmatch.fnmatchcase` without `[...]` sets: origins (`allowed_origins`) and
/// file paths (`fileIsImportant`).
pub fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    // iterative, with one backtrack point: linear for any pattern a config can hold
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == b'?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_fnmatch() {
        let m = |p: &str, t: &str| fnmatch(p.as_bytes(), t.as_bytes());
        assert!(m("*", "http://evil.example"));
        assert!(m("*", ""));
        assert!(m("https://*.example.org", "https://ci.example.org"));
        assert!(!m("https://*.example.org", "https://example.org"));
        assert!(!m("https://*.example.org", "https://ci.example.org.evil"));
        assert!(m("http://h:80?0", "http://h:8010"));
        assert!(!m("http://h", "http://h:8010"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        // no exponential backtracking on hostile text
        let long = "a".repeat(10_000);
        assert!(!m("*a*a*a*a*a*a*b", &long));
    }

    #[test]
    fn log_text_escapes_and_truncates() {
        assert_eq!(log_text("w1\nINFO forged").to_string(), "w1\\nINFO forged");
        assert_eq!(
            log_text("tab\there\u{1b}[31m").to_string(),
            "tab\\there\\u{1b}[31m"
        );
        let long = "é".repeat(400);
        let shown = log_text(&long).to_string();
        assert!(shown.starts_with("éé"), "{shown}");
        assert!(shown.ends_with("…(+500 bytes)"), "{shown}");
        assert!(shown.len() < LOG_TEXT_MAX + 20);
    }

    #[test]
    fn log_preview_stops_formatting_early() {
        struct Endless;
        impl std::fmt::Display for Endless {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                for _ in 0..1_000_000_000u64 {
                    f.write_str("ab\n")?;
                }
                Ok(())
            }
        }
        let p = log_preview(&Endless);
        assert!(p.len() < LOG_TEXT_MAX * 2 + 10, "{}", p.len());
        assert!(p.starts_with("ab\\nab"), "{p}");
        assert_eq!(log_preview(&"short"), "short");
    }
}
