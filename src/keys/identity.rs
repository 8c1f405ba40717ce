//! Identity discovery and unwrapping. (stub: to be implemented)

use super::KeyError;
use zeroize::Zeroizing;

/// All identities found, in SOPS's search order, combined.
pub struct IdentitySet {
    searched: Vec<String>,
}

impl IdentitySet {
    /// Looks where SOPS looks: `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`,
    /// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `$XDG_CONFIG_HOME/sops/age/keys.txt` (default
    /// `~/.config/sops/age/keys.txt`), `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`. Missing sources
    /// are skipped; a source that exists but is broken is an error naming it.
    pub fn discover() -> Result<IdentitySet, KeyError> {
        todo!()
    }

    /// Human-readable list of the places looked at (for "no key" errors).
    pub fn searched(&self) -> &[String] {
        &self.searched
    }

    /// True when no identity at all was found.
    pub fn is_empty(&self) -> bool {
        todo!()
    }

    /// Unwraps one armored age file (an `enc:` entry) into the data key.
    pub fn unwrap(&self, armored: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let _ = armored;
        todo!()
    }
}
