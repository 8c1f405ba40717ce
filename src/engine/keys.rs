//! The data key: wrapping it to an encryption's recipients ([`KeyPlan`], Shamir-split for
//! key groups) and recovering it from a file's metadata with the identities at hand.

use zeroize::{Zeroize, Zeroizing};

use crate::codec::metadata::{AgeEntry, Metadata};
use crate::codec::token::DataKey;
use crate::codec::{CodecError, shamir};
use crate::keys::{IdentitySet, KeyError, Recipient, wrap_data_key};

use super::error::EngineError;

/// The recipients of an encryption: key groups (one group unless Shamir) and threshold.
pub struct KeyPlan {
    /// Key groups of recipients.
    pub groups: Vec<Vec<Recipient>>,
    /// Shamir threshold when there are several groups.
    pub threshold: Option<usize>,
}

impl KeyPlan {
    /// Wraps `key` to every recipient, splitting it with Shamir when there are several groups.
    pub(super) fn wrap(
        &self,
        key: &DataKey,
    ) -> Result<(Vec<Vec<AgeEntry>>, Option<usize>), EngineError> {
        if self.groups.iter().all(Vec::is_empty) {
            return Err(EngineError::NoRecipients);
        }
        let (parts, threshold): (Vec<Zeroizing<Vec<u8>>>, Option<usize>) = if self.groups.len() > 1
        {
            let t = self.threshold.unwrap_or(self.groups.len());
            let shares = shamir::split(key.as_bytes(), self.groups.len(), t)
                .map_err(|e| EngineError::Metadata(CodecError::Metadata(e.to_string())))?;
            (shares.into_iter().map(Zeroizing::new).collect(), Some(t))
        } else {
            (vec![Zeroizing::new(key.as_bytes().to_vec())], None)
        };
        let mut groups = Vec::new();
        for (group, part) in self.groups.iter().zip(&parts) {
            let mut entries = Vec::new();
            for r in group {
                entries.push(AgeEntry {
                    recipient: r.text().to_string(),
                    enc: wrap_data_key(part, r).map_err(EngineError::Key)?,
                });
            }
            groups.push(entries);
        }
        Ok((groups, threshold))
    }
}

/// Recovers the data key from the metadata with the identities available.
pub fn unwrap_data_key(md: &Metadata, identities: &IdentitySet) -> Result<DataKey, EngineError> {
    let no_key = || EngineError::NoKey {
        recipients: md.recipients().map(str::to_string).collect(),
        searched: identities.searched().to_vec(),
    };
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    // Why an identity could not be used (a locked key file without a terminal, a wrong
    // passphrase, a malformed entry) matters more than "no identity matched".
    let mut reason: Option<KeyError> = None;
    for group in &md.groups {
        let mut found = None;
        for entry in group {
            match identities.unwrap(&entry.enc) {
                Ok(part) => {
                    found = Some(part);
                    break;
                }
                Err(KeyError::NoMatchingIdentity) => {}
                Err(e) => {
                    reason.get_or_insert(e);
                }
            }
        }
        if let Some(part) = found {
            parts.push(part);
        }
    }
    let no_key = || match &reason {
        Some(e) => EngineError::NoKeyBecause {
            recipients: md.recipients().map(str::to_string).collect(),
            reason: e.to_string(),
        },
        None => no_key(),
    };
    let key = match md.shamir_threshold {
        Some(t) => {
            if parts.len() < t.max(1) {
                return Err(no_key());
            }
            let shares: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
            let key = shamir::combine(&shares)
                .map_err(|e| EngineError::Metadata(CodecError::Metadata(e.to_string())))?;
            let mut shares = shares;
            shares.iter_mut().for_each(|s| s.zeroize());
            key
        }
        None => parts.into_iter().next().ok_or_else(no_key)?,
    };
    DataKey::from_slice(&key).map_err(EngineError::Metadata)
}
