//! Recipients and data-key wrapping. (stub: to be implemented)

use super::KeyError;

/// A public key the data key is wrapped to.
pub struct Recipient {
    text: String,
}

impl Recipient {
    /// Parses `age1…`, `ssh-ed25519 …` or `ssh-rsa …` (surrounding whitespace trimmed).
    pub fn parse(s: &str) -> Result<Recipient, KeyError> {
        let _ = s;
        todo!()
    }

    /// The recipient as written in SOPS metadata (`recipient:` field).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Wraps `data_key` (32 bytes) to one recipient as an armored age file ending in a newline,
/// exactly what SOPS stores in `enc:`.
pub fn wrap_data_key(data_key: &[u8], recipient: &Recipient) -> Result<String, KeyError> {
    let _ = (data_key, recipient);
    todo!()
}
