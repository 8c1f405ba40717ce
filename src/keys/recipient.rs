//! Recipients (`age1…`, `age1pq1…`, `age1<plugin>1…`, `ssh-ed25519 …`, `ssh-rsa …`) and wrapping of the data key into the
//! armored age file SOPS stores in `enc:`.

use super::KeyError;
use age::armor::{ArmoredWriter, Format};
use std::fmt;
use std::io::Write;

/// Longest part of a rejected recipient string echoed back in an error message.
const ECHO_LIMIT: usize = 80;

/// A public key the data key is wrapped to.
#[derive(Clone)]
pub struct Recipient {
    text: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    X25519(age::x25519::Recipient),
    /// Post-quantum hybrid (`age1pq1…`, [`super::pq`]).
    Pq(Box<super::pq::Recipient>),
    /// An age plugin's (`age1<name>1…`, [`super::plugin`]): wrapping starts its binary.
    Plugin(Box<super::plugin::Recipient>),
    Ssh(age::ssh::Recipient),
    /// A PGP key's fingerprint (used through gpg).
    Pgp(String),
    /// An AWS KMS key.
    Kms(super::kms::KmsKey),
    /// A Vault transit key.
    Vault(super::vault::VaultKey),
}

impl Recipient {
    /// Parses `age1…`, `age1pq1…`, `ssh-ed25519 …` or `ssh-rsa …` (surrounding whitespace trimmed; an
    /// ssh key may carry a trailing comment, kept in [`Recipient::text`] as SOPS does).
    ///
    /// An age plugin recipient (`age1<plugin>1…`) is parsed without looking for its
    /// plugin, which only runs when the data key is wrapped to it.
    pub fn parse(s: &str) -> Result<Recipient, KeyError> {
        let text = s.trim();
        let kind = if text.starts_with(super::pq::RECIPIENT_PREFIX) {
            text.parse::<super::pq::Recipient>()
                .map(|r| Kind::Pq(Box::new(r)))
                .map_err(|_| bad_recipient(text))?
        } else if super::plugin::is_recipient(text) {
            text.parse::<super::plugin::Recipient>()
                .map(|r| Kind::Plugin(Box::new(r)))
                .map_err(|_| bad_recipient(text))?
        } else if text.starts_with("age1") {
            text.parse::<age::x25519::Recipient>()
                .map(Kind::X25519)
                .map_err(|_| bad_recipient(text))?
        } else if text.starts_with("ssh-ed25519 ") || text.starts_with("ssh-rsa ") {
            text.parse::<age::ssh::Recipient>()
                .map(Kind::Ssh)
                .map_err(|_| bad_recipient(text))?
        } else {
            return Err(bad_recipient(text));
        };
        Ok(Recipient {
            text: text.to_owned(),
            kind,
        })
    }

    /// A PGP recipient: a key fingerprint (spaces removed, as sops does). Its
    /// [`Recipient::text`] is `pgp:FINGERPRINT`.
    pub fn pgp(fp: &str) -> Result<Recipient, KeyError> {
        let fp = super::pgp::normalize_fingerprint(fp);
        if !super::pgp::is_fingerprint(&fp) {
            let shown: String = fp.chars().take(ECHO_LIMIT).collect();
            return Err(KeyError::BadFingerprint(shown));
        }
        Ok(Recipient {
            text: format!("{}{fp}", super::PGP_PREFIX),
            kind: Kind::Pgp(fp),
        })
    }

    /// An AWS KMS key. Its [`Recipient::text`] is [`super::kms::KmsKey::text`].
    pub fn kms(key: super::kms::KmsKey) -> Recipient {
        Recipient {
            text: key.text(),
            kind: Kind::Kms(key),
        }
    }

    /// Parses a recipient of any kind as `.sops.yaml` rules and layouts name them: an age
    /// recipient ([`Recipient::parse`]), `pgp:FINGERPRINT` or `kms:ARN…`.
    pub fn parse_any(s: &str) -> Result<Recipient, KeyError> {
        if let Some(k) = s.trim().strip_prefix(super::KMS_PREFIX) {
            return super::kms::KmsKey::from_text(k).map(Recipient::kms);
        }
        let t = s.trim();
        if t.starts_with("https://") || t.starts_with("http://") {
            return Recipient::vault(t);
        }
        match s.trim().strip_prefix(super::PGP_PREFIX) {
            Some(fp) => Recipient::pgp(fp),
            None => Recipient::parse(s),
        }
    }

    /// The key of an AWS KMS recipient.
    pub fn kms_key(&self) -> Option<&super::kms::KmsKey> {
        match &self.kind {
            Kind::Kms(k) => Some(k),
            _ => None,
        }
    }

    /// The recipient as written in SOPS metadata (`recipient:` field); `pgp:FINGERPRINT`
    /// for a PGP key.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A Vault transit key, from its URI (`https://host:8200/v1/transit/keys/NAME`); its
    /// [`Recipient::text`] is the URI as sops prints it.
    pub fn vault(uri: &str) -> Result<Recipient, KeyError> {
        let key = super::vault::VaultKey::parse_uri(uri)?;
        Ok(Recipient {
            text: key.uri(),
            kind: Kind::Vault(key),
        })
    }

