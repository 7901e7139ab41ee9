//! The base-directory jail: every path a command touches must resolve inside `basedir`.

use std::path::{Component, Path, PathBuf};

/// Resolves command paths and refuses those outside the worker's base directory.
#[derive(Clone, Debug)]
pub(crate) struct Jail {
    base_lexical: PathBuf,
    base_real: PathBuf,
}

/// Lexical normalisation: `.` removed, `..` applied, relative paths joined to `base`.
pub(crate) fn normalize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

impl Jail {
    pub(crate) fn new(basedir: &Path) -> Jail {
        let base_lexical = normalize(Path::new("/"), basedir);
        let base_real = std::fs::canonicalize(&base_lexical).unwrap_or(base_lexical.clone());
        Jail {
            base_lexical,
            base_real,
        }
    }

    /// The base directory as configured (normalised).
    pub(crate) fn base(&self) -> &Path {
        &self.base_lexical
    }

    /// Resolves symlinks of the longest existing prefix of `p` (which must be normalised).
    /// `None` when a component is a dangling symlink (it could point anywhere).
    fn resolve(&self, p: &Path) -> Option<PathBuf> {
        let comps: Vec<Component<'_>> = p.components().collect();
        for i in (0..=comps.len()).rev() {
            let prefix: PathBuf = comps[..i].iter().collect();
            if prefix.as_os_str().is_empty() {
                continue;
            }
            if let Ok(real) = std::fs::canonicalize(&prefix) {
                let mut out = real;
                for c in &comps[i..] {
                    out.push(c.as_os_str());
                    if std::fs::symlink_metadata(&out).is_ok() {
                        // exists as a link but does not resolve: dangling symlink
                        return None;
                    }
                }
                return Some(out);
            }
        }
        None
    }

    /// Checks `p`; returns the normalised path or an error text naming the path.
    /// `allow_base` permits the base directory itself.
    pub(crate) fn check(&self, p: &str, allow_base: bool) -> Result<PathBuf, String> {
        let norm = normalize(&self.base_lexical, Path::new(p));
        let refuse = || {
            format!(
                "refusing to touch {p}: it is outside the worker base directory {}",
                self.base_lexical.display()
            )
        };
        let Some(real) = self.resolve(&norm) else {
            return Err(refuse());
        };
        let inside = |base: &Path| real.starts_with(base) && (allow_base || real.as_path() != base);
        if inside(&self.base_real) || inside(&self.base_lexical) {
            Ok(norm)
        } else {
            Err(refuse())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical() {
        assert_eq!(
            normalize(Path::new("/b"), Path::new("/b/x/../../etc")),
            PathBuf::from("/etc")
        );
        assert_eq!(
            normalize(Path::new("/b"), Path::new("x/./y")),
            PathBuf::from("/b/x/y")
        );
    }

    #[test]
    fn jail() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        std::fs::create_dir(&base).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", base.join("dangling")).unwrap();
        let j = Jail::new(&base);
        let b = base.to_str().unwrap();
        assert!(j.check(&format!("{b}/a/b/c"), false).is_ok());
        assert!(j.check(&format!("{b}/../x"), false).is_err());
        assert!(j.check(&format!("{b}/link/passwd"), false).is_err());
        assert!(j.check(&format!("{b}/dangling"), false).is_err());
        assert!(j.check(b, false).is_err());
        assert!(j.check(b, true).is_ok());
        assert!(j.check("/tmp", true).is_err());
    }
}
