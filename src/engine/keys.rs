//! The data key: wrapping it to an encryption's recipients ([`KeyPlan`], Shamir-split for
//! key groups) and recovering it from a file's metadata with the identities at hand.

use zeroize::{Zeroize, Zeroizing};

use crate::codec::metadata::{MasterKey, Metadata};
use crate::codec::token::DataKey;
use crate::codec::{CodecError, shamir};
use crate::keys::{
    IdentitySet, KeyError, Recipient, describe, unwrap_cost, unwrap_entry, wrap_entry,
};

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
    ) -> Result<(Vec<Vec<MasterKey>>, Option<usize>), EngineError> {
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
                entries.push(wrap_entry(part, r).map_err(EngineError::Key)?);
            }
            groups.push(entries);
        }
        Ok((groups, threshold))
    }
}

/// Recovers the data key from the metadata with the identities available: in each key
/// group, age entries first, then pgp (a gpg process each), in the file's order.
pub fn unwrap_data_key(md: &Metadata, identities: &IdentitySet) -> Result<DataKey, EngineError> {
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    // Why an identity could not be used (a locked key file without a terminal, a wrong
    // passphrase, gpg missing, a malformed entry) matters more than "no identity matched";
    // a service sealed does not reach matters least.
    let mut reason: Option<KeyError> = None;
    let mut unreachable: Option<KeyError> = None;
    let mut failed = Vec::new();
    for (g, group) in md.groups.iter().enumerate() {
        let mut order: Vec<&MasterKey> = group.iter().collect();
        order.sort_by_key(|e| unwrap_cost(e));
        // Identities in memory first, for every age entry of the group: an identity
        // command, a passphrase prompt or a plugin runs only when none of them fits.
        let mut found = order.iter().find_map(|e| match e {
            MasterKey::Age(a) => identities.unwrap_in_memory(&a.enc).ok().flatten(),
            _ => None,
        });
        if found.is_some() {
            order.clear();
        }
        for entry in order {
            match unwrap_entry(identities, entry) {
                Ok(part) => {
                    found = Some(part);
                    break;
                }
                Err(KeyError::NoMatchingIdentity) => {}
                Err(e @ KeyError::Unreachable(_)) => {
                    unreachable.get_or_insert(e);
                }
                Err(e) => {
                    reason.get_or_insert(e);
                }
            }
        }
        match found {
            Some(part) => parts.push(part),
            None => failed.push(g),
        }
    }
    let needed = md.shamir_threshold.map_or(1, |t| t.max(1));
    if parts.len() < needed {
        let recipients = md.groups.iter().flatten().map(describe).collect();
        let groups = match md.shamir_threshold {
            Some(t) if md.groups.len() > 1 => {
                let list: Vec<String> = failed.iter().map(usize::to_string).collect();
                format!(
                    " (key groups: {} of {} opened, {t} needed; not opened: key group {})",
                    parts.len(),
                    md.groups.len(),
                    list.join(", ")
                )
            }
            _ => String::new(),
        };
        return Err(match reason.or(unreachable) {
            Some(e) => EngineError::NoKeyBecause {
                recipients,
                reason: format!("{e}{groups}"),
            },
            None => {
                let mut searched = identities.searched().to_vec();
                if md
                    .groups
                    .iter()
                    .flatten()
                    .any(|e| matches!(e, MasterKey::Pgp(_)))
                {
                    searched.push("the gpg keyring".to_string());
                }
                EngineError::NoKey {
                    recipients,
                    searched,
                    groups,
                }
            }
        });
    }
    let key = match md.shamir_threshold {
        Some(_) => {
            let shares: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
            let key = shamir::combine(&shares)
                .map_err(|e| EngineError::Metadata(CodecError::Metadata(e.to_string())))?;
            let mut shares = shares;
            shares.iter_mut().for_each(|s| s.zeroize());
            key
        }
        None => parts.into_iter().next().ok_or(EngineError::NoRecipients)?,
    };
    DataKey::from_slice(&key).map_err(EngineError::Metadata)
}