    /// The transit key of a Vault recipient.
    pub fn vault_key(&self) -> Option<&super::vault::VaultKey> {
        match &self.kind {
            Kind::Vault(k) => Some(k),
            _ => None,
        }
    }

    /// The fingerprint of a PGP recipient.
    pub fn fingerprint(&self) -> Option<&str> {
        match &self.kind {
            Kind::Pgp(fp) => Some(fp),
            _ => None,
        }
    }

    fn as_age(&self) -> Option<&dyn age::Recipient> {
        match &self.kind {
            Kind::X25519(r) => Some(r),
            Kind::Pq(r) => Some(r.as_ref()),
            Kind::Plugin(r) => Some(r.as_ref()),
            Kind::Ssh(r) => Some(r),
            Kind::Pgp(_) | Kind::Kms(_) | Kind::Vault(_) => None,
        }
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recipient").field(&self.text).finish()
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Recipient {}

impl std::hash::Hash for Recipient {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// The error for an unparsable recipient: echoes at most [`ECHO_LIMIT`] characters, and
/// nothing at all when the string looks like secret key material pasted by mistake.
fn bad_recipient(text: &str) -> KeyError {
    let upper = text.to_ascii_uppercase();
    if upper.contains("SECRET-KEY")
        || upper.contains("PRIVATE KEY")
        || upper.contains("AGE-PLUGIN-")
    {
        return KeyError::BadRecipient("<secret key material, not shown>".to_owned());
    }
    let mut shown: String = text.chars().take(ECHO_LIMIT).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    KeyError::BadRecipient(shown)
}

/// Wraps `data_key` (32 bytes; 33 for a Shamir share) to one recipient as an armored age
/// file ending in a newline (a PGP message for a PGP recipient), exactly what SOPS stores
/// in `enc:`.
pub fn wrap_data_key(data_key: &[u8], recipient: &Recipient) -> Result<String, KeyError> {
    if data_key.is_empty() {
        return Err(KeyError::Wrap("the data key is empty".to_owned()));
    }
    let wrap_err = |e: std::io::Error| KeyError::Wrap(e.to_string());
    if let Some(key) = recipient.kms_key() {
        let fields = super::kms::encrypt(data_key, key)?;
        return Ok(fields
            .get("enc")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string());
    }
    let Some(age_recipient) = recipient.as_age() else {
        return super::pgp::encrypt(data_key, recipient.fingerprint().unwrap_or_default());
    };
    let encryptor = age::Encryptor::with_recipients(std::iter::once(age_recipient))
        .map_err(|e| KeyError::Wrap(e.to_string()))?;
    let armor = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).map_err(wrap_err)?;
    let mut writer = encryptor.wrap_output(armor).map_err(wrap_err)?;
    writer.write_all(data_key).map_err(wrap_err)?;
    let armor = writer.finish().map_err(wrap_err)?;
    let out = armor.finish().map_err(wrap_err)?;
    let mut text = String::from_utf8(out)
        .map_err(|_| KeyError::Wrap("the age armor is not ASCII".to_owned()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentitySet;
    use std::path::PathBuf;

    const RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC8kX0jZFLxhZFSVWMS/WlxxRrdzopW/DNWzbdvXV+3VHqNG4fOnSnLBYG2sRLXYMzM8Rio/LBVp3E3/8BwgSlWEHanIam9J6K8JOJWGz5PtF52k0QaWlMj+AxJ3pjYWUbPJ6zNkZl+93LDPE6ARRQLAacB0g2YFEYY2iUJwCNU3KZ5kMkbDSS4qNhKDP0LGbzUpCns6OiM5XfW3xbToKkpmLuBCJpWv3l98jqXuJi2iubDGpmT1QJD127A5CSvz4COB+ZZmwjtKuKHaUf3v1N63m5Vb6WptFg7Gm1rqTdNYtilklEz1+lWqQdoFJIvwjRWiVDiS3VCyfE/0Xkh88PP rsa-test";

    fn fixtures() -> Option<PathBuf> {
        crate::testutil::sops_fixtures()
    }

    fn new_identity() -> (String, Recipient) {
        use age::secrecy::ExposeSecret;
        let id = age::x25519::Identity::generate();
        let public = id.to_public().to_string();
        (
            id.to_string().expose_secret().to_owned(),
            Recipient::parse(&public).unwrap(),
        )
    }

    #[test]
    fn parses_age_recipients_from_fixture_keys() {
        let Some(dir) = fixtures() else { return };
        let keys = std::fs::read_to_string(dir.join("keys.txt")).unwrap();
        let publics: Vec<&str> = keys
            .lines()
            .filter_map(|l| l.split("public key: ").nth(1))
            .collect();
        assert_eq!(publics.len(), 3);
        for p in publics {
            let r = Recipient::parse(&format!("  {p}\n")).unwrap();
            assert_eq!(r.text(), p);
        }
    }

    #[test]
    fn parses_ssh_ed25519_with_comment() {
        let Some(dir) = fixtures() else { return };
        let line = std::fs::read_to_string(dir.join("ssh_ed25519_test_key.pub")).unwrap();
        let r = Recipient::parse(&line).unwrap();
        assert_eq!(r.text(), line.trim());
        assert!(r.text().ends_with(" Test"));
        // Without the comment too.
        let bare: Vec<&str> = line.split_whitespace().take(2).collect();
        assert!(Recipient::parse(&bare.join(" ")).is_ok());
    }

    #[test]
    fn parses_ssh_rsa() {
        let r = Recipient::parse(RSA_PUB).unwrap();
        assert_eq!(r.text(), RSA_PUB);
        assert_eq!(format!("{r}"), RSA_PUB);
    }

    #[test]
    fn rejects_bad_recipients_with_short_messages() {
        for bad in [
            "",
            "age1",
            "age1notbech32",
            "AGE1YT3TFQLFRWDWX0Z0YNWPLCR6QXCXFAQYCUPRPMY89NR83LTX74TQDPSZLW",
            "ssh-ed25519 AAAAnotbase64!!",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            "pgp:ABCDEF",
        ] {
            assert!(
                matches!(Recipient::parse(bad), Err(KeyError::BadRecipient(_))),
                "{bad:?} was accepted"
            );
        }
        let long = format!("age1{}", "q".repeat(5000));
        let msg = Recipient::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 250, "message too long: {}", msg.len());
        let secret = "AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6";
        let msg = Recipient::parse(secret).unwrap_err().to_string();
        assert!(!msg.contains("NJT5YCS"), "secret echoed: {msg}");
    }

    #[test]
    fn wrap_is_armored_and_roundtrips() {
        let (secret, recipient) = new_identity();
        let key = [7u8; 32];
        let enc = wrap_data_key(&key, &recipient).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let ids = IdentitySet::from_keys_text(&secret, "test").unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &key);
        // Each wrap is fresh.
        assert_ne!(enc, wrap_data_key(&key, &recipient).unwrap());
        // Another key does not open it.
        let (other, _) = new_identity();
        let ids = IdentitySet::from_keys_text(&other, "other").unwrap();
        assert!(matches!(
            ids.unwrap(&enc),
            Err(KeyError::NoMatchingIdentity)
        ));
    }

    #[test]
    fn pgp_recipients_are_fingerprints() {
        let r = Recipient::pgp(" 85D7 7543B3D624B63CEA9E6DBC17301B491B3F21 ").unwrap();
        assert_eq!(r.text(), "pgp:85D77543B3D624B63CEA9E6DBC17301B491B3F21");
        assert_eq!(
            r.fingerprint(),
            Some("85D77543B3D624B63CEA9E6DBC17301B491B3F21")
        );
        assert_eq!(Recipient::parse_any(r.text()).unwrap(), r);
        assert!(Recipient::parse_any("age1notbech32").is_err());
        for bad in [
            "",
            "ABCDEF",
            "not-hex-at-all-not-hex",
            "--exec=evil0123456789",
        ] {
            assert!(
                matches!(Recipient::pgp(bad), Err(KeyError::BadFingerprint(_))),
                "{bad:?}"
            );
        }
        // `Recipient::parse` (--age) never takes a PGP label.
        assert!(Recipient::parse(r.text()).is_err());
    }

    #[test]
    fn debug_shows_only_public_text() {
        let (_, recipient) = new_identity();
        assert_eq!(
            format!("{recipient:?}"),
            format!("Recipient({:?})", recipient.text())
        );
    }

    #[test]
    fn age_cli_decrypts_wrapped_key() {
        let Ok(out) = std::process::Command::new("age").arg("--version").output() else {
            eprintln!("skipping: `age` is not on PATH");
            return;
        };
        assert!(out.status.success());
        let (secret, recipient) = new_identity();
        let dir = tempfile::tempdir().unwrap();
        let keyfile = dir.path().join("keys.txt");
        std::fs::write(&keyfile, format!("{secret}\n")).unwrap();
        let key: Vec<u8> = (0u8..32).collect();
        let enc = wrap_data_key(&key, &recipient).unwrap();
        let encfile = dir.path().join("enc.age");
        std::fs::write(&encfile, &enc).unwrap();
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&keyfile)
            .arg(&encfile)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "age -d failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, key);
    }

    #[test]
    fn wraps_to_ssh_recipients() {
        let Some(dir) = fixtures() else { return };
        let line = std::fs::read_to_string(dir.join("ssh_ed25519_test_key.pub")).unwrap();
        let r = Recipient::parse(&line).unwrap();
        let key = [42u8; 32];
        let enc = wrap_data_key(&key, &r).unwrap();
        let path = dir.join("ssh_ed25519_test_key").display().to_string();
        let env = move |k: &str| (k == "SOPS_AGE_SSH_PRIVATE_KEY_FILE").then(|| path.clone());
        let home = tempfile::tempdir().unwrap();
        let ids = IdentitySet::discover_with(&env, Some(home.path().to_path_buf())).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &key);

        let rsa = Recipient::parse(RSA_PUB).unwrap();
        let enc = wrap_data_key(&key, &rsa).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    }
}
