//! Reading identity sources: identity lines, ssh keys, passphrase-protected age files,
//! `SOPS_AGE_KEY_CMD`, and the age-file helpers (header stanzas, dearmoring, decryption
//! with a header parsed once).

use super::*;

/// Parses one source that is either identity lines or a passphrase-protected age file.
pub(super) fn parse_source(data: &[u8], source: &str) -> Result<Parsed, KeyError> {
    let bad = |msg: String| KeyError::BadIdentity {
        source_name: source.to_owned(),
        msg,
    };
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let head = &data[start..];
    if head.starts_with(AGE_BINARY_MAGIC) || head.starts_with(AGE_ARMOR_BEGIN) {
        let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(head)).map_err(|e| {
            bad(format!(
                "looks like an age-encrypted file but cannot be read: {e}"
            ))
        })?;
        if !decryptor.is_scrypt() {
            return Err(bad(
                "is an age-encrypted file that is not passphrase-protected; \
                 only passphrase-protected identity files (age -p) are supported"
                    .to_owned(),
            ));
        }
        return Ok(Parsed::Locked(LockedKind::AgeFile(Zeroizing::new(
            head.to_vec(),
        ))));
    }

    let text = std::str::from_utf8(data).map_err(|_| bad("is not valid UTF-8 text".to_owned()))?;
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
        || text.contains("-----BEGIN RSA PRIVATE KEY-----")
    {
        return Err(bad("is an SSH private key, not an age identity \
             (point SOPS_AGE_SSH_PRIVATE_KEY_FILE at it instead)"
            .to_owned()));
    }
    // Trim every line (keys pasted with indentation into CI variables).
    let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
    // Post-quantum identities, which age's parser does not know: taken out here (their
    // line left blank, so age's line numbers stay right) and added after age's.
    let mut pq = crate::keys::pq::IdentityLines::default();
    // age plugin identities likewise: they become plugin runs, not age's own identities.
    let mut plugins = crate::keys::plugin::IdentityLines::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if pq.take(line, n + 1).map_err(bad)? || plugins.take(line, n + 1).map_err(bad)? {
            cleaned.push('\n');
            continue;
        }
        cleaned.push_str(line);
        cleaned.push('\n');
    }
    let file = age::IdentityFile::from_buffer(cleaned.as_bytes()).map_err(|e| {
        // age's message names the line number, never its content.
        let msg = e.to_string();
        let msg = msg
            .strip_prefix("identity file contains ")
            .map(|rest| format!("contains {rest}"))
            .unwrap_or(msg);
        bad(msg)
    })?;
    let mut publics = Vec::new();
    if file.write_recipients_file(&mut publics).is_err() {
        publics.clear();
    }
    let mut publics: Vec<String> = String::from_utf8_lossy(&publics)
        .lines()
        .map(str::to_owned)
        .collect();
    let mut ids = file.into_identities().map_err(|e| bad(e.to_string()))?;
    pq.append_to(&mut ids, &mut publics);
    Ok(Parsed::Ready(ids, publics, plugins))
}

pub(super) enum SshError {
    /// A key age recognises but cannot use.
    Unsupported(String),
    /// Not an SSH private key at all.
    Invalid(String),
}

pub(super) fn parse_ssh(data: &[u8], source: &str) -> Result<Parsed, SshError> {
    use age::ssh::{Identity, UnsupportedKey};
    let identity = Identity::from_buffer(data, Some(source.to_owned()))
        .map_err(|_| SshError::Invalid("is not an SSH private key age can read".to_owned()))?;
    match identity {
        Identity::Unencrypted(_) => {
            let public = age::ssh::Recipient::try_from(identity.clone())
                .map(|r| r.to_string())
                .ok();
            Ok(Parsed::Ready(
                vec![Box::new(identity)],
                public.into_iter().collect(),
                Default::default(),
            ))
        }
        Identity::Encrypted(key) => {
            let public = age::ssh::Recipient::try_from(Identity::Encrypted(key.clone()))
                .map_err(|_| SshError::Unsupported("unsupported SSH key type".to_owned()))?;
            let (stanza, tag) = ssh_stanza_tag(&public)
                .ok_or_else(|| SshError::Invalid("malformed SSH public key".to_owned()))?;
            Ok(Parsed::Locked(LockedKind::Ssh { key, stanza, tag }))
        }
        Identity::Unsupported(u) => Err(SshError::Unsupported(match u {
            UnsupportedKey::EncryptedPem => {
                "encrypted PEM key (convert it with `ssh-keygen -p -o`)".to_owned()
            }
            UnsupportedKey::EncryptedSsh(cipher) => {
                format!("SSH key encrypted with unsupported cipher {cipher}")
            }
            UnsupportedKey::Hardware(t) => format!("hardware-backed SSH key ({t})"),
            UnsupportedKey::Type(t) => format!("unsupported SSH key type {t}"),
        })),
    }
}

