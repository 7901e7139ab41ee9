//! The read side of a connection: the socket and the bytes read from it but not yet used
//! (the rest of a head, the start of a body, a pipelined request).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_std::net::TcpStream;
use futures::{AsyncRead, AsyncWrite};

use super::conns::ConnGuard;

/// Size of a connection's buffer to begin with.
const INITIAL: usize = 4 << 10;
/// The least room a read into the buffer is given.
const MIN_READ: usize = 2 << 10;
/// The most the buffer grows to: a head at its limits (request line and header section)
/// with room to spare.
pub(super) const MAX_BUFFER: usize = super::MAX_REQUEST_TARGET + super::MAX_HEADER_BYTES + 4096;

/// A socket and its read buffer: `buf[start..end]` is read but not used yet.
#[derive(Debug)]
pub(super) struct Input {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    pub(super) fn new(stream: TcpStream) -> Input {
        Input {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The bytes read but not used yet.
    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub(super) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The socket (for `100 Continue`).
    pub(super) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Reads more bytes into the buffer (keeping those buffered, which may grow it up to
    /// [`MAX_BUFFER`]); `Ok(0)`: end of stream, or the buffer is full.
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.len() - self.end < MIN_READ {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < MIN_READ {
                let want = (self.buf.len() * 2).clamp(INITIAL, MAX_BUFFER);
                if want > self.buf.len() {
                    self.buf.resize(want, 0);
                }
            }
            if self.end == self.buf.len() {
                return Poll::Ready(Ok(0));
            }
        }
        let end = self.end;
        let n = std::task::ready!(Pin::new(&mut self.stream).poll_read(cx, &mut self.buf[end..]))?;
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Reads straight into `out` (nothing must be buffered).
    pub(super) fn poll_read_direct(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        debug_assert!(self.start == self.end);
        Pin::new(&mut self.stream).poll_read(cx, out)
    }

    /// The socket, dropping what is buffered.
    pub(super) fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// The connection after a protocol upgrade: what is buffered is read first; the
    /// connection slot is held until it is dropped.
    pub(super) fn upgraded(mut self, guard: ConnGuard) -> Upgraded {
        if self.start == self.end {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
        }
        Upgraded {
            input: self,
            _guard: guard,
        }
    }
}

/// An upgraded connection (a WebSocket).
#[derive(Debug)]
pub(super) struct Upgraded {
    input: Input,
    _guard: ConnGuard,
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let i = &mut self.input;
        if i.start < i.end {
            let n = (i.end - i.start).min(out.len());
            out[..n].copy_from_slice(&i.buf[i.start..i.start + n]);
            i.consume(n);
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut i.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.input.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.input.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.input.stream).poll_close(cx)
    }
}
