//! Master-side ends of file transfers: the writers that receive uploads (§10.2, §10.3) and
//! the reader that serves downloads (§10.4).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates a new, unique temporary file in `dir`.
fn temp_file(dir: &Path, stem: &str) -> io::Result<(PathBuf, File)> {
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            ".{stem}.buildbot-transfer-{}-{n}",
            std::process::id()
        ));
        match File::options().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_stem(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".to_string())
}

/// Writes at most `remaining` bytes of `data` (all of it when `None`).
fn write_limited(fp: &mut File, remaining: &mut Option<u64>, data: &[u8]) -> io::Result<()> {
    let data = match remaining {
        Some(r) => {
            let n = (*r).min(data.len() as u64) as usize;
            *r -= n as u64;
            &data[..n]
        }
        None => data,
    };
    fp.write_all(data)
}

/// Receives an uploaded file: blocks go to a temporary file next to the destination
/// (directories are created); `close` renames it over the destination and applies `mode`.
#[derive(Debug)]
pub(crate) struct FileWriter {
    dest: PathBuf,
    tmp: PathBuf,
    fp: Option<File>,
    remaining: Option<u64>,
    mode: Option<u32>,
}

impl FileWriter {
    pub(crate) fn new(dest: PathBuf, maxsize: Option<u64>, mode: Option<u32>) -> io::Result<Self> {
        let dir = parent_of(&dest);
        fs::create_dir_all(&dir)?;
        let (tmp, fp) = temp_file(&dir, &file_stem(&dest))?;
        Ok(FileWriter {
            dest,
            tmp,
            fp: Some(fp),
            remaining: maxsize,
            mode,
        })
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self.fp.as_mut() {
            Some(fp) => write_limited(fp, &mut self.remaining, data),
            None => Err(io::Error::other("the upload is already closed")),
        }
    }

    pub(crate) fn close(&mut self) -> io::Result<()> {
        let Some(fp) = self.fp.take() else {
            return Ok(());
        };
        fp.sync_all()?;
        drop(fp);
        fs::rename(&self.tmp, &self.dest)?;
        if let Some(mode) = self.mode {
            set_mode(&self.dest, mode)?;
        }
        Ok(())
    }

    /// Applies access and modification times (Unix seconds) to the destination.
    pub(crate) fn utime(&mut self, access_time: f64, modified_time: f64) -> io::Result<()> {
        let target = if self.fp.is_some() {
            &self.tmp
        } else {
            &self.dest
        };
        let to_time = |t: f64| {
            if t >= 0.0 {
                UNIX_EPOCH + Duration::from_secs_f64(t)
            } else {
                UNIX_EPOCH - Duration::from_secs_f64(-t)
            }
        };
        let times = fs::FileTimes::new()
            .set_accessed(to_time(access_time))
            .set_modified(to_time(modified_time));
        File::open(target)?.set_times(times)
    }

    /// Removes the temporary file of an upload that was never closed.
    pub(crate) fn cancel(&mut self) {
        if self.fp.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Compression of a directory-upload archive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Plain tar.
    #[default]
    None,
    /// gzip.
    Gz,
    /// bzip2.
    Bz2,
}

impl Compression {
    /// The wire value of the `compress` argument.
    pub fn wire_value(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gz => Some("gz"),
            Compression::Bz2 => Some("bz2"),
        }
    }
}

/// Receives a directory upload: the tar archive goes to a temporary file, `unpack` extracts
/// it safely into the destination directory.
#[derive(Debug)]
pub(crate) struct DirectoryWriter {
    dest: PathBuf,
    tmp: PathBuf,
    fp: Option<File>,
    remaining: Option<u64>,
    compress: Compression,
}

impl DirectoryWriter {
    pub(crate) fn new(
        dest: PathBuf,
        maxsize: Option<u64>,
        compress: Compression,
    ) -> io::Result<Self> {
        fs::create_dir_all(&dest)?;
        let (tmp, fp) = temp_file(&parent_of(&dest), &file_stem(&dest))?;
        Ok(DirectoryWriter {
            dest,
            tmp,
            fp: Some(fp),
            remaining: maxsize,
            compress,
        })
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self.fp.as_mut() {
            Some(fp) => write_limited(fp, &mut self.remaining, data),
            None => Err(io::Error::other("the upload is already unpacked")),
        }
    }

