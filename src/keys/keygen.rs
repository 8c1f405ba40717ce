//! `sealed keygen`: a new X25519 or post-quantum identity in `age-keygen`'s file format.

use super::KeyError;
use age::secrecy::{ExposeSecret, SecretString};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use zeroize::Zeroizing;

/// A freshly generated identity.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The public key (`age1…`).
    pub public: String,
}

/// The kind of identity `sealed keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// age's X25519 (`AGE-SECRET-KEY-1…`, recipient `age1…`).
    #[default]
    X25519,
    /// The post-quantum hybrid ML-KEM-768 + X25519 (`AGE-SECRET-KEY-PQ-1…`, recipient
    /// `age1pq1…`), as `age-keygen -pq` makes.
    Pq,
}

/// A new identity of `kind`: its secret line and its public key.
fn new_identity(kind: KeyKind) -> (SecretString, String) {
    match kind {
        KeyKind::X25519 => {
            let id = age::x25519::Identity::generate();
            (id.to_string(), id.to_public().to_string())
        }
        KeyKind::Pq => {
            let id = super::pq::Identity::generate();
            (id.to_string(), id.to_public().to_string())
        }
    }
}

/// Generates a new X25519 identity and writes it in age's keys.txt format (with the
/// `# created:` and `# public key:` comment lines) to `out` with mode 0600 (parent
/// directories created), refusing to overwrite an existing file; to stdout when `out` is None.
pub fn generate(out: Option<&Path>) -> Result<GeneratedKey, KeyError> {
    generate_kind(out, KeyKind::X25519)
}

/// [`generate`] for an identity of the given kind.
pub fn generate_kind(out: Option<&Path>, kind: KeyKind) -> Result<GeneratedKey, KeyError> {
    let (secret, public) = new_identity(kind);
    let content = key_file_text(&secret, &public, std::time::SystemTime::now());
    match out {
        Some(path) => write_new_file(path, content.as_bytes())?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(content.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| KeyError::Io(format!("cannot write the key to stdout: {e}")))?;
        }
    }
    Ok(GeneratedKey { public })
}

/// Generates a new X25519 identity and appends it to the keys file `path` (created with
/// mode 0600 when missing); the identities already there are kept byte for byte. Returns
/// the new key and how many identities the file now holds.
pub fn append(path: &Path) -> Result<(GeneratedKey, usize), KeyError> {
    append_kind(path, KeyKind::X25519)
}

/// [`append`] for an identity of the given kind.
pub fn append_kind(path: &Path, kind: KeyKind) -> Result<(GeneratedKey, usize), KeyError> {
    let shown = path.display();
    let old = match std::fs::read(path) {
        Ok(old) => Zeroizing::new(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_kind(Some(path), kind)?;
            return Ok((key, 1));
        }
        Err(e) => return Err(KeyError::Io(format!("{shown}: cannot read: {e}"))),
    };
    let before = count_identities(&old);
    if before == 0 && old.iter().any(|b| !b.is_ascii_whitespace() && *b != b'#') {
        // Not a keys file (an encrypted identity file, an ssh key…): never append to it.
        return Err(KeyError::Io(format!(
            "{shown}: holds no plain age identity lines; refusing to append to it"
        )));
    }
    let (secret, public) = new_identity(kind);
    let mut content = Zeroizing::new(String::new());
    if !old.is_empty() && !old.ends_with(b"\n") {
        content.push('\n');
    }
    content.push_str(&key_file_text(
        &secret,
        &public,
        std::time::SystemTime::now(),
    ));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| KeyError::Io(format!("{shown}: cannot open for appending: {e}")))?;
    file.write_all(content.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| KeyError::Io(format!("{shown}: cannot write: {e}")))?;
    Ok((GeneratedKey { public }, before + 1))
}

/// How many `AGE-SECRET-KEY-1…` and `AGE-SECRET-KEY-PQ-1…` lines a keys file holds.
fn count_identities(text: &[u8]) -> usize {
    text.split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| {
            l.starts_with(b"AGE-SECRET-KEY-1")
                || l.starts_with(super::pq::IDENTITY_PREFIX.as_bytes())
        })
        .count()
}

/// The three lines `age-keygen` (`-pq`) writes.
fn key_file_text(
    secret: &SecretString,
    public: &str,
    now: std::time::SystemTime,
) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str("# created: ");
    text.push_str(&humantime::format_rfc3339_seconds(now).to_string());
    text.push_str("\n# public key: ");
    text.push_str(public);
    text.push('\n');
    text.push_str(secret.expose_secret());
    text.push('\n');
    text
}

/// Creates `path` (mode 0600 from the start, never replacing a file) with `content`;
/// missing parent directories are created with mode 0700.
fn write_new_file(path: &Path, content: &[u8]) -> Result<(), KeyError> {
    let shown = path.display();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| {
                KeyError::Io(format!(
                    "{}: cannot create directory: {e}",
                    parent.display()
                ))
            })?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists(shown.to_string()),
            _ => KeyError::Io(format!("{shown}: cannot create: {e}")),
        })?;
    if let Err(e) = file.write_all(content).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(KeyError::Io(format!("{shown}: cannot write: {e}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{IdentitySet, Recipient, wrap_data_key};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_age_keygen_format_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/sub/keys.txt");
        let key = generate(Some(&path)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let re = regex::Regex::new(
            r"\A# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n# public key: (age1[0-9a-z]{58})\nAGE-SECRET-KEY-1[0-9A-Z]{58}\n\z",
        )
        .unwrap();
        let caps = re.captures(&text).expect("age-keygen format");
        assert_eq!(&caps[1], key.public);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);

        // The secret line belongs to the public key.
        let ids = IdentitySet::from_keys_text(&text, "generated").unwrap();
        let enc = wrap_data_key(&[1; 32], &Recipient::parse(&key.public).unwrap()).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[1; 32]);
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, "keep me\n").unwrap();
        let err = generate(Some(&path)).unwrap_err();
        assert!(matches!(err, KeyError::Exists(_)));
        assert!(err.to_string().contains("keys.txt"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
    }

    #[test]
    fn append_keeps_the_old_identities() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        let first = generate(Some(&path)).unwrap();
        let old = std::fs::read_to_string(&path).unwrap();
        let (second, n) = append(&path).unwrap();
        assert_eq!(n, 2);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&old));
        let ids = IdentitySet::from_keys_text(&text, "appended").unwrap();
        assert_eq!(ids.public_keys(), [first.public, second.public]);
        // Not a keys file: refused, untouched.
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "not a key\n").unwrap();
        assert!(append(&other).is_err());
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "not a key\n");
    }

    #[test]
    fn age_keygen_agrees_on_the_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        let key = generate(Some(&path)).unwrap();
        match std::process::Command::new("age-keygen")
            .arg("-y")
            .arg(&path)
            .output()
        {
            Ok(out) => {
                assert!(out.status.success());
                assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), key.public);
            }
            Err(_) => eprintln!("skipping: `age-keygen` is not on PATH"),
        }
    }
}
