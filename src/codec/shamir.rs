//! Shamir (stub: to be implemented)
use zeroize::Zeroizing;

/// Shamir errors.
#[derive(Debug, thiserror::Error)]
#[error("shamir: {0}")]
pub struct ShamirError(pub String);

/// Split.
pub fn split(_secret: &[u8], _parts: usize, _threshold: usize) -> Result<Vec<Vec<u8>>, ShamirError> {
    todo!()
}

/// Combine.
pub fn combine(_shares: &[Vec<u8>]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    todo!()
}
