//! Following a growing log file, as `start` (while it waits for the daemon) and
//! `reconfig` (until the outcome) do.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Follows a growing log file from an offset, line by line. When the file is rotated
/// (renamed to `FILE.1`), the rest of the old file is read before the new one.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    offset: u64,
    ino: Option<u64>,
    partial: Vec<u8>,
}

impl LogFollower {
    /// Starts at the current end of `path`.
    pub fn at_end(path: &Path) -> Self {
        let meta = std::fs::metadata(path).ok();
        LogFollower {
            path: path.to_path_buf(),
            offset: meta.as_ref().map_or(0, |m| m.len()),
            ino: meta.map(|m| m.ino()),
            partial: Vec::new(),
        }
    }

    fn drain(&mut self, f: &mut File, out: &mut Vec<String>) {
        let len = f.metadata().map_or(0, |m| m.len());
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if let Ok(n) = f.read_to_end(&mut buf) {
            self.offset += n as u64;
            self.partial.extend_from_slice(&buf);
            while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=pos).collect();
                out.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
        }
    }

    /// The complete lines written since the last call.
    pub fn lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(mut f) = File::open(&self.path) else {
            return out;
        };
        let ino = f.metadata().ok().map(|m| m.ino());
        if ino != self.ino {
            // rotated: finish the old file (now FILE.1) first
            let mut rotated = self.path.clone().into_os_string();
            rotated.push(".1");
            if let Ok(mut old) = File::open(&rotated)
                && old.metadata().ok().map(|m| m.ino()) == self.ino
                && self.ino.is_some()
            {
                self.drain(&mut old, &mut out);
            }
            self.ino = ino;
            self.offset = 0;
            self.partial.clear();
        }
        self.drain(&mut f, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follower_yields_complete_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        std::fs::write(&path, "old line\n").unwrap();
        let mut f = LogFollower::at_end(&path);
        std::fs::write(&path, "old line\nnew one\nhalf").unwrap();
        assert_eq!(f.lines(), vec!["new one"]);
        std::fs::write(&path, "old line\nnew one\nhalf done\n").unwrap();
        assert_eq!(f.lines(), vec!["half done"]);
    }

    #[test]
    fn follower_reads_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("twistd.log");
        std::fs::write(&log, "old\n").unwrap();
        let mut f = LogFollower::at_end(&log);
        assert!(f.lines().is_empty());
        std::fs::write(&log, "old\nbeginning configuration update\npart").unwrap();
        assert_eq!(f.lines(), vec!["beginning configuration update"]);
        // the rest of the line lands in the old file, which is then rotated
        let mut old = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut old, b"ial\n").unwrap();
        std::fs::rename(&log, dir.path().join("twistd.log.1")).unwrap();
        std::fs::write(&log, "configuration update complete\n").unwrap();
        assert_eq!(f.lines(), vec!["partial", "configuration update complete"]);
    }
}