/// The stanza type and tag (base64 of the first 4 bytes of SHA-256 of the public key blob)
/// that age writes for this ssh recipient.
pub(super) fn ssh_stanza_tag(public: &age::ssh::Recipient) -> Option<(&'static str, String)> {
    use base64::Engine;
    use sha2::Digest;
    let text = public.to_string();
    let (kind, blob) = text.split_once(' ')?;
    let stanza = match kind {
        "ssh-ed25519" => "ssh-ed25519",
        "ssh-rsa" => "ssh-rsa",
        _ => return None,
    };
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let digest = sha2::Sha256::digest(&blob);
    let tag = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&digest[..4]);
    Some((stanza, tag))
}

/// A whole identity file and its permission bits.
pub(super) type FileData = (Zeroizing<Vec<u8>>, u32);

/// Reads a whole identity file with its permission bits; `None` when it does not exist.
pub(super) fn read_file(path: &Path, source: &str) -> Result<Option<FileData>, KeyError> {
    let bad = |e: io::Error| KeyError::BadIdentity {
        source_name: source.to_owned(),
        msg: format!("cannot read: {e}"),
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e)),
    };
    let meta = file.metadata().map_err(bad)?;
    if meta.is_dir() {
        return Err(KeyError::BadIdentity {
            source_name: source.to_owned(),
            msg: "is a directory".to_owned(),
        });
    }
    let len = usize::try_from(meta.len())
        .unwrap_or(usize::MAX)
        .min(1 << 24);
    let mut data = Zeroizing::new(Vec::with_capacity(len + 1));
    file.read_to_end(&mut data).map_err(bad)?;
    Ok(Some((data, meta.permissions().mode())))
}

/// Runs `SOPS_AGE_KEY_CMD` (or the ssh one) with `sh -c`; its stdout holds the identities,
/// its stderr goes to ours. `recipient`, when given and not empty, is passed as
/// `SOPS_AGE_RECIPIENT`; otherwise that variable is taken out of the command's environment.
pub(super) fn run_key_cmd(
    cmd: &str,
    source: &str,
    recipient: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use std::process::{Command, Stdio};
    let bad = |msg: String| KeyError::BadIdentity {
        source_name: source.to_owned(),
        msg,
    };
    let mut command = Command::new("sh");
    command.arg("-c").arg(cmd);
    match recipient.filter(|r| !r.is_empty()) {
        Some(r) => command.env(super::commands::RECIPIENT_VAR, r),
        None => command.env_remove(super::commands::RECIPIENT_VAR),
    };
    let out = command
        // Like sops (Go's exec `Output`): no stdin, which may hold the document.
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| bad(format!("cannot run the command: {e}")))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(bad(format!("the command failed ({})", out.status)));
    }
    Ok(stdout)
}

/// Decrypts an age file (checked by [`stanza_heads`]) with the given identities; `Ok(None)`
/// when none of them fits.
pub(super) fn try_decrypt(
    raw: &[u8],
    identities: &[BoxedIdentity],
) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
    if identities.is_empty() {
        return Ok(None);
    }
    decrypt_raw(raw, identities.iter().map(|i| i.as_ref() as _))
        .map_err(|e| KeyError::BadWrappedKey(e.to_string()))
}

/// [`try_decrypt`] with one identity, age's error kept (a plugin's errors are its own).
pub(super) fn decrypt_with(
    raw: &[u8],
    identity: &dyn age::Identity,
) -> Result<Option<Zeroizing<Vec<u8>>>, age::DecryptError> {
    decrypt_raw(raw, std::iter::once(identity))
}

