//! Pure path arithmetic in the worker's path flavour (§9.2): the master computes absolute
//! worker-side paths without touching its own file system.

use std::collections::BTreeMap;

/// How paths are spelled on a worker (`system` in its info: `"nt"` → Windows, anything
/// else → POSIX).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathFlavour {
    /// `/`-separated paths (Python's `PurePosixPath`).
    #[default]
    Posix,
    /// Drive letters and `\` separators (Python's `PureWindowsPath`).
    Windows,
}

impl PathFlavour {
    /// The flavour for a worker's `system` value.
    pub fn from_system(system: Option<&str>) -> PathFlavour {
        if system == Some("nt") {
            PathFlavour::Windows
        } else {
            PathFlavour::Posix
        }
    }

    fn is_sep(self, c: char) -> bool {
        match self {
            PathFlavour::Posix => c == '/',
            PathFlavour::Windows => c == '/' || c == '\\',
        }
    }

    /// Splits into (drive, rooted, parts) with `.` and empty segments removed.
    fn split(self, path: &str) -> (String, bool, Vec<String>) {
        let (drive, rest) = match self {
            PathFlavour::Windows => {
                let b = path.as_bytes();
                if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
                    (path[..2].to_string(), &path[2..])
                } else {
                    (String::new(), path)
                }
            }
            PathFlavour::Posix => (String::new(), path),
        };
        let rooted = rest.starts_with(|c| self.is_sep(c));
        let parts = rest
            .split(|c| self.is_sep(c))
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_string)
            .collect();
        (drive, rooted, parts)
    }

    fn render(self, drive: &str, rooted: bool, parts: &[String]) -> String {
        let sep = match self {
            PathFlavour::Posix => "/",
            PathFlavour::Windows => "\\",
        };
        let mut out = drive.to_string();
        if rooted {
            out.push_str(sep);
        }
        out.push_str(&parts.join(sep));
        if out.is_empty() {
            out.push('.');
        }
        out
    }

    /// Normalises a path like Python's pure paths: doubled separators and `.` segments
    /// removed, `..` kept.
    pub fn normalize(self, path: &str) -> String {
        let (drive, rooted, parts) = self.split(path);
        self.render(&drive, rooted, &parts)
    }

    /// `base / rel`: an absolute `rel` replaces `base` (on Windows a rooted `rel` without a
    /// drive keeps the drive of `base`); the result is normalised.
    pub fn join(self, base: &str, rel: &str) -> String {
        let (bdrive, brooted, mut bparts) = self.split(base);
        let (rdrive, rrooted, rparts) = self.split(rel);
        if !rdrive.is_empty() {
            if rrooted || !rdrive.eq_ignore_ascii_case(&bdrive) {
                return self.render(&rdrive, rrooted, &rparts);
            }
            bparts.extend(rparts);
            return self.render(&bdrive, brooted, &bparts);
        }
        if rrooted {
            return self.render(&bdrive, true, &rparts);
        }
        bparts.extend(rparts);
        self.render(&bdrive, brooted, &bparts)
    }

    /// Python's `expanduser` for a leading `~` (only the current user's home, taken from
    /// the worker's environment: `HOME`, on Windows `USERPROFILE` or
    /// `HOMEDRIVE`+`HOMEPATH`). Anything else is returned unchanged.
    pub fn expanduser(self, path: &str, environ: &BTreeMap<String, String>) -> String {
        let Some(rest) = path.strip_prefix('~') else {
            return path.to_string();
        };
        if !(rest.is_empty() || rest.starts_with(|c| self.is_sep(c))) {
            return path.to_string();
        }
        let home = match self {
            PathFlavour::Posix => environ.get("HOME").cloned(),
            PathFlavour::Windows => environ.get("USERPROFILE").cloned().or_else(|| {
                match (environ.get("HOMEDRIVE"), environ.get("HOMEPATH")) {
                    (Some(d), Some(p)) => Some(format!("{d}{p}")),
                    _ => None,
                }
            }),
        };
        match home {
            Some(h) => format!("{}{rest}", h.trim_end_matches(|c| self.is_sep(c))),
            None => path.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_join() {
        let p = PathFlavour::Posix;
        assert_eq!(p.join("/w", "main"), "/w/main");
        assert_eq!(p.join("/w/main", "./build//x/"), "/w/main/build/x");
        assert_eq!(p.join("/w/main", "/abs"), "/abs");
        assert_eq!(p.join("/w/main", "../x"), "/w/main/../x");
        assert_eq!(p.join("/w/main", ""), "/w/main");
    }

    #[test]
    fn windows_join() {
        let w = PathFlavour::Windows;
        assert_eq!(w.join("C:\\w", "main/build"), "C:\\w\\main\\build");
        assert_eq!(w.join("C:\\w", "D:\\x"), "D:\\x");
        assert_eq!(w.join("C:\\w", "\\x"), "C:\\x");
    }

    #[test]
    fn expanduser() {
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/home/bb/".to_string());
        let p = PathFlavour::Posix;
        assert_eq!(p.expanduser("~/x", &env), "/home/bb/x");
        assert_eq!(p.expanduser("~", &env), "/home/bb");
        assert_eq!(p.expanduser("~other/x", &env), "~other/x");
        assert_eq!(p.expanduser("a/~", &env), "a/~");
    }
}
