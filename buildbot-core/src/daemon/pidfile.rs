use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::DaemonError;

/// Name of the pid file inside a base directory (as `twistd` named it).
pub const PID_FILE_NAME: &str = "twistd.pid";

/// What a pid file says about the daemon of a base directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PidStatus {
    /// No pid file.
    Absent,
    /// The pid file names a live process that is this program for this basedir.
    Running(u32),
    /// The pid file names a dead process, a process that is not ours (pid reused),
    /// or holds no valid pid (`None`).
    Stale(Option<u32>),
}

/// `BASEDIR/twistd.pid`: the pid of the running daemon followed by a newline.
///
/// Liveness is checked with `kill(pid, 0)`; ownership with `/proc/<pid>` where it
/// exists: the process must mention `program` (or the name the current binary runs
/// under) in its command line or executable, and run in (or name on its command
/// line) this basedir. A live process that is not ours makes
/// the file stale, so a reboot that recycled the pid never blocks a start.
#[derive(Debug, Clone)]
pub struct PidFile {
    path: PathBuf,
    basedir: PathBuf,
    program: String,
}

impl PidFile {
    /// The pid file of `basedir` for the program named `program` (e.g. `"buildslave"`).
    pub fn new(basedir: &Path, program: &str) -> Self {
        PidFile {
            path: basedir.join(PID_FILE_NAME),
            basedir: basedir.to_path_buf(),
            program: program.to_owned(),
        }
    }

    /// Path of the pid file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pid recorded in the file: `Ok(None)` when there is no file,
    /// `Ok(Some(None))` when it holds no valid pid.
    pub fn read(&self) -> Result<Option<Option<u32>>, DaemonError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(text.trim().parse::<u32>().ok().filter(|p| *p > 0))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DaemonError::io("cannot read", &self.path, e)),
        }
    }

    /// Checks the file against the running processes.
    pub fn status(&self) -> Result<PidStatus, DaemonError> {
        Ok(match self.read()? {
            None => PidStatus::Absent,
            Some(None) => PidStatus::Stale(None),
            Some(Some(pid)) if self.is_ours(pid) => PidStatus::Running(pid),
            Some(Some(pid)) => PidStatus::Stale(Some(pid)),
        })
    }

    /// Whether `pid` is alive and is this program for this basedir.
    pub fn is_ours(&self, pid: u32) -> bool {
        if !process_exists(pid) {
            return false;
        }
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        if !Path::new("/proc/self").exists() {
            // no procfs (macOS, BSD): liveness is all we can check
            return true;
        }
        let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
            return false;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        // the program's name, or the name this very binary runs under (it may have
        // been copied or renamed, e.g. `~/bin/bs`)
        let mut names = vec![self.program.clone()];
        if let Some(own) = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        {
            names.push(own);
        }
        let exe = fs::read_link(proc_dir.join("exe")).ok();
        let mentions_program = args
            .iter()
            .map(PathBuf::from)
            .chain(exe)
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .any(|n| {
                names
                    .iter()
                    .any(|want| !want.is_empty() && n.contains(want.as_str()))
            });
        if !mentions_program {
            return false;
        }
        let basedir = canonical(&self.basedir);
        if let Ok(cwd) = fs::read_link(proc_dir.join("cwd"))
            && canonical(&cwd) == basedir
        {
            return true;
        }
        args.iter()
            .skip(1)
            .any(|a| !a.starts_with('-') && canonical(Path::new(a)) == basedir)
    }

    /// Prepares a start: `Ok(None)` when no pid file exists, `Ok(Some(old))` when a
    /// stale file (naming `old`, if valid) was removed, and
    /// [`DaemonError::AlreadyRunning`] when the daemon is running.
    pub fn check_and_clear(&self) -> Result<Option<Option<u32>>, DaemonError> {
        match self.status()? {
            PidStatus::Absent => Ok(None),
            PidStatus::Running(pid) => Err(DaemonError::AlreadyRunning {
                pid,
                path: self.path.clone(),
            }),
            PidStatus::Stale(old) => {
                self.remove()?;
                Ok(Some(old))
            }
        }
    }

    /// Writes `pid` followed by a newline (the file must not exist).
    pub fn write(&self, pid: u32) -> Result<(), DaemonError> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => match self.read() {
                    Ok(Some(Some(pid))) => DaemonError::AlreadyRunning {
                        pid,
                        path: self.path.clone(),
                    },
                    _ => DaemonError::io("cannot create", &self.path, e),
                },
                _ => DaemonError::io("cannot create", &self.path, e),
            })?;
        writeln!(file, "{pid}").map_err(|e| DaemonError::io("cannot write", &self.path, e))
    }

    /// Writes the current process's pid.
    pub fn write_self(&self) -> Result<(), DaemonError> {
        self.write(std::process::id())
    }

    /// Removes the file (absent is fine).
    pub fn remove(&self) -> Result<(), DaemonError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DaemonError::io("cannot remove", &self.path, e)),
        }
    }

    /// Removes the file only if it still names this process (used on exit).
    pub fn remove_if_self(&self) -> Result<(), DaemonError> {
        if let Some(Some(pid)) = self.read()?
            && pid == std::process::id()
        {
            self.remove()?;
        }
        Ok(())
    }
}

