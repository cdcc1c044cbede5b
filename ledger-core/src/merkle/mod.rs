//! RFC 6962 / RFC 9162 Merkle tree math over a node source. (Being written.)
