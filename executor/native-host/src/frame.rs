//! The contract ↔ host frame: `len: u32 LE | tag: u8 | payload[len]` (proto/NATIVE_ABI.md).

use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncReadExt};

pub const TAG_CALL: u8 = 0x01;
pub const TAG_STORAGE_VALUE: u8 = 0x02;
pub const TAG_CALL_RESULT: u8 = 0x03;
pub const TAG_PRELOAD: u8 = 0x04;
pub const TAG_STORAGE_READ: u8 = 0x10;
pub const TAG_STORAGE_WRITE: u8 = 0x11;
pub const TAG_LOG: u8 = 0x12;
pub const TAG_CALL_CONTRACT: u8 = 0x13;
pub const TAG_STORAGE_SEEN: u8 = 0x14;
pub const TAG_RETURN: u8 = 0x1E;
pub const TAG_REVERT: u8 = 0x1F;
pub const TAG_HELLO: u8 = 0x20;

/// HELLO feature bit: the contract takes a PRELOAD frame before a CALL and reports the reads it
/// answers from it with STORAGE_SEEN.
pub const FEATURE_PRELOAD: u32 = 1;

/// Bytes of the frame header (length + tag).
pub const HEADER_BYTES: usize = 5;

#[derive(Debug)]
pub struct Frame {
    pub tag: u8,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
pub enum FrameError {
    /// The header announced more than the limit; the payload is not read.
    TooLarge {
        len: u32,
        max: u32,
    },
    /// The stream ended inside a frame.
    Truncated,
    Io(std::io::Error),
}

pub fn encode(tag: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frame payloads are bounded far below 4 GiB");
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.push(tag);
    out.extend_from_slice(payload);
    out
}

/// Frames from a contract's stdout, read on the task that runs the call (no reader task and
/// channel between the pipe and the call: a hand-off less per frame). [`FrameReader::next`] is
/// cancel-safe: bytes read are kept in the buffer until a whole frame is there, so it can sit in
/// a `select!` with the node's stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    at: usize,
    max_payload: u32,
    eof: bool,
}

/// Bytes asked of the pipe per read.
const READ_CHUNK: usize = 64 << 10;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, max_payload: u32) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            at: 0,
            max_payload,
            eof: false,
        }
    }

    /// Whether bytes the contract wrote are waiting here (read from the pipe, not yet taken).
    pub fn has_buffered(&self) -> bool {
        self.at < self.buf.len()
    }

    /// Whether the pipe stayed quiet since it was last found empty, going by the readiness the
    /// runtime keeps for it: no system call unless the pipe was signalled meanwhile (then one
    /// read, whose bytes are kept for the next frame). `false` if bytes wait here or in the pipe,
    /// or at the pipe's end (the process died). For the check on the way into a call, where
    /// every system call is latency (under gVisor's ptrace platform a round trip through the
    /// sentry); [`read_available`](Self::read_available) asks the pipe itself.
    pub fn is_quiet(&mut self) -> bool {
        use std::task::{Context, Poll, Waker};
        if self.eof || self.has_buffered() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut chunk = [0u8; 4096];
        let mut rb = tokio::io::ReadBuf::new(&mut chunk);
        match std::pin::Pin::new(&mut self.inner).poll_read(&mut cx, &mut rb) {
            Poll::Pending => true,
            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                self.eof = true;
                false
            }
            Poll::Ready(Ok(())) => {
                self.buf.extend_from_slice(rb.filled());
                false
            }
            Poll::Ready(Err(_)) => false,
        }
    }

    /// The next frame; `Ok(None)` at a clean end of stream (between frames). Cancel-safe.
    pub async fn next(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if let Some(f) = self.parse()? {
                return Ok(Some(f));
            }
            if self.eof {
                return if self.has_buffered() {
                    Err(FrameError::Truncated)
                } else {
                    Ok(None)
                };
            }
            self.compact();
            // `read_buf` is cancel-safe: if the future is dropped, nothing was read.
            let want = READ_CHUNK.max(self.needed());
            self.buf.reserve(want);
            let n = (&mut self.inner)
                .take(want as u64)
                .read_buf(&mut self.buf)
                .await
                .map_err(FrameError::Io)?;
            if n == 0 {
                self.eof = true;
            }
        }
    }

    /// Takes a whole frame off the buffer, if one is there.
    fn parse(&mut self) -> Result<Option<Frame>, FrameError> {
        let rest = &self.buf[self.at..];
        if rest.len() < HEADER_BYTES {
            return Ok(None);
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if len > self.max_payload {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_payload,
            });
        }
        let end = HEADER_BYTES + len as usize;
        if rest.len() < end {
            return Ok(None);
        }
        let f = Frame {
            tag: rest[4],
            payload: rest[HEADER_BYTES..end].to_vec(),
        };
        self.at += end;
        if self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        }
        Ok(Some(f))
    }

    /// Bytes still missing for the frame at the head of the buffer (0 if unknown).
    fn needed(&self) -> usize {
        let rest = &self.buf[self.at..];
        if rest.len() < HEADER_BYTES {
            return 0;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        (HEADER_BYTES + len).saturating_sub(rest.len())
    }

    fn compact(&mut self) {
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
    }
}

