//! File transfer commands (§10.2–§10.4).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rmpv::Value;

use super::{Args, Ctx, failure_text};
use crate::protocol::{Op, ProtocolError, UpdateEntry};
use crate::slave::output::Stream;

/// Largest block read or requested at once, whatever the master asks for.
const MAX_BLOCK: usize = 16 << 20;

fn remote_failure(e: &ProtocolError) -> String {
    match e {
        ProtocolError::Remote { message, .. } => {
            failure_text("buildbot_worker.msgpack.RemoteWorkerError", message)
        }
        other => failure_text("twisted.internet.error.ConnectionLost", &other.to_string()),
    }
}

fn time_f64(t: std::io::Result<std::time::SystemTime>) -> f64 {
    t.ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Sends blocks read from `reader` with `make` until EOF, the size budget or an interrupt.
/// Returns (rc, stderr text, failure).
async fn send_blocks<R: Read>(
    ctx: &Ctx,
    reader: &mut R,
    blocksize: usize,
    maxsize: Option<u64>,
    path: &str,
    make: impl Fn(Vec<u8>) -> Op,
) -> (i64, Option<String>, Option<String>) {
    let mut sent: u64 = 0;
    loop {
        if ctx.is_interrupted() {
            return (1, None, None);
        }
        let mut n = blocksize.clamp(1, MAX_BLOCK) as u64;
        if let Some(max) = maxsize {
            let budget = max.saturating_sub(sent);
            if budget == 0 {
                return (
                    1,
                    Some(format!(
                        "Maximum filesize reached, truncating file '{path}'"
                    )),
                    None,
                );
            }
            n = n.min(budget);
        }
        let mut buf = vec![0u8; n as usize];
        let got = match read_full(reader, &mut buf) {
            Ok(g) => g,
            Err(e) => return (1, None, Some(failure_text("OSError", &e.to_string()))),
        };
        if got == 0 {
            return (0, None, None);
        }
        buf.truncate(got);
        sent += got as u64;
        if let Err(e) = ctx.io.peer().call(make(buf)).await {
            return (0, None, Some(remote_failure(&e)));
        }
    }
}

/// Reads up to `buf.len()` bytes (fewer only at EOF).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn finish(
    ctx: &Ctx,
    rc: i64,
    stderr: Option<String>,
    failure: Option<String>,
) -> Result<(), String> {
    ctx.io.entry(UpdateEntry::Rc(rc));
    if let Some(s) = stderr {
        ctx.io.text(Stream::Stderr, &s);
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

pub(super) async fn upload_file(ctx: &Ctx, a: Args) -> Result<(), String> {
    let path_s = a.str("path").unwrap_or_default();
    let Some(path) = ctx.check_path("upload", &path_s, false) else {
        return Ok(());
    };
    let blocksize = a.u64("blocksize").unwrap_or(16384) as usize;
    let maxsize = a.u64("maxsize");
    let keepstamp = a.bool_or("keepstamp", false);
    let stamps = if keepstamp {
        std::fs::metadata(&path)
            .ok()
            .map(|m| (time_f64(m.accessed()), time_f64(m.modified())))
    } else {
        None
    };
    let file = std::fs::File::open(&path);
    ctx.io.header(&format!("sending {path_s}\n"));
    let id = ctx.io.command_id().to_string();
    let (rc, stderr, mut failure) = match file {
        Ok(mut f) => {
            let id2 = id.clone();
            send_blocks(ctx, &mut f, blocksize, maxsize, &path_s, |data| {
                Op::UploadFileWrite {
                    command_id: id2.clone(),
                    data,
                }
            })
            .await
        }
        Err(_) => (
            1,
            Some(format!("Cannot open file '{path_s}' for upload")),
            None,
        ),
    };
    let closed = ctx
        .io
        .peer()
        .call(Op::UploadFileClose {
            command_id: id.clone(),
        })
        .await;
    if let (Err(e), None) = (&closed, &failure) {
        failure = Some(remote_failure(e));
    }
    if let (Some((atime, mtime)), None, 0) = (stamps, &failure, rc)
        && let Err(e) = ctx
            .io
            .peer()
            .call(Op::UploadFileUtime {
                command_id: id,
                access_time: atime,
                modified_time: mtime,
            })
            .await
    {
        failure = Some(remote_failure(&e));
    }
    finish(ctx, rc, stderr, failure)
}

/// Writes a PAX-format tar of `dir` (first member: the directory itself, named "").
fn build_archive(dir: &Path, out: &mut dyn Write) -> std::io::Result<()> {
    let md = std::fs::metadata(dir)?;
    // fail early (like Python) if the directory cannot be read
    std::fs::read_dir(dir)?;
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    let mut root = tar::Header::new_ustar();
    root.set_entry_type(tar::EntryType::Directory);
    root.set_mode(md.permissions().mode() & 0o7777);
    root.set_size(0);
    root.set_mtime(
        md.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
    );
    root.set_cksum();
    builder.append(&root, std::io::empty())?;
    add_tree(&mut builder, dir, Path::new(""))?;
    builder.into_inner()?.flush()
}

fn add_tree(
    builder: &mut tar::Builder<&mut dyn Write>,
    base: &Path,
    rel: &Path,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(base.join(rel))?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    entries.sort();
    for name in entries {
        let rel_path = rel.join(&name);
        let full = base.join(&rel_path);
        let md = std::fs::symlink_metadata(&full)?;
        builder.append_path_with_name(&full, &rel_path)?;
        if md.is_dir() {
            add_tree(builder, base, &rel_path)?;
        }
    }
    Ok(())
}

fn archive_to_file(dir: &Path, tmp: &Path, compress: Option<&str>) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)?;
    let mut w = std::io::BufWriter::new(file);
    match compress {
        Some("gz") => {
            let mut enc = flate2::write::GzEncoder::new(&mut w, flate2::Compression::default());
            build_archive(dir, &mut enc)?;
            enc.finish()?;
        }
        Some("bz2") => {
            let mut enc = bzip2::write::BzEncoder::new(&mut w, bzip2::Compression::default());
            build_archive(dir, &mut enc)?;
            enc.finish()?;
        }
        _ => build_archive(dir, &mut w)?,
    }
    w.flush()
}

