//! SOPS's MAC: SHA-512 over the plaintext bytes of every value in walk order (see
//! `Tree.Encrypt` in `sops.go`), uppercase hex, stored encrypted with `lastmodified` as
//! additional data.

use sha2::{Digest, Sha512};

use super::CodecError;
use super::token::{DataKey, Token};

/// `sha256("sops")`: the first bytes hashed when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Accumulates the MAC of a document walk.
pub struct MacHasher {
    hash: Sha512,
    only_encrypted: bool,
}

impl MacHasher {
    /// A new hasher; `only_encrypted` is the `mac_only_encrypted` setting.
    pub fn new(only_encrypted: bool) -> MacHasher {
        let mut hash = Sha512::new();
        if only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        MacHasher {
            hash,
            only_encrypted,
        }
    }

    /// Feeds one value's plaintext bytes (not comments, not nulls).
    pub fn add(&mut self, bytes: &[u8], encrypted: bool) {
        if encrypted || !self.only_encrypted {
            self.hash.update(bytes);
        }
    }

    /// The MAC as 128 uppercase hex digits.
    pub fn finish(self) -> String {
        self.hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

/// SOPS re-formats `lastmodified` with Go's RFC 3339 layout before using it as additional
/// data: fractional seconds dropped, a zero offset written `Z`.
pub fn mac_aad(lastmodified: &str) -> String {
    let s = lastmodified.trim();
    let (datetime, zone) = match s.rfind(['Z', 'z', '+', '-']) {
        Some(i) if i >= 19 => (&s[..i], &s[i..]),
        _ => (s, ""),
    };
    let datetime = datetime.split('.').next().unwrap_or(datetime);
    let zone = match zone {
        "z" | "+00:00" | "-00:00" => "Z",
        z => z,
    };
    format!("{datetime}{zone}")
}

/// Encrypts a MAC for the metadata.
pub fn seal_mac(mac: &str, key: &DataKey, lastmodified: &str) -> String {
    Token::seal(mac.as_bytes(), key, &mac_aad(lastmodified), "str").to_string()
}

/// Decrypts the stored MAC.
pub fn open_mac(stored: &str, key: &DataKey, lastmodified: &str) -> Result<String, CodecError> {
    let token = Token::parse(stored)?;
    let bytes = token.open(key, &mac_aad(lastmodified))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| CodecError::BadType("str".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_normalisation() {
        assert_eq!(mac_aad("2026-11-23T04:29:21Z"), "2026-11-23T04:29:21Z");
        assert_eq!(mac_aad("2026-11-23T04:29:21.123Z"), "2026-11-23T04:29:21Z");
        assert_eq!(mac_aad("2026-11-23T04:29:21+00:00"), "2026-11-23T04:29:21Z");
        assert_eq!(
            mac_aad("2026-11-23T04:29:21+02:00"),
            "2026-11-23T04:29:21+02:00"
        );
    }

    #[test]
    fn only_encrypted_changes_mac() {
        let mut a = MacHasher::new(false);
        let mut b = MacHasher::new(true);
        a.add(b"x", true);
        b.add(b"x", true);
        b.add(b"y", false);
        assert_ne!(a.finish(), b.finish());
    }
}