impl<R: AsyncRead + Unpin + AsFd> FrameReader<R> {
    /// Reads what the pipe holds right now without waiting (the pipe is non-blocking, as tokio
    /// sets it up), up to 4 KiB; `false` at its end. For looking at what a contract wrote while
    /// no call runs (its HELLO, stray output between calls): once per persistent call, so no
    /// large buffer is cleared for it.
    pub fn read_available(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let mut chunk = [0u8; 4096];
        match nix::unistd::read(self.inner.as_fd(), &mut chunk) {
            Ok(0) => self.eof = true,
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(_) => {} // EAGAIN: nothing there; other errors show on the next read
        }
        !self.eof
    }

    /// Takes a HELLO frame if it is the first thing the contract wrote (it writes one before it
    /// first waits for a call, so it is there once the process sleeps): its feature bits, else 0.
    /// Anything else stays buffered for the call to meet.
    pub fn take_hello(&mut self) -> u32 {
        self.read_available();
        let rest = &self.buf[self.at..];
        if rest.len() >= HEADER_BYTES + 4 && rest[..5] == [4, 0, 0, 0, TAG_HELLO] {
            let bits = u32::from_le_bytes([rest[5], rest[6], rest[7], rest[8]]);
            self.at += HEADER_BYTES + 4;
            return bits;
        }
        0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn read_all(bytes: &[u8], max: u32) -> Vec<Result<Option<(u8, usize)>, String>> {
        let mut r = FrameReader::new(bytes, max);
        let mut out = Vec::new();
        loop {
            let item = r.next().await;
            let end = !matches!(item, Ok(Some(_)));
            out.push(
                item.map(|f| f.map(|f| (f.tag, f.payload.len())))
                    .map_err(|e| format!("{e:?}")),
            );
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn round_trip_and_limits() {
        let mut bytes = encode(TAG_RETURN, b"hello");
        bytes.extend(encode(TAG_STORAGE_READ, &[7u8; 32]));
        let mut r = FrameReader::new(&bytes[..], 64);
        let f = r.next().await.unwrap().unwrap();
        assert_eq!((f.tag, &f.payload[..]), (TAG_RETURN, &b"hello"[..]));
        let f = r.next().await.unwrap().unwrap();
        assert_eq!((f.tag, f.payload.len()), (TAG_STORAGE_READ, 32));
        assert!(r.next().await.unwrap().is_none());

        let big = encode(TAG_LOG, &[0u8; 100]);
        assert_eq!(
            read_all(&big, 64).await,
            vec![Err("TooLarge { len: 100, max: 64 }".into())]
        );
        let cut = &encode(TAG_LOG, &[0u8; 10])[..8];
        assert_eq!(read_all(cut, 64).await, vec![Err("Truncated".into())]);
        assert_eq!(read_all(&cut[..3], 64).await, vec![Err("Truncated".into())]);
        assert_eq!(read_all(&[], 64).await, vec![Ok(None)]);
    }

    /// Frames split across reads in every way come out whole, and a `next` dropped while it
    /// waits for the rest of a frame loses nothing (it sits in a `select!` with the node).
    #[tokio::test]
    async fn frames_across_reads_and_cancelled_waits() {
        let mut bytes = encode(TAG_STORAGE_WRITE, &[1u8; 64]);
        bytes.extend(encode(TAG_LOG, &[2u8; 3000]));
        bytes.extend(encode(TAG_RETURN, b""));
        for chunk in [1, 2, 5, 7, 64, 4096] {
            let (mut w, r) = tokio::io::duplex(chunk);
            let mut reader = FrameReader::new(r, 1 << 20);
            let data = bytes.clone();
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                for c in data.chunks(chunk) {
                    w.write_all(c).await.unwrap();
                    tokio::task::yield_now().await;
                }
            });
            let mut got = Vec::new();
            while got.len() < 3 {
                tokio::select! {
                    biased;
                    f = reader.next() => got.push(f.unwrap().unwrap()),
                    () = tokio::task::yield_now() => {}
                }
            }
            writer.await.unwrap();
            let shape: Vec<(u8, usize)> = got.iter().map(|f| (f.tag, f.payload.len())).collect();
            assert_eq!(
                shape,
                vec![(TAG_STORAGE_WRITE, 64), (TAG_LOG, 3000), (TAG_RETURN, 0)],
                "chunk {chunk}"
            );
            assert_eq!(got[1].payload, vec![2u8; 3000]);
            assert!(reader.next().await.unwrap().is_none());
        }
    }

    /// `is_quiet` over a real pipe: quiet while nothing was written, not once a frame arrived
    /// (and the frame is kept for the next read), quiet again after it was read, not at the
    /// pipe's end.
    #[tokio::test]
    async fn quiet_pipe() {
        use tokio::io::AsyncWriteExt;
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(20));
        let (mut w, r) = tokio::net::unix::pipe::pipe().unwrap();
        let mut reader = FrameReader::new(r, 1 << 20);
        settle().await;
        assert!(reader.is_quiet(), "nothing written");
        assert!(reader.is_quiet(), "still nothing");
        w.write_all(&encode(TAG_RETURN, b"stale")).await.unwrap();
        settle().await;
        assert!(!reader.is_quiet(), "a frame arrived");
        assert!(!reader.is_quiet(), "and waits here");
        let f = reader.next().await.unwrap().unwrap();
        assert_eq!((f.tag, &f.payload[..]), (TAG_RETURN, &b"stale"[..]));
        assert!(reader.is_quiet(), "read");
        drop(w);
        settle().await;
        assert!(!reader.is_quiet(), "the writer is gone");
    }
}