fn python_oserror(e: &std::io::Error, path: &str) -> String {
    match e.raw_os_error() {
        Some(n) => format!(
            "[Errno {n}] {}: '{path}'",
            crate::slave::runprocess::strerror(e)
        ),
        None => e.to_string(),
    }
}

pub(super) async fn upload_directory(ctx: &Ctx, a: Args) -> Result<(), String> {
    let path_s = a.str("path").unwrap_or_default();
    let Some(path) = ctx.check_path("upload", &path_s, true) else {
        return Ok(());
    };
    let blocksize = a.u64("blocksize").unwrap_or(16384) as usize;
    let maxsize = a.u64("maxsize");
    let compress = a.str("compress");
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp: PathBuf = ctx.shared.jail.base().join(format!(
        ".buildbot-upload-{}-{}.tar.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let built = {
        let (dir, tmp, compress) = (path.clone(), tmp.clone(), compress.clone());
        async_std::task::spawn_blocking(move || archive_to_file(&dir, &tmp, compress.as_deref()))
            .await
    };
    if let Err(e) = built {
        let _ = std::fs::remove_file(&tmp);
        return finish(
            ctx,
            1,
            Some(format!(
                "Cannot read directory '{path_s}' for upload: {}",
                python_oserror(&e, &path_s)
            )),
            None,
        );
    }
    ctx.io.header(&format!("sending {path_s}\n"));
    let id = ctx.io.command_id().to_string();
    let (mut rc, stderr, mut failure) = match std::fs::File::open(&tmp) {
        Ok(mut f) => {
            let id2 = id.clone();
            send_blocks(ctx, &mut f, blocksize, maxsize, &path_s, |data| {
                Op::UploadDirectoryWrite {
                    command_id: id2.clone(),
                    data,
                }
            })
            .await
        }
        Err(e) => (1, Some(e.to_string()), None),
    };
    let _ = std::fs::remove_file(&tmp);
    if failure.is_none()
        && let Err(e) = ctx
            .io
            .peer()
            .call(Op::UploadDirectoryUnpack { command_id: id })
            .await
    {
        rc = 1;
        failure = Some(remote_failure(&e));
    }
    finish(ctx, rc, stderr, failure)
}

pub(super) async fn download_file(ctx: &Ctx, a: Args) -> Result<(), String> {
    let path_s = a.str("path").unwrap_or_default();
    let Some(path) = ctx.check_path("download", &path_s, false) else {
        return Ok(());
    };
    let blocksize = a
        .u64("blocksize")
        .unwrap_or(16384)
        .clamp(1, MAX_BLOCK as u64);
    let maxsize = a.u64("maxsize");
    let mode = a.u64("mode");
    if let Some(parent) = path.parent()
        && !parent.exists()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| failure_text("OSError", &python_oserror(&e, &parent.to_string_lossy())))?;
    }
    let id = ctx.io.command_id().to_string();
    let opened = std::fs::File::create(&path).and_then(|f| {
        if let Some(mode) = mode {
            f.set_permissions(std::fs::Permissions::from_mode(mode as u32 & 0o7777))?;
        }
        Ok(f)
    });
    let (mut rc, mut stderr, mut failure) = (0, None, None);
    match opened {
        Err(_) => {
            rc = 1;
            stderr = Some(format!("Cannot open file '{path_s}' for download"));
        }
        Ok(mut f) => {
            let mut written: u64 = 0;
            loop {
                if ctx.is_interrupted() {
                    rc = 1;
                    break;
                }
                let mut n = blocksize;
                if let Some(max) = maxsize {
                    let budget = max.saturating_sub(written);
                    if budget == 0 {
                        rc = 1;
                        stderr = Some(format!(
                            "Maximum filesize reached, truncating file '{path_s}'"
                        ));
                        break;
                    }
                    n = n.min(budget);
                }
                let data = match ctx
                    .io
                    .peer()
                    .call(Op::ReadFile {
                        command_id: id.clone(),
                        length: n,
                    })
                    .await
                {
                    Ok(Value::Nil) => break, // the Python 4.3 master always answers nil
                    Ok(Value::Binary(b)) => b,
                    Ok(Value::String(s)) => s.as_bytes().to_vec(),
                    Ok(other) => {
                        failure = Some(failure_text(
                            "TypeError",
                            &format!("unexpected update_read_file result {other}"),
                        ));
                        break;
                    }
                    Err(e) => {
                        failure = Some(remote_failure(&e));
                        break;
                    }
                };
                if data.is_empty() {
                    break;
                }
                if data.len() as u64 > n {
                    failure = Some(failure_text("AssertionError", ""));
                    break;
                }
                if let Err(e) = f.write_all(&data) {
                    failure = Some(failure_text("OSError", &python_oserror(&e, &path_s)));
                    break;
                }
                written += data.len() as u64;
            }
        }
    }
    if let Err(e) = ctx
        .io
        .peer()
        .call(Op::ReadFileClose { command_id: id })
        .await
    {
        log::info!("update_read_file_close failed: {e}");
    }
    finish(ctx, rc, stderr, failure)
}
