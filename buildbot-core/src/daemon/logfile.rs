use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::DaemonError;

/// Default `rotate_length` (bytes), as Buildbot's `create-master`/`create-slave`.
pub const DEFAULT_ROTATE_LENGTH: u64 = 10_000_000;
/// Default `max_rotated_files`.
pub const DEFAULT_MAX_ROTATED_FILES: u32 = 10;

/// How a [`LogFile`] deals with growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// Rotate when the file would exceed `rotate_length` bytes: `twistd.log` becomes
    /// `twistd.log.1`, older files shift up, files beyond `max_rotated_files` are
    /// deleted (`None` keeps all).
    Size {
        /// Size at which the file is rotated.
        rotate_length: u64,
        /// How many rotated files to keep; `None`: all.
        max_rotated_files: Option<u32>,
    },
    /// No rotation of our own: the file is re-opened when it was moved or removed
    /// (so an external `logrotate` works without `copytruncate`).
    External,
}

impl Rotation {
    /// The rotation a `buildbot.tac` asks for: by size with `rotate_length`, or none of
    /// our own (external `logrotate`) without it.
    pub fn from_tac(rotate_length: Option<u64>, max_rotated_files: Option<u32>) -> Rotation {
        match rotate_length {
            Some(rotate_length) => Rotation::Size {
                rotate_length,
                max_rotated_files,
            },
            None => Rotation::External,
        }
    }
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation::Size {
            rotate_length: DEFAULT_ROTATE_LENGTH,
            max_rotated_files: Some(DEFAULT_MAX_ROTATED_FILES),
        }
    }
}

/// An append-only log file with size rotation or re-open-after-move.
///
/// Files are created with the process umask (0600 in a daemon with umask 077).
/// Each `write` call is treated as a whole record: rotation happens between
/// records, so a rotated file exceeds `rotate_length` only by a record that alone
/// is longer than it.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    rotation: Rotation,
    file: File,
    size: u64,
    ino: u64,
    /// After a failed rotation, the size at which to try again.
    retry_at: u64,
}

impl LogFile {
    /// Opens (appending) or creates the log file.
    pub fn open(path: &Path, rotation: Rotation) -> Result<Self, DaemonError> {
        let (file, size, ino) =
            open_append(path).map_err(|e| DaemonError::io("cannot open log file", path, e))?;
        Ok(LogFile {
            path: path.to_path_buf(),
            rotation,
            file,
            size,
            ino,
            retry_at: 0,
        })
    }

    /// Path of the live log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-opens the file by name (after an external rotation, e.g. on SIGUSR2).
    pub fn reopen(&mut self) -> io::Result<()> {
        let (file, size, ino) = open_append(&self.path)?;
        self.file = file;
        self.size = size;
        self.ino = ino;
        Ok(())
    }

    /// Rotates now: `.N-1` → `.N`, …, live file → `.1`, a fresh live file.
    pub fn rotate(&mut self) -> io::Result<()> {
        let max = match self.rotation {
            Rotation::Size {
                max_rotated_files, ..
            } => max_rotated_files,
            Rotation::External => None,
        };
        let rotated = |n: u32| {
            let mut s = self.path.clone().into_os_string();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        };
        let mut highest = 0;
        while rotated(highest + 1).exists() {
            highest += 1;
        }
        if let Some(max) = max {
            // delete what would end up beyond the limit
            while highest >= max && highest > 0 {
                fs::remove_file(rotated(highest))?;
                highest -= 1;
            }
        }
        for n in (1..=highest).rev() {
            fs::rename(rotated(n), rotated(n + 1))?;
        }
        if max == Some(0) {
            fs::remove_file(&self.path)?;
        } else {
            fs::rename(&self.path, rotated(1))?;
        }
        self.reopen()
    }

