//! A time limit to finish a `/ws` message once it is started.
//!
//! The WebSocket library bounds a message's size but not the time it takes to arrive, so a
//! client could start frames (or a fragmented message) and never finish them, holding their
//! buffers for as long as it likes. [`MessageDeadline`] wraps the connection's socket, follows
//! the client's frame headers as the bytes go by (RFC 6455 §5.2; it only reads lengths, the
//! library still checks everything), and fails the read with [`io::ErrorKind::TimedOut`]
//! once a frame, or a message fragmented over several frames, has been incomplete for longer
//! than the limit. Between messages there is no limit: an idle client is fine.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{AsyncRead, AsyncWrite};

/// Where the client's byte stream is in RFC 6455's framing.
#[derive(Debug, Default)]
struct FrameScan {
    /// Header bytes of the frame being received (at most 14).
    head: [u8; 14],
    /// How many of them are here.
    have: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// A data message's non-final frame was seen: its continuation is still to come.
    fragmented: bool,
}

impl FrameScan {
    /// Whether a frame or message is started and not finished.
    fn open(&self) -> bool {
        self.have > 0 || self.payload_left > 0 || self.fragmented
    }

    /// The header length once its first bytes are known.
    fn header_len(&self) -> Option<usize> {
        if self.have < 2 {
            return None;
        }
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        Some(2 + ext + mask)
    }

    fn feed(&mut self, mut buf: &[u8]) {
        while !buf.is_empty() {
            if self.payload_left > 0 {
                let take = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                self.payload_left -= take as u64;
                buf = &buf[take..];
                continue;
            }
            self.head[self.have] = buf[0];
            self.have += 1;
            buf = &buf[1..];
            if self.header_len() != Some(self.have) {
                continue;
            }
            let h = &self.head;
            let fin = h[0] & 0x80 != 0;
            let opcode = h[0] & 0x0f;
            self.payload_left = match h[1] & 0x7f {
                126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                n => u64::from(n),
            };
            // control frames (8..) may come between a message's fragments
            if opcode < 8 {
                self.fragmented = !fin;
            }
            self.have = 0;
        }
    }
}

/// A socket whose reads fail once a started frame or message is older than the limit.
pub(crate) struct MessageDeadline<S> {
    inner: S,
    limit: Option<Duration>,
    scan: FrameScan,
    started: Option<Instant>,
    timer: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<S> MessageDeadline<S> {
    /// Wraps `inner`; `None` means no limit.
    pub(crate) fn new(inner: S, limit: Option<Duration>) -> Self {
        MessageDeadline {
            inner,
            limit,
            scan: FrameScan::default(),
            started: None,
            timer: None,
        }
    }

    fn expired(&self) -> Option<io::Error> {
        let (limit, started) = (self.limit?, self.started?);
        (started.elapsed() >= limit).then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "a WebSocket message was not finished within {} s",
                    limit.as_secs_f64()
                ),
            )
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for MessageDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.expired() {
            return Poll::Ready(Err(e));
        }
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.scan.feed(&buf[..n]);
                match (this.scan.open(), this.limit) {
                    (true, Some(limit)) if this.started.is_none() => {
                        this.started = Some(Instant::now());
                        this.timer = Some(Box::pin(async_std::task::sleep(limit)));
                    }
                    (false, _) => {
                        this.started = None;
                        this.timer = None;
                    }
                    _ => {}
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => {
                // wake up when the limit passes even if the client sends nothing more
                if let Some(t) = &mut this.timer
                    && t.as_mut().poll(cx).is_ready()
                {
                    this.timer = None;
                    if let Some(e) = this.expired() {
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for MessageDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame header (the payload bytes follow separately).
    fn header(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut h = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match len {
            0..=125 => h.push(0x80 | len as u8),
            126..=0xffff => {
                h.push(0x80 | 126);
                h.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                h.push(0x80 | 127);
                h.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        h.extend_from_slice(&[1, 2, 3, 4]);
        h
    }

    #[test]
    fn follows_frames_and_fragments() {
        let mut s = FrameScan::default();
        assert!(!s.open());
        // a whole small text frame, byte by byte
        let mut f = header(true, 1, 5);
        f.extend_from_slice(b"hello");
        for b in &f[..f.len() - 1] {
            s.feed(&[*b]);
            assert!(s.open());
        }
        s.feed(&f[f.len() - 1..]);
        assert!(!s.open());
        // a fragmented message with a ping between its frames
        s.feed(&header(false, 1, 0));
        assert!(s.open());
        s.feed(&header(true, 9, 0));
        assert!(s.open(), "a control frame does not end the message");
        s.feed(&header(true, 0, 0));
        assert!(!s.open());
        // long lengths
        s.feed(&header(true, 2, 70_000));
        assert_eq!(s.payload_left, 70_000);
        s.feed(&vec![0; 70_000]);
        assert!(!s.open());
        s.feed(&header(true, 2, 300));
        assert_eq!(s.payload_left, 300);
        // several frames in one read
        let mut s = FrameScan::default();
        let mut two = header(true, 1, 2);
        two.extend_from_slice(b"ab");
        two.extend(header(false, 1, 1));
        two.push(b'c');
        s.feed(&two);
        assert!(s.open() && s.fragmented && s.payload_left == 0);
    }
}