fn decrypt_raw<'a>(
    raw: &[u8],
    identities: impl Iterator<Item = &'a dyn age::Identity>,
) -> Result<Option<Zeroizing<Vec<u8>>>, age::DecryptError> {
    let decryptor = age::Decryptor::new_buffered(WholeHeader(raw))?;
    let reader = match decryptor.decrypt(identities) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = Zeroizing::new(Vec::with_capacity(MAX_UNWRAPPED as usize + 1));
    reader.take(MAX_UNWRAPPED + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_UNWRAPPED {
        return Err(age::DecryptError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "the wrapped content is far too long for a data key",
        )));
    }
    Ok(Some(out))
}

/// The binary age file inside an armored `enc` entry (linear time; at most 1 MiB).
pub(super) fn dearmor(armored: &str) -> Result<Vec<u8>, KeyError> {
    let mut raw = Vec::new();
    ArmoredReader::new(armored.as_bytes())
        .take(1 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| KeyError::BadWrappedKey(e.to_string()))?;
    Ok(raw)
}

/// The `(type, first argument)` of each recipient stanza in an age file's header; an error
/// when the file does not start like an age file or its header has no end (`---` line).
pub(super) fn stanza_heads(raw: &[u8]) -> Result<Vec<(String, String)>, KeyError> {
    let bad = |e: &dyn fmt::Display| KeyError::BadWrappedKey(e.to_string());
    if !raw.starts_with(b"age-encryption.org/v1\n") {
        return Err(bad(&"not an age file"));
    }
    let mut heads = Vec::new();
    for line in raw.split(|&b| b == b'\n').skip(1) {
        if line.starts_with(b"---") {
            return Ok(heads);
        }
        if let Some(rest) = line.strip_prefix(b"-> ") {
            let rest = String::from_utf8_lossy(rest);
            let mut parts = rest.split(' ');
            let kind = parts.next().unwrap_or_default().to_owned();
            let arg = parts.next().unwrap_or_default().to_owned();
            heads.push((kind, arg));
        }
    }
    Err(bad(&"the age header is incomplete"))
}

/// A binary age file read so that age's header parser sees the whole header at once.
///
/// age (0.12) reads a header line by line with `read_until` and parses it again from its
/// start after every line: time quadratic in the header's length (H1: a 1 MB header took
/// minutes). Here the first `read_until(b'\n')` returns every line up to and including the
/// header's last one (`--- mac`), so the header is parsed once; the rest of the file is
/// read as usual. Should age read differently, this is merely a plain reader, and
/// [`super::MAX_ENC_LEN`] still bounds the time.
pub(super) struct WholeHeader<'a>(pub(super) &'a [u8]);

impl WholeHeader<'_> {
    /// Where the header ends: after the line starting with `---`.
    fn header_end(&self) -> Option<usize> {
        let data = self.0;
        let start = if data.starts_with(b"---") {
            0
        } else {
            data.windows(4).position(|w| w == b"\n---")? + 1
        };
        let nl = data[start..].iter().position(|&b| b == b'\n')?;
        Some(start + nl + 1)
    }
}

impl Read for WholeHeader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl io::BufRead for WholeHeader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.0)
    }

    fn consume(&mut self, amount: usize) {
        self.0 = &self.0[amount.min(self.0.len())..];
    }

    fn read_until(&mut self, byte: u8, buf: &mut Vec<u8>) -> io::Result<usize> {
        let end = match (byte, self.header_end()) {
            (b'\n', Some(end)) => end,
            _ => self
                .0
                .iter()
                .position(|&b| b == byte)
                .map_or(self.0.len(), |i| i + 1),
        };
        buf.extend_from_slice(&self.0[..end]);
        self.0 = &self.0[end..];
        Ok(end)
    }
}

/// `SOPS_AGE_KEY` may hold several identities on one line, separated by spaces (sops
/// 3.12): each line that is neither blank nor a `#` comment (indented ones too, as sealed
/// always read them) is split into words, one identity per line. A passphrase-protected age file is left as it is.
pub(super) fn one_identity_per_line(text: &str) -> Zeroizing<String> {
    let head = text.trim_start().as_bytes();
    if head.starts_with(AGE_BINARY_MAGIC) || head.starts_with(AGE_ARMOR_BEGIN) {
        return Zeroizing::new(text.to_owned());
    }
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 1));
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        for word in line.split_whitespace() {
            out.push_str(word);
            out.push('\n');
        }
    }
    out
}