    pub(crate) fn unpack(&mut self) -> io::Result<()> {
        let Some(fp) = self.fp.take() else {
            return Err(io::Error::other("the upload is already unpacked"));
        };
        fp.sync_all()?;
        drop(fp);
        let result = extract_archive(&self.tmp, &self.dest, self.compress);
        let _ = fs::remove_file(&self.tmp);
        result
    }

    pub(crate) fn cancel(&mut self) {
        if self.fp.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A member path made relative and checked: no absolute paths, no `..`.
fn sanitize(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::other(format!(
                    "refusing archive member {}: absolute path or '..'",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

/// `true` when `target`, relative to the directory `link_dir` (both relative to the
/// extraction root), stays inside the root.
fn link_stays_inside(link_dir: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: Vec<&std::ffi::OsStr> = Vec::new();
    for c in link_dir.components().chain(target.components()) {
        match c {
            Component::Normal(p) => depth.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Extracts a (possibly compressed) tar archive into `dest` with the rules of Python's
/// "data" filter: no absolute paths, no `..`, no devices or FIFOs, links only inside `dest`.
/// The first unsafe member aborts the extraction with an error.
pub(crate) fn extract_archive(
    archive: &Path,
    dest: &Path,
    compress: Compression,
) -> io::Result<()> {
    let file = File::open(archive)?;
    let reader: Box<dyn Read> = match compress {
        Compression::None => Box::new(file),
        Compression::Gz => Box::new(flate2::read::GzDecoder::new(file)),
        Compression::Bz2 => Box::new(bzip2::read::BzDecoder::new(file)),
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(false);
    ar.set_overwrite(true);
    ar.set_unpack_xattrs(false);
    fs::create_dir_all(dest)?;
    for entry in ar.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        // Python names the archive's root member "" (the tar crate may show it as "/")
        if raw
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::CurDir))
        {
            continue;
        }
        let rel = sanitize(&raw)?;
        if rel.as_os_str().is_empty() {
            continue; // the archive's root directory (member named "")
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other(format!("link {} without target", rel.display())))?
                .into_owned();
            let base = if kind.is_symlink() {
                rel.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                PathBuf::new()
            };
            if !link_stays_inside(&base, &target) {
                return Err(io::Error::other(format!(
                    "refusing archive member {}: link to {} points outside the destination",
                    rel.display(),
                    target.display()
                )));
            }
        } else if !(kind.is_file() || kind.is_dir() || kind.is_contiguous()) {
            return Err(io::Error::other(format!(
                "refusing archive member {}: special file ({kind:?})",
                rel.display()
            )));
        }
        if !entry.unpack_in(dest)? {
            return Err(io::Error::other(format!(
                "refusing archive member {}: outside the destination",
                rel.display()
            )));
        }
    }
    Ok(())
}

/// Where a download's bytes come from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DownloadSource {
    /// A file on the master (FileDownload).
    File(PathBuf),
    /// Bytes in memory (StringDownload, JSON downloads).
    Bytes(Vec<u8>),
}

/// Serves `update_read_file` requests.
#[derive(Debug)]
pub(crate) enum Reader {
    File(Option<File>),
    Bytes { data: Vec<u8>, pos: usize },
}

impl Reader {
    pub(crate) fn open(source: DownloadSource) -> io::Result<Reader> {
        Ok(match source {
            DownloadSource::File(path) => Reader::File(Some(File::open(path)?)),
            DownloadSource::Bytes(data) => Reader::Bytes { data, pos: 0 },
        })
    }

    /// At most `length` bytes; empty at end of file.
    pub(crate) fn read(&mut self, length: u64) -> io::Result<Vec<u8>> {
        let length = length.min(64 << 20) as usize;
        match self {
            Reader::File(None) => Ok(Vec::new()),
            Reader::File(Some(f)) => {
                let mut buf = Vec::with_capacity(length.min(1 << 20));
                Read::by_ref(f).take(length as u64).read_to_end(&mut buf)?;
                Ok(buf)
            }
            Reader::Bytes { data, pos } => {
                let end = (*pos + length).min(data.len());
                let out = data[*pos..end].to_vec();
                *pos = end;
                Ok(out)
            }
        }
    }

    pub(crate) fn close(&mut self) {
        if let Reader::File(f) = self {
            *f = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_checks() {
        assert!(link_stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("a"), Path::new("../../c")));
        assert!(!link_stays_inside(Path::new(""), Path::new("/etc/passwd")));
        assert!(sanitize(Path::new("../x")).is_err());
        assert!(sanitize(Path::new("/x")).is_err());
        assert_eq!(sanitize(Path::new("./a/b")).unwrap(), PathBuf::from("a/b"));
    }
}