    fn before_write(&mut self, len: u64) {
        match self.rotation {
            Rotation::Size { rotate_length, .. } => {
                if rotate_length > 0
                    && self.size > 0
                    && self.size + len > rotate_length
                    && self.size >= self.retry_at
                {
                    if self.rotate().is_err() {
                        // not writable: keep logging to the current file, retry later
                        self.retry_at = self.size + rotate_length;
                    } else {
                        self.retry_at = 0;
                    }
                }
            }
            Rotation::External => {
                let moved = match fs::metadata(&self.path) {
                    Ok(m) => m.ino() != self.ino,
                    Err(_) => true,
                };
                if moved {
                    // if re-opening fails we keep writing to the old file
                    let _ = self.reopen();
                }
            }
        }
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta.len(), meta.ino()))
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.before_write(buf.len() as u64);
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Where log lines go.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogTarget {
    /// Only the log file (daemon).
    File(LogFile),
    /// The log file and a copy on stderr (`--nodaemon`).
    FileAndStderr(LogFile),
    /// Only stderr.
    Stderr,
}

impl LogTarget {
    /// Where a daemon logs: the file at `path` (opened with `rotation`), with a copy on
    /// stderr when it runs in the `foreground`; `None`: stderr only.
    pub fn open(
        path: Option<&Path>,
        rotation: Rotation,
        foreground: bool,
    ) -> Result<LogTarget, DaemonError> {
        let Some(path) = path else {
            return Ok(LogTarget::Stderr);
        };
        let file = LogFile::open(path, rotation)?;
        Ok(if foreground {
            LogTarget::FileAndStderr(file)
        } else {
            LogTarget::File(file)
        })
    }
}

/// A handle on the log file installed by [`init_logging`].
#[derive(Debug, Clone)]
pub struct LogHandle {
    file: Option<Arc<Mutex<LogFile>>>,
}

impl LogHandle {
    /// Re-opens the log file by name (SIGUSR2 after an external rotation).
    pub fn reopen(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.lock().unwrap_or_else(PoisonError::into_inner).reopen(),
            None => Ok(()),
        }
    }
}

struct Sink {
    file: Option<Arc<Mutex<LogFile>>>,
    stderr: bool,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
            f.write_all(buf)?;
            f.flush()?;
        }
        if self.stderr {
            let _ = io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The component tag of a log target: its last `::` segment.
pub fn log_component(target: &str) -> &str {
    target.rsplit("::").next().unwrap_or(target)
}

/// One log line in Twisted's layout:
/// `2024-05-01 12:00:00+0200 [component] message` (with a trailing newline).
pub fn format_log_line<Tz: chrono::TimeZone>(
    time: &chrono::DateTime<Tz>,
    component: &str,
    message: &str,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "{} [{}] {}\n",
        time.format("%Y-%m-%d %H:%M:%S%z"),
        component,
        message
    )
}

/// One log line stamped with the current local time (see [`format_log_line`]).
pub fn log_line_now(component: &str, message: &str) -> String {
    format_log_line(&chrono::Local::now(), component, message)
}

