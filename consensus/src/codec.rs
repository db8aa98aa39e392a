//! Wire encoding of Raft messages for a transport: protobuf (raft-rs's `eraftpb`), with the
//! size bound checked before decoding.

use protobuf::Message as _;
use raft::eraftpb::Message;

use crate::error::ConsensusError;

/// Encodes a message for the wire.
pub fn encode_message(msg: &Message) -> Result<Vec<u8>, ConsensusError> {
    msg.write_to_bytes()
        .map_err(|e| ConsensusError::Bug(format!("encoding a raft message: {e}")))
}

/// Decodes a message from the wire; bytes above `max_size_bytes` (use
/// `ConsensusConfig::max_message_size_bytes`) are refused before parsing.
pub fn decode_message(bytes: &[u8], max_size_bytes: u64) -> Result<Message, ConsensusError> {
    if bytes.len() as u64 > max_size_bytes {
        return Err(ConsensusError::MessageTooLarge {
            from: 0,
            what: "encoded message",
            size_bytes: bytes.len() as u64,
            max_bytes: max_size_bytes,
        });
    }
    let mut msg = Message::default();
    msg.merge_from_bytes(bytes)
        .map_err(|e| ConsensusError::MalformedMessage {
            reason: e.to_string(),
        })?;
    Ok(msg)
}
