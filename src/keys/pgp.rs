//! PGP keys through GnuPG, as sops does (`keysource/pgp`): the `gpg` binary
//! (`SOPS_GPG_EXEC` names another), the user's `GNUPGHOME` keyring and agent, so smartcards
//! and pinentry work as they do for gpg itself.
//!
//! The `enc` blob of a file is unauthenticated input: gpg is always run with fixed
//! arguments (nothing taken from the file) and reads the blob on its standard input;
//! `--no-auto-key-retrieve` keeps a signature in it from making gpg contact a key server.

use std::io::Write;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::KeyError;

/// The variable naming the gpg binary (sops's name).
pub const GPG_EXEC_VAR: &str = "SOPS_GPG_EXEC";

/// The gpg binary: `SOPS_GPG_EXEC`, else `gpg` on PATH.
pub fn gpg_binary() -> String {
    std::env::var(GPG_EXEC_VAR)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "gpg".to_string())
}

/// A fingerprint as sops keeps it: spaces removed, case kept.
pub fn normalize_fingerprint(fp: &str) -> String {
    fp.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether `fp` looks like a key fingerprint or key id (hex digits: 16 for a key id, 40
/// for a v4 fingerprint, 64 for v5/v6 ones).
pub fn is_fingerprint(fp: &str) -> bool {
    (16..=64).contains(&fp.len()) && fp.chars().all(|c| c.is_ascii_hexdigit())
}

/// Runs gpg with `args`, `input` on stdin; returns (success, stdout, stderr).
fn run(args: &[&str], input: &[u8]) -> Result<(bool, Zeroizing<Vec<u8>>, String), KeyError> {
    let bin = gpg_binary();
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                KeyError::Tool(format!(
                    "`{bin}` was not found: PGP keys need GnuPG (install the `gnupg` package, \
                     or point {GPG_EXEC_VAR} at gpg)"
                ))
            } else {
                KeyError::Tool(format!("cannot run `{bin}`: {e}"))
            }
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = Zeroizing::new(input.to_vec());
    // Written from a thread so that a gpg writing much output cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| KeyError::Tool(format!("`{bin}` failed: {e}")))?;
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Ok((out.status.success(), Zeroizing::new(out.stdout), stderr))
}

/// The last meaningful line gpg printed, for an error message (gpg names keys, never
/// secrets, on stderr).
fn gpg_reason(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("gpg failed");
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect();
    line
}

/// Wraps `data_key` to the PGP key `fp`: an armored PGP message, without a final line
/// break, exactly what sops stores in `enc`.
pub fn encrypt(data_key: &[u8], fp: &str) -> Result<String, KeyError> {
    let short = &fp[fp.len().saturating_sub(16)..];
    let args = [
        "--batch",
        "--no-default-recipient",
        "--yes",
        "--encrypt",
        "-a",
        "-r",
        fp,
        "--trusted-key",
        short,
        "--no-encrypt-to",
    ];
    let (ok, out, err) = run(&args, data_key)?;
    if !ok {
        return Err(KeyError::Wrap(format!(
            "gpg cannot encrypt to PGP key {fp}: {}",
            gpg_reason(&err)
        )));
    }
    let text = String::from_utf8(out.to_vec())
        .map_err(|_| KeyError::Wrap("gpg's armored output is not text".to_string()))?;
    Ok(text.trim_end().to_string())
}

/// Unwraps a PGP `enc` entry with the user's keyring. [`KeyError::NoMatchingIdentity`]
/// when the keyring has no secret key for it.
pub fn decrypt(enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if enc.len() > super::MAX_ENC_LEN {
        return Err(KeyError::Tool(format!(
            "the wrapped data key (enc) of a pgp entry is {} bytes long, more than the {} KiB \
             any wrapped data key needs",
            enc.len(),
            super::MAX_ENC_LEN / 1024
        )));
    }
    if !enc.trim_start().starts_with("-----BEGIN PGP MESSAGE-----") {
        return Err(KeyError::Tool(
            "the wrapped data key (enc) of a pgp entry is not an armored PGP message".to_string(),
        ));
    }
    // Not --quiet: gpg then says why a secret key it holds could not be used ("public key
    // decryption failed: …", e.g. no pinentry without a terminal) before its final "No
    // secret key", which alone means the keyring has no key for this entry.
    let args = ["--no-auto-key-retrieve", "--use-agent", "--decrypt"];
    let (ok, out, err) = run(&args, enc.as_bytes())?;
    if ok {
        return Ok(out);
    }
    if let Some(line) = err
        .lines()
        .find(|l| l.contains("public key decryption failed"))
    {
        return Err(KeyError::Tool(format!(
            "gpg holds the key but cannot use it: {}",
            gpg_reason(line)
        )));
    }
    if err.contains("No secret key") || err.contains("no secret key") {
        return Err(KeyError::NoMatchingIdentity);
    }
    Err(KeyError::Tool(format!(
        "gpg cannot decrypt the data key: {}",
        gpg_reason(&err)
    )))
}
