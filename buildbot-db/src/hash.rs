//! Hashes, identifiers and slugs (`spec/data-model.md` §4.1, §4.4).

use sha1::{Digest, Sha1};

/// One argument of [`hash_columns`]: a string, an integer, or `None`.
#[derive(Clone, Copy, Debug)]
pub enum HashArg<'a> {
    /// A string, encoded as UTF-8.
    Str(&'a str),
    /// An integer, encoded as its decimal text.
    Int(i64),
    /// `None`, encoded as the single byte `0xF5`.
    None,
}

impl<'a> From<&'a str> for HashArg<'a> {
    fn from(s: &'a str) -> Self {
        HashArg::Str(s)
    }
}

impl<'a> From<Option<&'a str>> for HashArg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(HashArg::None, HashArg::Str)
    }
}

impl From<Option<i64>> for HashArg<'_> {
    fn from(s: Option<i64>) -> Self {
        s.map_or(HashArg::None, HashArg::Int)
    }
}

/// Buildbot's `hashColumns`: each argument encoded (UTF-8 / decimal / `0xF5` for None), joined
/// with a `0x00` byte, SHA-1, lowercase hex.
pub fn hash_columns(args: &[HashArg<'_>]) -> String {
    let mut h = Sha1::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        match a {
            HashArg::Str(s) => h.update(s.as_bytes()),
            HashArg::Int(n) => h.update(n.to_string().as_bytes()),
            HashArg::None => h.update([0xF5u8]),
        }
    }
    hex::encode(h.finalize())
}

/// `name_hash` of masters, builders, tags, projects, schedulers, change sources ...
pub fn name_hash(name: &str) -> String {
    hash_columns(&[HashArg::Str(name)])
}

/// `sourcestamps.ss_hash` = hash(branch, revision, repository, project, codebase, patchid).
pub fn ss_hash(
    branch: Option<&str>,
    revision: Option<&str>,
    repository: &str,
    project: &str,
    codebase: &str,
    patchid: Option<i64>,
) -> String {
    hash_columns(&[
        branch.into(),
        revision.into(),
        HashArg::Str(repository),
        HashArg::Str(project),
        HashArg::Str(codebase),
        patchid.into(),
    ])
}

/// Shorten a state-store name to `max` chars: first `keep` chars + sha1 hex of the full name
/// (§4.1: objects.name 128 → 64+40, object_state.name 255 → 127+40).
pub(crate) fn shorten(name: &str, max: usize, keep: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let mut h = Sha1::new();
    h.update(name.as_bytes());
    let prefix: String = name.chars().take(keep).collect();
    format!("{prefix}{}", hex::encode(h.finalize()))
}

fn ident_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '-' || (c as u32) >= 0xA0
}

fn ident_rest(c: char) -> bool {
    ident_first(c) || c.is_ascii_digit()
}

/// Is `s` a Buildbot identifier of at most `max` chars?
pub fn is_identifier(s: &str, max: usize) -> bool {
    let mut it = s.chars();
    match it.next() {
        None => false,
        Some(c) if !ident_first(c) => false,
        Some(_) => s.chars().count() <= max && it.all(ident_rest),
    }
}

/// Turn an arbitrary name into an identifier of at most `max` chars (`property changes` →
/// `property_changes`).
pub fn force_identifier(name: &str, max: usize) -> String {
    name.chars()
        .take(max)
        .enumerate()
        .map(|(i, c)| {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || c == '-' || (i > 0 && c.is_ascii_digit());
            if ok { c } else { '_' }
        })
        .collect()
}

/// Next identifier in the `name`, `name_2`, `name_3` ... sequence, fitting in `max` chars.
pub fn increment_identifier(ident: &str, max: usize) -> String {
    let (base, n) = match ident.rfind('_') {
        Some(pos)
            if pos + 1 < ident.len() && ident[pos + 1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            let n: u64 = ident[pos + 1..].parse().unwrap_or(1);
            (&ident[..pos], n)
        }
        _ => (ident, 1),
    };
    let suffix = format!("_{}", n + 1);
    let keep = max.saturating_sub(suffix.len());
    let base: String = base.chars().take(keep).collect();
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_matches_python() {
        assert_eq!(
            name_hash("force"),
            "fafec1e5ff94390c631054d24bd289e8951e151e"
        );
    }

    #[test]
    fn ss_hash_matches_python() {
        assert_eq!(
            ss_hash(Some(""), Some(""), "", "", "", None),
            "2a750737544472b7bec6ffdab6bbd3e2f44ff87d"
        );
        assert_eq!(
            ss_hash(
                Some("main"),
                Some("abc123def"),
                "https://example.invalid/repo.git",
                "demo",
                "",
                None
            ),
            "2e48754de12b275f2dafd32c8aaf535347bb7af1"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(force_identifier("property changes", 50), "property_changes");
        assert_eq!(force_identifier("err.text", 50), "err_text");
        assert_eq!(force_identifier("1abc", 50), "_abc");
        assert_eq!(force_identifier(&"x".repeat(80), 50).len(), 50);
        assert_eq!(increment_identifier("stdio", 50), "stdio_2");
        assert_eq!(increment_identifier("stdio_2", 50), "stdio_3");
        assert_eq!(
            increment_identifier(&"y".repeat(50), 50),
            format!("{}_2", "y".repeat(48))
        );
        assert!(is_identifier("w1", 50));
        assert!(!is_identifier("1w", 50));
        assert!(!is_identifier("a b", 50));
    }

    #[test]
    fn shorten_names() {
        let long = "n".repeat(300);
        let s = shorten(&long, 255, 127);
        assert_eq!(s.len(), 167);
        assert!(s.starts_with(&"n".repeat(127)));
        assert_eq!(shorten("short", 255, 127), "short");
    }
}
