//! `buildbot reconfig` (alias `sighup`): SIGHUP, then follow `twistd.log` to the outcome.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, PidStatus, Signal};

use crate::cli::PROGRAM;
use crate::options::ReconfigOptions;
use crate::tac;

/// Follows a growing log file from an offset, line by line. When the file is rotated
/// (renamed to `FILE.1`), the rest of the old file is read before the new one.
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

pub fn reconfig(o: &ReconfigOptions) -> anyhow::Result<ExitCode> {
    let dir = tac::load(&o.basedir)?;
    let pidfile = PROGRAM.pid_file(&dir.basedir);
    let pid = match pidfile.status() {
        Ok(PidStatus::Running(pid)) => pid,
        _ => {
            return Err(CliError::new(
                ErrorKind::NotRunning,
                format!(
                    "buildmaster in '{}' is not running (no live twistd.pid); start it with `buildbot start`",
                    dir.basedir.display()
                ),
            )
            .into());
        }
    };
    let log_path =
        crate::start::log_path(&dir, false).unwrap_or_else(|| dir.basedir.join("twistd.log"));
    let mut log = LogFollower::at_end(&log_path);
    daemon::send_signal(pid, Signal::Hup)
        .map_err(|e| CliError::new(ErrorKind::Failure, e.to_string()))?;
    if o.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    ui::say(false, &format!("sent SIGHUP to process {pid}"));
    let mut started = false;
    let mut last_progress = Instant::now();
    let mut errors = Vec::new();
    loop {
        for line in log.lines() {
            if !started {
                if line.contains("beginning configuration update") {
                    started = true;
                } else {
                    continue;
                }
            }
            last_progress = Instant::now();
            ui::say(false, &line);
            if line.contains("configuration update complete") {
                ui::say(
                    false,
                    "Reconfiguration appears to have completed successfully",
                );
                return Ok(ExitCode::SUCCESS);
            }
            if line.contains("reconfig aborted") || line.contains("partially applied") {
                errors.push(line);
                return Err(CliError::new(
                    ErrorKind::ReconfigFailed,
                    format!(
                        "Reconfiguration failed ({}). Please inspect the config file {} for errors, correct them, then try 'buildbot reconfig' again.",
                        errors.join("; "),
                        dir.config_path().display()
                    ),
                )
                .into());
            }
        }
        if last_progress.elapsed() > o.progress_timeout {
            return Err(CliError::new(
                ErrorKind::ReconfigFailed,
                format!(
                    "Never saw reconfiguration {} within {} seconds; see {}",
                    if started { "finish" } else { "begin" },
                    o.progress_timeout.as_secs_f64(),
                    log_path.display()
                ),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
