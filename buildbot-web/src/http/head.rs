//! Reading a request head within its limits and checking it into a [`Request`].

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::task::Poll;
use std::time::Duration;

use tide::http::headers::HeaderName;
use tide::http::{Method, Request, StatusCode, Url, Version};

use super::input::Input;
use super::log_throttle::excerpt;
use super::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_REQUEST_TARGET};

/// Room for the method, the version and the spaces around a request-target of the
/// longest length.
const REQUEST_LINE_SLACK: usize = 64;

/// How a request's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A checked request head.
#[derive(Debug)]
pub(super) struct Head {
    /// The request, without its body.
    pub(super) request: Request,
    /// How its body is delimited.
    pub(super) framing: Framing,
    /// `Expect: 100-continue`.
    pub(super) expect_continue: bool,
    /// `Connection: close`.
    pub(super) close: bool,
    /// `Connection: upgrade` with an `Upgrade` header.
    pub(super) upgrade: bool,
}

/// Why a request is refused, for its answer and the log.
#[derive(Debug)]
pub(super) struct Refusal {
    /// The answer's status.
    pub(super) status: StatusCode,
    /// What was wrong.
    pub(super) reason: String,
    /// The request line, escaped and truncated, when known.
    pub(super) request: Option<String>,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
            request: None,
        }
    }

    /// With the first line of `raw` (escaped, truncated) as the request.
    fn with_raw(mut self, raw: &[u8]) -> Refusal {
        let line = raw.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            self.request = Some(excerpt(line));
        }
        self
    }

    /// With `method path` as the request (escaped, truncated).
    pub(super) fn with_request(mut self, method: Method, path: &str) -> Refusal {
        self.request = Some(format!("{method} {}", excerpt(path.as_bytes())));
        self
    }

    /// ` (request: ...)` for the log, or nothing.
    pub(super) fn request_note(&self) -> String {
        match &self.request {
            Some(r) => format!(" (request: {r})"),
            None => String::new(),
        }
    }
}

/// Where the scan of a head being read has got to (offsets into the buffered bytes).
#[derive(Debug, Default)]
struct Scan {
    /// Bytes already looked at.
    pos: usize,
    /// Start of the line being read.
    line_start: usize,
    /// Start of the header section, once the request line is complete.
    headers_start: Option<usize>,
    /// Header lines so far.
    lines: usize,
    /// Whether something other than blank lines was sent.
    started: bool,
}

