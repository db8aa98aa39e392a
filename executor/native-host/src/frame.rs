//! The contract ↔ host frame: `len: u32 LE | tag: u8 | payload[len]` (proto/NATIVE_ABI.md).

use tokio::io::{AsyncRead, AsyncReadExt};

pub const TAG_CALL: u8 = 0x01;
pub const TAG_STORAGE_VALUE: u8 = 0x02;
pub const TAG_CALL_RESULT: u8 = 0x03;
pub const TAG_STORAGE_READ: u8 = 0x10;
pub const TAG_STORAGE_WRITE: u8 = 0x11;
pub const TAG_LOG: u8 = 0x12;
pub const TAG_CALL_CONTRACT: u8 = 0x13;
pub const TAG_RETURN: u8 = 0x1E;
pub const TAG_REVERT: u8 = 0x1F;

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

/// Reads one frame. `Ok(None)` at a clean end of stream (between frames).
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_payload: u32,
) -> Result<Option<Frame>, FrameError> {
    let mut header = [0u8; HEADER_BYTES];
    let mut got = 0;
    while got < HEADER_BYTES {
        let n = r.read(&mut header[got..]).await.map_err(FrameError::Io)?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        got += n;
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if len > max_payload {
        return Err(FrameError::TooLarge {
            len,
            max: max_payload,
        });
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    })?;
    Ok(Some(Frame {
        tag: header[4],
        payload,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_limits() {
        let mut bytes = encode(TAG_RETURN, b"hello");
        bytes.extend(encode(TAG_STORAGE_READ, &[7u8; 32]));
        let mut r = &bytes[..];
        let f = read_frame(&mut r, 64).await.unwrap().unwrap();
        assert_eq!((f.tag, &f.payload[..]), (TAG_RETURN, &b"hello"[..]));
        let f = read_frame(&mut r, 64).await.unwrap().unwrap();
        assert_eq!((f.tag, f.payload.len()), (TAG_STORAGE_READ, 32));
        assert!(read_frame(&mut r, 64).await.unwrap().is_none());

        let big = encode(TAG_LOG, &[0u8; 100]);
        assert!(matches!(
            read_frame(&mut &big[..], 64).await,
            Err(FrameError::TooLarge { len: 100, max: 64 })
        ));
        let cut = &encode(TAG_LOG, &[0u8; 10])[..8];
        assert!(matches!(
            read_frame(&mut &cut[..], 64).await,
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_frame(&mut &cut[..3], 64).await,
            Err(FrameError::Truncated)
        ));
    }
}
