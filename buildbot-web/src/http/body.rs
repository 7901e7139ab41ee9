//! A request body as its handler reads it: delimited by `Content-Length` or `chunked`,
//! cut off past the route's limit or the body timeout, `100 Continue` sent on the first read.
//!
//! The reader owns the connection's [`Input`] while the handler may read; when it is
//! dropped it hands the input back through a [`Slot`] with what became of the body.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{AsyncBufRead, AsyncRead, AsyncWrite, Future};

use super::MAX_HEADER_BYTES;
use super::head::Framing;
use super::input::Input;

/// The interim answer to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// Longest chunk-size line (with its extensions).
const MAX_CHUNK_LINE: usize = 1024;

/// What became of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Read to its end.
    Complete,
    /// Not (all) read by its handler.
    Unread,
    /// `chunked`, and longer than the route's limit.
    TooLarge,
    /// Not sent within the body timeout.
    TimedOut,
    /// Badly framed `chunked` body.
    Malformed(&'static str),
    /// The connection failed or was closed before the end of the body.
    Failed,
}

/// The connection's input with what became of the body it carried.
#[derive(Debug)]
pub(super) struct Returned {
    pub(super) input: Input,
    pub(super) outcome: Outcome,
}

/// Where a dropped [`BodyReader`] leaves the connection's input (one per connection).
#[derive(Clone, Debug, Default)]
pub(super) struct Slot(Arc<Mutex<Option<Returned>>>);

impl Slot {
    fn put(&self, r: Returned) {
        *buildbot_core::util::lock(&self.0) = Some(r);
    }

    /// The input, once the reader is gone.
    pub(super) fn take(&self) -> Option<Returned> {
        buildbot_core::util::lock(&self.0).take()
    }
}

/// Where a `chunked` body's decoding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// Reading trailer lines (this many bytes so far); discarded.
    Trailers(usize),
    /// After the last chunk and the trailers.
    Done,
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    /// This many bytes left.
    Fixed(u64),
    Chunked(Chunk),
}

/// A request body read from the connection.
#[derive(Debug)]
pub(super) struct BodyReader {
    input: Option<Input>,
    home: Slot,
    frame: Frame,
    /// Limit of a `chunked` body (a `Content-Length` one was checked before).
    max: u64,
    /// Decoded bytes announced so far (`chunked`).
    total: u64,
    deadline: Instant,
    timer: Option<async_io::Timer>,
    /// Bytes of `100 Continue` still to send.
    continue_left: usize,
    /// Set once the body ended or failed.
    outcome: Option<Outcome>,
}

impl BodyReader {
    pub(super) fn new(
        input: Input,
        home: Slot,
        framing: Framing,
        max: u64,
        timeout: Duration,
        expect_continue: bool,
    ) -> BodyReader {
        let frame = match framing {
            Framing::Length(n) => Frame::Fixed(n),
            Framing::Chunked => Frame::Chunked(Chunk::Size),
            Framing::None => Frame::Fixed(0),
        };
        let continue_left = if expect_continue && input.buffered().is_empty() {
            CONTINUE.len()
        } else {
            0
        };
        BodyReader {
            input: Some(input),
            home,
            frame,
            max,
            total: 0,
            deadline: Instant::now() + timeout,
            timer: None,
            continue_left,
            outcome: None,
        }
    }

    /// Records a failure and returns it as the reader's error.
    fn fail(&mut self, outcome: Outcome) -> io::Error {
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
        error_of(self.outcome.unwrap_or(outcome))
    }