fn canonical(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether a process with this pid exists and is not a zombie.
pub fn process_exists(pid: u32) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(raw, 0) };
    if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    // a zombie (exited, not yet reaped by its parent) is gone for our purposes
    if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
        && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim_start())
        && (rest.starts_with('Z') || rest.starts_with('X'))
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_file_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let pf = PidFile::new(dir.path(), "buildslave");
        assert_eq!(pf.status().unwrap(), PidStatus::Absent);
        fs::write(pf.path(), "not a pid\n").unwrap();
        assert_eq!(pf.status().unwrap(), PidStatus::Stale(None));
        assert_eq!(pf.check_and_clear().unwrap(), Some(None));
        assert!(!pf.path().exists());
    }

    #[test]
    fn dead_pid_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let pf = PidFile::new(dir.path(), "buildslave");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pf.write(pid).unwrap();
        assert_eq!(fs::read_to_string(pf.path()).unwrap(), format!("{pid}\n"));
        assert_eq!(pf.status().unwrap(), PidStatus::Stale(Some(pid)));
    }

    #[test]
    fn live_process_that_is_not_ours_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let pf = PidFile::new(dir.path(), "buildslave");
        // pid 1 is alive but is not a buildslave for this directory
        pf.write(1).unwrap();
        assert_eq!(pf.status().unwrap(), PidStatus::Stale(Some(1)));
    }

    #[test]
    fn live_process_of_ours_is_running() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        // a `sleep` running in the basedir counts as "ours" when the program is `sleep`
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&base)
            .spawn()
            .unwrap();
        let pf = PidFile::new(&base, "sleep");
        pf.write(child.id()).unwrap();
        // the kernel fills in the new command line a moment after spawn returns
        for _ in 0..100 {
            if !fs::read(format!("/proc/{}/cmdline", child.id()))
                .unwrap_or_default()
                .is_empty()
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let status = pf.status().unwrap();
        let dbg = format!(
            "{:?} {:?}",
            fs::read(format!("/proc/{}/cmdline", child.id())),
            fs::read_link(format!("/proc/{}/cwd", child.id()))
        );
        let other = PidFile::new(&base, "buildslave").status().unwrap();
        let elsewhere = PidFile::new(Path::new("/"), "sleep").is_ours(child.id());
        let _ = child.kill();
        let st = child.wait().unwrap();
        assert_eq!(status, PidStatus::Running(child.id()), "{dbg} {st:?}");
        assert_eq!(other, PidStatus::Stale(Some(child.id())));
        assert!(!elsewhere);
        match pf.status().unwrap() {
            PidStatus::Stale(_) => {}
            s => panic!("after exit: {s:?}"),
        }
    }

    #[test]
    fn write_refuses_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let pf = PidFile::new(dir.path(), "buildslave");
        pf.write(4242).unwrap();
        assert!(matches!(
            pf.write(4343),
            Err(DaemonError::AlreadyRunning { pid: 4242, .. })
        ));
        pf.remove().unwrap();
        pf.remove().unwrap();
    }
}
