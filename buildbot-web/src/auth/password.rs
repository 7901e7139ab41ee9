//! Password checks: argon2 and bcrypt hashes, `{SHA}`, Buildbot's salted SHA-1 of the
//! `users` table, and plain passwords (Buildbot's own htpasswd file is plain text).

use std::collections::HashMap;

use base64::Engine;
use sha1::{Digest, Sha1};

/// Compares without an early exit.
pub(crate) fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_bcrypt(h: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| h.starts_with(p))
}

/// Checks `password` against a stored `hash` (argon2, bcrypt, `{SHA}`, else plain).
pub(crate) fn verify_hash(hash: &str, password: &str) -> bool {
    if hash.starts_with("$argon2") {
        use argon2::PasswordVerifier;
        return argon2::PasswordHash::new(hash).is_ok_and(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
    }
    if is_bcrypt(hash) {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    if let Some(b64) = hash.strip_prefix("{SHA}") {
        let digest = Sha1::digest(password.as_bytes());
        let want = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default();
        return constant_eq(&digest, &want);
    }
    constant_eq(hash.as_bytes(), password.as_bytes())
}

/// Buildbot's `users.check_passwd`: 16 hex salt characters, then hex sha1(password + salt).
pub(crate) fn verify_buildbot_sha1(stored: &str, password: &str) -> bool {
    buildbot_db::check_password(stored, password)
}

/// Parses `user:hash` lines (`#` comments and blank lines skipped); `file` names the file
/// in errors.
pub(crate) fn parse_htpasswd(text: &str, file: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let n = i + 1;
        let Some((user, hash)) = line.split_once(':') else {
            return Err(format!("{file}:{n}: expected user:hash"));
        };
        if user.is_empty() {
            return Err(format!("{file}:{n}: empty user name"));
        }
        if hash.starts_with("$argon2") {
            argon2::PasswordHash::new(hash)
                .map_err(|e| format!("{file}:{n}: bad argon2 hash for {user:?}: {e}"))?;
        } else if is_bcrypt(hash) {
            if hash.len() != 60 {
                return Err(format!("{file}:{n}: bad bcrypt hash for {user:?}"));
            }
        } else if hash.starts_with('$') {
            return Err(format!(
                "{file}:{n}: unsupported hash for {user:?} (use argon2 `$argon2id$...` or bcrypt `$2y$...`)"
            ));
        } else if !hash.starts_with("{SHA}") {
            log::warn!("{file}:{n}: password of {user:?} is stored in plain text");
        }
        out.insert(user.to_owned(), hash.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildbot_sha1_format() {
        // salt "0123456789abcdef", sha1("secret0123456789abcdef")
        let mut h = Sha1::new();
        h.update(b"secret0123456789abcdef");
        let stored = format!("0123456789abcdef{}", hex::encode(h.finalize()));
        assert!(verify_buildbot_sha1(&stored, "secret"));
        assert!(!verify_buildbot_sha1(&stored, "Secret"));
    }

    #[test]
    fn htpasswd_errors_name_the_line() {
        let e = parse_htpasswd("a:x\nbad\n", "pw").unwrap_err();
        assert_eq!(e, "pw:2: expected user:hash");
        let e = parse_htpasswd("a:$apr1$xyz\n", "pw").unwrap_err();
        assert!(e.starts_with("pw:1: unsupported hash"), "{e}");
    }
}
