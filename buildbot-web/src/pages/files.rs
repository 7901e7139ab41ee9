//! `/static/*` (embedded) and the files of `BASEDIR/public_html/` at the web root.

use std::path::{Path, PathBuf};

use tide::{Response, StatusCode};

use super::respond::{error_page, not_found};
use crate::State;
use crate::state::Req;

/// The embedded static files: `(name, content type, bytes)`.
const STATIC: &[(&str, &str, &[u8])] = &[
    (
        "buildbot.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/buildbot.css"),
    ),
    (
        "buildbot.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/buildbot.js"),
    ),
];

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "log" | "md" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Percent-decodes a URL path; `None` if the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The relative path components of a request path, or `None` when it tries to leave the
/// directory (`..`, absolute parts, backslashes, NUL) after percent-decoding.
pub(crate) fn safe_components(raw: &str) -> Option<Vec<String>> {
    let decoded = percent_decode(raw)?;
    let mut parts = Vec::new();
    for p in decoded.split('/') {
        if p.is_empty() || p == "." {
            continue;
        }
        if p == ".." || p.contains('\\') || p.contains('\0') || p.contains(':') {
            return None;
        }
        parts.push(p.to_owned());
    }
    Some(parts)
}

async fn static_file(req: Req) -> tide::Result {
    let raw = req.param("path").unwrap_or_default();
    let Some(parts) = safe_components(raw) else {
        return Ok(error_page(&req, StatusCode::BadRequest, "bad path"));
    };
    let name = parts.join("/");
    Ok(match STATIC.iter().find(|(n, ..)| *n == name) {
        Some((_, ct, bytes)) => {
            let mut r = Response::new(StatusCode::Ok);
            r.insert_header("Cache-Control", "max-age=300");
            r.set_body(bytes.to_vec());
            r.insert_header("Content-Type", *ct);
            r
        }
        None => not_found(&req, "static file"),
    })
}

/// Resolves `parts` below `root`, following symlinks only when they stay below `root`.
fn resolve(root: &Path, parts: &[String]) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let mut p = root.clone();
    for c in parts {
        p.push(c);
    }
    let mut p = p.canonicalize().ok()?;
    if !p.starts_with(&root) {
        return None;
    }
    if p.is_dir() {
        p.push("index.html");
    }
    p.is_file().then_some(p)
}

/// Any other path: a file of `BASEDIR/public_html/`.
async fn public_file(req: Req) -> tide::Result {
    let path = req.url().path().to_owned();
    let Some(parts) = safe_components(&path) else {
        return Ok(error_page(&req, StatusCode::BadRequest, "bad path"));
    };
    let root = req.state().handle.basedir().join("public_html");
    let Some(file) = resolve(&root, &parts) else {
        return Ok(not_found(&req, "page"));
    };
    match async_std::fs::read(&file).await {
        Ok(bytes) => {
            let mut r = Response::new(StatusCode::Ok);
            r.set_body(bytes);
            r.insert_header("Content-Type", content_type(&file));
            Ok(r)
        }
        Err(e) => {
            log::warn!("cannot read {}: {e}", file.display());
            Ok(not_found(&req, "page"))
        }
    }
}

pub(super) fn routes(app: &mut tide::Server<State>) {
    app.at("/static/*path").get(static_file);
    app.at("/*path").get(public_file);
}
