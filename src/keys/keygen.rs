//! `sealed keygen`. (stub: to be implemented)

use super::KeyError;
use std::path::Path;

/// A freshly generated identity.
pub struct GeneratedKey {
    /// The public key (`age1…`).
    pub public: String,
}

/// Generates a new X25519 identity and writes it in age's keys.txt format (with the
/// `# created:` and `# public key:` comment lines) to `out` with mode 0600 (parent
/// directories created), refusing to overwrite an existing file; to stdout when `out` is None.
pub fn generate(out: Option<&Path>) -> Result<GeneratedKey, KeyError> {
    let _ = out;
    todo!()
}