    /// Whether the body timeout has passed (registering for a wake-up if not).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.deadline;
        let t = self
            .timer
            .get_or_insert_with(|| async_io::Timer::at(deadline));
        Pin::new(t).poll(cx).is_ready()
    }

    /// Sends what is left of `100 Continue`.
    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.continue_left > 0 {
            let Some(input) = self.input.as_ref() else {
                return Poll::Ready(Err(self.fail(Outcome::Failed)));
            };
            let mut s = input.stream();
            let from = CONTINUE.len() - self.continue_left;
            match Pin::new(&mut s).poll_write(cx, &CONTINUE[from..]) {
                Poll::Ready(Ok(n)) if n > 0 => self.continue_left -= n,
                Poll::Ready(_) => return Poll::Ready(Err(self.fail(Outcome::Failed))),
                Poll::Pending if self.expired(cx) => {
                    return Poll::Ready(Err(self.fail(Outcome::TimedOut)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Decodes what is buffered until body data is at its front: `Some(n)` bytes of it,
    /// or `None` at the end of the body; reads more when needed.
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<usize>>> {
        if let Some(o) = self.outcome {
            return Poll::Ready(match o {
                Outcome::Complete => Ok(None),
                o => Err(error_of(o)),
            });
        }
        if self.continue_left > 0 {
            std::task::ready!(self.poll_continue(cx))?;
        }
        loop {
            let Some(input) = self.input.as_mut() else {
                return Poll::Ready(Err(self.fail(Outcome::Failed)));
            };
            let buf = input.buffered();
            match &mut self.frame {
                Frame::Fixed(0) | Frame::Chunked(Chunk::Done) => {
                    self.outcome = Some(Outcome::Complete);
                    return Poll::Ready(Ok(None));
                }
                Frame::Fixed(left) => {
                    if !buf.is_empty() {
                        let n = (buf.len() as u64).min(*left) as usize;
                        return Poll::Ready(Ok(Some(n)));
                    }
                }
                Frame::Chunked(Chunk::Data(left)) => {
                    if !buf.is_empty() {
                        let n = (buf.len() as u64).min(*left) as usize;
                        return Poll::Ready(Ok(Some(n)));
                    }
                }
                Frame::Chunked(state) => match chunk_step(*state, buf) {
                    Step::More => {}
                    Step::Next(used, next) => {
                        input.consume(used);
                        if let Chunk::Data(n) = next {
                            self.total = self.total.saturating_add(n);
                            if self.total > self.max {
                                return Poll::Ready(Err(self.fail(Outcome::TooLarge)));
                            }
                        }
                        *state = next;
                        continue;
                    }
                    Step::Bad(why) => return Poll::Ready(Err(self.fail(Outcome::Malformed(why)))),
                },
            }
            match input.poll_fill(cx) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    return Poll::Ready(Err(self.fail(Outcome::Failed)));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Pending if self.expired(cx) => {
                    return Poll::Ready(Err(self.fail(Outcome::TimedOut)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Marks `n` bytes of body data as read.
    fn used(&mut self, n: usize) {
        if let Some(input) = self.input.as_mut() {
            input.consume(n);
        }
        match &mut self.frame {
            Frame::Fixed(left) => *left = left.saturating_sub(n as u64),
            Frame::Chunked(Chunk::Data(left)) => {
                *left = left.saturating_sub(n as u64);
                if *left == 0 {
                    self.frame = Frame::Chunked(Chunk::DataEnd);
                }
            }
            Frame::Chunked(_) => {}
        }
        if matches!(self.frame, Frame::Fixed(0)) {
            self.outcome.get_or_insert(Outcome::Complete);
        }
    }
}

fn error_of(o: Outcome) -> io::Error {
    match o {
        Outcome::TooLarge => io::Error::new(
            io::ErrorKind::InvalidData,
            "request body larger than this route accepts",
        ),
        Outcome::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            "request body not sent within the body timeout",
        ),
        Outcome::Malformed(why) => io::Error::new(io::ErrorKind::InvalidData, why),
        Outcome::Failed | Outcome::Unread | Outcome::Complete => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the end of the request body",
        ),
    }
}

/// One step of `chunked` decoding over the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Needs more bytes.
    More,
    /// Uses this many bytes and goes on in that state.
    Next(usize, Chunk),
    /// Badly framed.
    Bad(&'static str),
}

/// Decodes the framing at the front of `buf` in `state` (not `Data`).
fn chunk_step(state: Chunk, buf: &[u8]) -> Step {
    let line = || buf.iter().position(|b| *b == b'\n');
    match state {
        Chunk::Size => {
            let Some(nl) = line() else {
                return if buf.len() > MAX_CHUNK_LINE {
                    Step::Bad("chunk-size line too long")
                } else {
                    Step::More
                };
            };
            let text = &buf[..nl];
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let digits = text.split(|b| *b == b';').next().unwrap_or_default();
            let digits = digits.trim_ascii();
            if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
                return Step::Bad("invalid chunk size");
            }
            let size = digits.iter().fold(0u64, |n, d| {
                n * 16 + u64::from((*d as char).to_digit(16).unwrap_or(0))
            });
            Step::Next(
                nl + 1,
                if size == 0 {
                    Chunk::Trailers(0)
                } else {
                    Chunk::Data(size)
                },
            )
        }
        Chunk::DataEnd => match buf {
            [b'\r', b'\n', ..] => Step::Next(2, Chunk::Size),
            [b'\n', ..] => Step::Next(1, Chunk::Size),
            [] | [b'\r'] => Step::More,
            _ => Step::Bad("chunk data longer than its size"),
        },
        Chunk::Trailers(seen) => {
            let Some(nl) = line() else {
                return if seen + buf.len() > MAX_HEADER_BYTES {
                    Step::Bad("trailer section too large")
                } else {
                    Step::More
                };
            };
            if seen + nl > MAX_HEADER_BYTES {
                return Step::Bad("trailer section too large");
            }
            let text = &buf[..nl];
            if text.strip_suffix(b"\r").unwrap_or(text).is_empty() {
                Step::Next(nl + 1, Chunk::Done)
            } else {
                Step::Next(nl + 1, Chunk::Trailers(seen + nl + 1))
            }
        }
        Chunk::Data(_) | Chunk::Done => Step::More,
    }
}

impl AsyncBufRead for BodyReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        let n = std::task::ready!(this.poll_data(cx))?;
        Poll::Ready(Ok(match (n, this.input.as_ref()) {
            (Some(n), Some(input)) => &input.buffered()[..n],
            _ => &[],
        }))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().used(amt);
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // a large read of a Content-Length body with nothing buffered: straight from the socket
        if let (Frame::Fixed(left @ 1..), Some(input), None, 0) = (
            this.frame,
            this.input.as_mut(),
            this.outcome,
            this.continue_left,
        ) && input.buffered().is_empty()
            && out.len() >= 4096
        {
            let max = (out.len() as u64).min(left) as usize;
            return match input.poll_read_direct(cx, &mut out[..max]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    Poll::Ready(Err(this.fail(Outcome::Failed)))
                }
                Poll::Ready(Ok(n)) => {
                    this.frame = Frame::Fixed(left - n as u64);
                    if left == n as u64 {
                        this.outcome = Some(Outcome::Complete);
                    }
                    Poll::Ready(Ok(n))
                }
                Poll::Pending if this.expired(cx) => Poll::Ready(Err(this.fail(Outcome::TimedOut))),
                Poll::Pending => Poll::Pending,
            };
        }
        let Some(n) = std::task::ready!(this.poll_data(cx))? else {
            return Poll::Ready(Ok(0));
        };
        let n = n.min(out.len());
        if let Some(input) = this.input.as_ref() {
            out[..n].copy_from_slice(&input.buffered()[..n]);
        }
        this.used(n);
        Poll::Ready(Ok(n))
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        if let Some(input) = self.input.take() {
            let outcome = self.outcome.unwrap_or(Outcome::Unread);
            self.home.put(Returned { input, outcome });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a whole chunked body held in `raw`: the data, or the first problem.
    fn decode(raw: &[u8], max: u64) -> Result<Vec<u8>, &'static str> {
        let mut state = Chunk::Size;
        let mut pos = 0;
        let mut out = Vec::new();
        let mut total = 0u64;
        loop {
            match state {
                Chunk::Done => return Ok(out),
                Chunk::Data(n) => {
                    let take = (n as usize).min(raw.len() - pos);
                    if take == 0 {
                        return Err("short");
                    }
                    out.extend_from_slice(&raw[pos..pos + take]);
                    pos += take;
                    state = if take as u64 == n {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(n - take as u64)
                    };
                }
                s => match chunk_step(s, &raw[pos..]) {
                    Step::More => return Err("short"),
                    Step::Bad(why) => return Err(why),
                    Step::Next(used, next) => {
                        pos += used;
                        if let Chunk::Data(n) = next {
                            total += n;
                            if total > max {
                                return Err("too large");
                            }
                        }
                        state = next;
                    }
                },
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_within_their_limit() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(decode(body, 100).as_deref(), Ok(&b"hello world"[..]));
        assert_eq!(decode(b"3\nabc\n0\n\n", 100).as_deref(), Ok(&b"abc"[..]));
        assert_eq!(decode(body, 10), Err("too large"));
        assert_eq!(
            decode(b"fffffffffffffffff\r\n", u64::MAX),
            Err("invalid chunk size")
        );
        assert_eq!(decode(b"zz\r\n", 100), Err("invalid chunk size"));
        assert_eq!(
            decode(b"2\r\nabc\r\n", 100),
            Err("chunk data longer than its size")
        );
        assert_eq!(decode(&[b'1'; 2000], 100), Err("chunk-size line too long"));
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b"X: y\r\n", 2000).flatten());
        assert_eq!(decode(&trailers, 100), Err("trailer section too large"));
    }
}