/// Installs the process-wide logger (`log` macros) writing Twisted-style lines to
/// `target`, flushing every line.
///
/// The filter is `RUST_LOG` if set, else `filter`, else `info` (env_logger syntax,
/// e.g. `"info,buildbot_core::slave=debug"`).
pub fn init_logging(target: LogTarget, filter: Option<&str>) -> Result<LogHandle, DaemonError> {
    let (file, stderr) = match target {
        LogTarget::File(f) => (Some(Arc::new(Mutex::new(f))), false),
        LogTarget::FileAndStderr(f) => (Some(Arc::new(Mutex::new(f))), true),
        LogTarget::Stderr => (None, true),
    };
    let handle = LogHandle { file: file.clone() };
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| filter.unwrap_or("info").to_owned());
    let mut builder = env_logger::Builder::new();
    builder
        .parse_filters(&spec)
        .format(|buf, record| {
            let line = log_line_now(log_component(record.target()), &record.args().to_string());
            buf.write_all(line.as_bytes())
        })
        .write_style(env_logger::WriteStyle::Never)
        .target(env_logger::Target::Pipe(Box::new(Sink { file, stderr })));
    builder
        .try_init()
        .map_err(|_| DaemonError::LoggingAlreadySet)?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rotated_files(dir: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .filter(|(n, _)| n.starts_with("twistd.log."))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rotation_respects_size_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        let mut log = LogFile::open(
            &path,
            Rotation::Size {
                rotate_length: 100,
                max_rotated_files: Some(3),
            },
        )
        .unwrap();
        for i in 0..100 {
            log.write_all(format!("line number {i:04}\n").as_bytes())
                .unwrap();
        }
        let rotated = rotated_files(dir.path());
        let names: Vec<&str> = rotated.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["twistd.log.1", "twistd.log.2", "twistd.log.3"]);
        assert!(rotated.iter().all(|(_, len)| *len <= 100), "{rotated:?}");
        assert!(fs::metadata(&path).unwrap().len() <= 100);
        // newest data in the live file, the one before in .1
        let live = fs::read_to_string(&path).unwrap();
        assert!(live.ends_with("line number 0099\n"));
        let one = fs::read_to_string(dir.path().join("twistd.log.1")).unwrap();
        let last_of_one: u32 = one.lines().last().unwrap()[12..].parse().unwrap();
        let first_live: u32 = live.lines().next().unwrap()[12..].parse().unwrap();
        assert_eq!(last_of_one + 1, first_live);
    }

    #[test]
    fn rotation_without_limit_keeps_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        let mut log = LogFile::open(
            &path,
            Rotation::Size {
                rotate_length: 52,
                max_rotated_files: None,
            },
        )
        .unwrap();
        for _ in 0..20 {
            log.write_all(b"0123456789012345678901234\n").unwrap(); // 26 bytes
        }
        // two lines per file: 20 lines = live + 9 rotated
        assert_eq!(rotated_files(dir.path()).len(), 9);
    }

    #[test]
    fn rotation_keeps_existing_file_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        fs::write(&path, "from before\n").unwrap();
        let mut log = LogFile::open(&path, Rotation::default()).unwrap();
        log.write_all(b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "from before\nnew\n");
    }

    #[test]
    fn rotation_skipped_when_not_possible() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        let mut log = LogFile::open(
            &path,
            Rotation::Size {
                rotate_length: 10,
                max_rotated_files: Some(2),
            },
        )
        .unwrap();
        log.write_all(b"first line\n").unwrap();
        // non-empty directories where the rotated files should go make rotation fail
        for n in ["twistd.log.1", "twistd.log.2"] {
            fs::create_dir(dir.path().join(n)).unwrap();
            fs::write(dir.path().join(n).join("x"), "x").unwrap();
        }
        log.write_all(b"second line\n").unwrap();
        log.write_all(b"third line\n").unwrap();
        let live = fs::read_to_string(&path).unwrap();
        assert!(live.contains("second line") && live.contains("third line"));
    }

    #[test]
    fn external_rotation_reopens_after_move_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        let mut log = LogFile::open(&path, Rotation::External).unwrap();
        log.write_all(b"one\n").unwrap();
        fs::rename(&path, dir.path().join("twistd.log.old")).unwrap();
        log.write_all(b"two\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("twistd.log.old")).unwrap(),
            "one\n"
        );
        fs::remove_file(&path).unwrap();
        log.write_all(b"three\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "three\n");
        // never rotates by size
        for _ in 0..1000 {
            log.write_all(b"0123456789\n").unwrap();
        }
        assert!(
            rotated_files(dir.path())
                .iter()
                .all(|(n, _)| n == "twistd.log.old")
        );
    }

    #[test]
    fn line_layout_is_twisteds() {
        let tz = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        let t = tz.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(
            format_log_line(&t, "worker", "connected"),
            "2024-05-01 12:00:00+0200 [worker] connected\n"
        );
        let tz = chrono::FixedOffset::west_opt(5 * 3600 + 1800).unwrap();
        let t = tz.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(
            format_log_line(&t, "-", "x"),
            "2024-12-31 23:59:59-0530 [-] x\n"
        );
        assert_eq!(log_component("buildbot_core::slave::conn"), "conn");
        assert_eq!(log_component("buildslave"), "buildslave");
    }

    #[test]
    fn file_mode_follows_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twistd.log");
        // umask is process-wide: compute the expected mode from the current one
        let mask = super::super::apply_umask(0o022);
        super::super::apply_umask(mask);
        let _log = LogFile::open(&path, Rotation::default()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !mask);
    }
}