impl Scan {
    /// Looks at the new bytes of `buf`: `Ok(Some(n))` when the head is its first `n` bytes.
    fn advance(&mut self, buf: &[u8]) -> Result<Option<usize>, Refusal> {
        self.started |= buf[self.pos..].iter().any(|b| !b.is_ascii_whitespace());
        while let Some(off) = buf[self.pos..].iter().position(|b| *b == b'\n') {
            let nl = self.pos + off;
            self.pos = nl + 1;
            let line = &buf[self.line_start..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match self.headers_start {
                None if line.is_empty() => {
                    // blank lines before a request line are ignored (RFC 9112 §2.2)
                    if nl > REQUEST_LINE_SLACK {
                        return Err(Refusal::new(StatusCode::BadRequest, "no request line"));
                    }
                }
                None => self.headers_start = Some(self.pos),
                Some(_) if line.is_empty() => return Ok(Some(self.pos)),
                Some(hs) => {
                    self.lines += 1;
                    if self.lines > MAX_HEADERS {
                        return Err(Refusal::new(
                            StatusCode::RequestHeaderFieldsTooLarge,
                            format!("more than {MAX_HEADERS} header lines"),
                        )
                        .with_raw(buf));
                    }
                    if self.pos - hs > MAX_HEADER_BYTES {
                        return Err(too_many_header_bytes(buf));
                    }
                }
            }
            self.line_start = self.pos;
        }
        self.pos = buf.len();
        match self.headers_start {
            None if buf.len() - self.line_start > MAX_REQUEST_TARGET + REQUEST_LINE_SLACK => {
                Err(Refusal::new(
                    StatusCode::UriTooLong,
                    format!("request line longer than {MAX_REQUEST_TARGET} bytes"),
                )
                .with_raw(buf))
            }
            Some(hs) if buf.len() - hs > MAX_HEADER_BYTES => Err(too_many_header_bytes(buf)),
            _ => Ok(None),
        }
    }
}

fn too_many_header_bytes(buf: &[u8]) -> Refusal {
    Refusal::new(
        StatusCode::RequestHeaderFieldsTooLarge,
        format!("header section larger than {MAX_HEADER_BYTES} bytes"),
    )
    .with_raw(buf)
}

/// Reads the next request head: `Ok(None)` when the client closed the connection or sent
/// nothing for `timeout` (an idle kept-alive connection), `Err` for a refused head (`408`
/// when one was begun but not finished in time).
pub(super) async fn read_head(
    input: &mut Input,
    timeout: Duration,
) -> Result<Option<Head>, Refusal> {
    let mut scan = Scan::default();
    let mut timer: Option<async_io::Timer> = None;
    let len = loop {
        if let Some(n) = scan.advance(input.buffered())? {
            break n;
        }
        let read = futures::future::poll_fn(|cx| {
            if let Poll::Ready(r) = input.poll_fill(cx) {
                return Poll::Ready(Some(r));
            }
            let t = timer.get_or_insert_with(|| async_io::Timer::after(timeout));
            match Pin::new(t).poll(cx) {
                Poll::Ready(_) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match read {
            Some(Ok(n)) if n > 0 => {}
            // the client closed (or failed): nothing to answer
            Some(_) => return Ok(None),
            None if scan.started => {
                return Err(Refusal::new(
                    StatusCode::RequestTimeout,
                    format!("request head not sent within {timeout:?}"),
                )
                .with_raw(input.buffered()));
            }
            None => return Ok(None),
        }
    };
    let head = parse(&input.buffered()[..len]).map_err(|r| r.with_raw(input.buffered()));
    input.consume(len);
    head.map(Some)
}

fn bad(reason: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BadRequest, reason)
}

/// Whether `v` is a header value we take: visible ASCII, spaces and tabs.
fn clean_value(v: &[u8]) -> bool {
    v.iter().all(|b| matches!(b, b'\t' | b' '..=b'~'))
}

/// Whether `h` can be a `Host` value (no characters that would change the request's URL).
fn clean_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// Checks a complete head (`raw` ends with its blank line).
fn parse(raw: &[u8]) -> Result<Head, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("malformed request head")),
        Err(httparse::Error::Version) => {
            return Err(Refusal::new(
                StatusCode::HttpVersionNotSupported,
                "unsupported HTTP version (only HTTP/1.1 is served)",
            ));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::new(
                StatusCode::RequestHeaderFieldsTooLarge,
                format!("more than {MAX_HEADERS} header lines"),
            ));
        }
        Err(e) => return Err(bad(format!("malformed request head: {e}"))),
    }
    if req.version != Some(1) {
        return Err(Refusal::new(
            StatusCode::HttpVersionNotSupported,
            "unsupported HTTP version (only HTTP/1.1 is served)",
        ));
    }
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Err(bad("malformed request line"));
    };
    if target.len() > MAX_REQUEST_TARGET {
        return Err(Refusal::new(
            StatusCode::UriTooLong,
            format!("request-target longer than {MAX_REQUEST_TARGET} bytes"),
        ));
    }
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("request-target with a non-ASCII or control byte"));
    }
    let method = Method::from_str(method).map_err(|_| {
        Refusal::new(
            StatusCode::NotImplemented,
            format!("unknown method {}", excerpt(method.as_bytes())),
        )
    })?;

    let mut host = None;
    let mut length: Option<u64> = None;
    let mut chunked = None;
    let mut expect_continue = false;
    let mut close = false;
    let mut conn_upgrade = false;
    let mut has_upgrade = false;
    for h in req.headers.iter() {
        if !clean_value(h.value) {
            return Err(bad(format!(
                "header {} has a non-ASCII or control byte",
                excerpt(h.name.as_bytes())
            )));
        }
        // clean_value: visible ASCII, so UTF-8
        let value = std::str::from_utf8(h.value).unwrap_or_default();
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            if host.replace(value.trim()).is_some() {
                return Err(bad("more than one Host header"));
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            for v in value.split(',') {
                let v = v.trim();
                let n = (!v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| v.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| bad("invalid Content-Length"))?;
                if length.replace(n).is_some_and(|m| m != n) {
                    return Err(bad("conflicting Content-Length values"));
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let is_chunked = value.trim().eq_ignore_ascii_case("chunked");
            if chunked.replace(is_chunked).is_some() || !is_chunked {
                return Err(Refusal::new(
                    StatusCode::NotImplemented,
                    "unsupported Transfer-Encoding (only chunked)",
                ));
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = value.trim().eq_ignore_ascii_case("100-continue");
        } else if name.eq_ignore_ascii_case("connection") {
            for t in value.split(',') {
                let t = t.trim();
                close |= t.eq_ignore_ascii_case("close");
                conn_upgrade |= t.eq_ignore_ascii_case("upgrade");
            }
        } else if name.eq_ignore_ascii_case("upgrade") {
            has_upgrade = true;
        }
    }
    let framing = match (length, chunked) {
        (Some(_), Some(_)) => {
            return Err(bad("both Content-Length and Transfer-Encoding"));
        }
        (Some(n), None) => Framing::Length(n),
        (None, Some(_)) => Framing::Chunked,
        (None, None) => Framing::None,
    };
    let Some(host) = host else {
        return Err(bad("missing Host header"));
    };
    if !clean_host(host) {
        return Err(bad("invalid Host header"));
    }
    let url = if target.starts_with('/') {
        Url::parse(&format!("http://{host}{target}"))
    } else if target.starts_with("http://") || target.starts_with("https://") {
        Url::parse(target)
    } else if method == Method::Connect {
        Url::parse(&format!("http://{target}/"))
    } else {
        return Err(bad("unexpected request-target form"));
    }
    .map_err(|e| bad(format!("invalid request-target: {e}")))?;

    let mut request = Request::new(method, url);
    request.set_version(Some(Version::Http1_1));
    for h in req.headers.iter() {
        let name = HeaderName::from_str(h.name).map_err(|_| bad("invalid header name"))?;
        // checked above: visible ASCII
        let value = std::str::from_utf8(h.value).unwrap_or_default();
        request.append_header(name, value);
    }
    Ok(Head {
        request,
        framing,
        expect_continue,
        close,
        upgrade: conn_upgrade && has_upgrade,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(raw: &str) -> u16 {
        match parse(raw.as_bytes()) {
            Ok(_) => 200,
            Err(r) => r.status as u16,
        }
    }

    fn scan(raw: &[u8]) -> Result<Option<usize>, u16> {
        Scan::default().advance(raw).map_err(|r| r.status as u16)
    }

    #[test]
    fn heads_are_checked() {
        let ok = "GET /api/v2/builders HTTP/1.1\r\nHost: localhost:8010\r\n\r\n";
        assert_eq!(status(ok), 200);
        let h = parse(ok.as_bytes()).unwrap();
        assert_eq!(h.framing, Framing::None);
        assert_eq!(
            h.request.url().as_str(),
            "http://localhost:8010/api/v2/builders"
        );
        for (raw, want) in [
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a/b?\r\n\r\n", 400),
            ("GET / HTTP/1.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9}\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1}b\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
                501,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            ("BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
            ("GET nothing HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ] {
            assert_eq!(status(raw), want, "{raw:?}");
        }
        let same = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(parse(same.as_bytes()).unwrap().framing, Framing::Length(3));
        let te = "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n";
        assert_eq!(parse(te.as_bytes()).unwrap().framing, Framing::Chunked);
        let up = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
        assert!(parse(up.as_bytes()).unwrap().upgrade);
    }

    #[test]
    fn head_limits_are_found_while_reading() {
        assert_eq!(scan(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest"), Ok(Some(27)));
        assert_eq!(scan(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n"), Ok(None));
        // an endless request line
        let long = vec![b'a'; MAX_REQUEST_TARGET + 100];
        assert_eq!(scan(&long), Err(414));
        // a long target in an otherwise fine head
        let t = format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "a".repeat(MAX_REQUEST_TARGET)
        );
        assert_eq!(scan(t.as_bytes()), Ok(Some(t.len())));
        assert_eq!(status(&t), 414);
        // too many header lines, too many header bytes
        let many = format!(
            "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS)
        );
        assert_eq!(scan(many.as_bytes()), Err(431));
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n",
            "y".repeat(MAX_HEADER_BYTES)
        );
        assert_eq!(scan(big.as_bytes()), Err(431));
        let unfinished = format!("GET / HTTP/1.1\r\nX: {}", "y".repeat(MAX_HEADER_BYTES));
        assert_eq!(scan(unfinished.as_bytes()), Err(431));
        let fine = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "y".repeat(MAX_HEADER_BYTES - 10)
        );
        assert_eq!(scan(fine.as_bytes()), Ok(Some(fine.len())));
    }
}
