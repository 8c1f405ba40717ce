//! age plugins (hardware keys: `age-plugin-yubikey`, `age-plugin-tpm`, Secure Enclave…):
//! recipients `age1<name>1…` and identities `AGE-PLUGIN-<NAME>-1…`, run through the `age`
//! crate's plugin client ([`age::plugin::RecipientPluginV1`],
//! [`age::plugin::IdentityPluginV1`]), which starts the binary `age-plugin-<name>` found on
//! `PATH` and speaks the age plugin protocol with it.
//!
//! Which binary runs is chosen only by the user: a recipient given on the command line or in
//! `.sops.yaml` when wrapping, an identity line of the user's own when unwrapping. A file's
//! `recipient` labels are not authenticated and never start a plugin (the decrypt side hands
//! a file's stanzas to the plugins the identities name, never the other way round).
//!
//! The plugin's prompts (PIN, touch, confirmations) go to the terminal ([`terminal`]), never
//! through a pipe sealed owns. Data keys a plugin unwrapped are kept for the life of the
//! process ([`Identities`]), so a long-running git filter asks once per file.

mod terminal;

use age::plugin::{IdentityPluginV1, ResolveError};
use age::{DecryptError, EncryptError};
use age_core::format::{FileKey, Stanza};
use sha2::Digest;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use zeroize::Zeroizing;

use super::KeyError;
pub use terminal::Terminal;

/// How a plugin identity line starts.
pub const IDENTITY_PREFIX: &str = "AGE-PLUGIN-";

/// Whether `text` has the shape of a plugin recipient: `age1` followed by a plugin name and
/// a second `1` (Bech32 data never holds a `1`, so an X25519 `age1…` key has only one). The
/// same test as sops's.
pub fn is_recipient(text: &str) -> bool {
    text.starts_with("age1") && text.matches('1').count() > 1
}

/// The one-line error for a plugin binary that is not on `PATH`.
pub fn missing(binary_name: &str) -> String {
    KeyError::MissingPlugin(binary_name.to_owned()).to_string()
}

/// A plugin recipient (`age1<name>1…`).
#[derive(Clone)]
pub struct Recipient(age::plugin::Recipient);

impl std::str::FromStr for Recipient {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Recipient)
    }
}

impl Recipient {
    /// The plugin's name (`yubikey` for `age1yubikey1…`).
    pub fn plugin(&self) -> &str {
        self.0.plugin()
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin::Recipient({})", self.0)
    }
}

impl age::Recipient for Recipient {
    /// Starts `age-plugin-<name>` to wrap the file key (one run per wrap).
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let name = self.plugin();
        let plugin = age::plugin::RecipientPluginV1::new(
            name,
            std::slice::from_ref(&self.0),
            &[],
            Terminal::new(name),
        )
        .map_err(|e| io_error(resolve_message(&e)))?;
        plugin.wrap_file_key(file_key).map_err(|e| match e {
            EncryptError::Plugin(errors) => io_error(plugin_errors(name, &errors)),
            EncryptError::Io(e) => io_error(died(name, &e)),
            other => other,
        })
    }
}

fn io_error(msg: String) -> EncryptError {
    EncryptError::Io(std::io::Error::other(msg))
}

fn resolve_message(e: &ResolveError) -> String {
    match e {
        ResolveError::MissingPlugin { binary_name } => missing(binary_name),
        ResolveError::InvalidPluginName { name } => {
            format!("{:?} is not a valid age plugin name", clean(name))
        }
        _ => "the age plugin cannot be used".to_owned(),
    }
}

fn died(name: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::UnexpectedEof => {
            format!("age-plugin-{name} stopped unexpectedly")
        }
        _ => format!("age-plugin-{name}: {}", clean(&e.to_string())),
    }
}

/// A plugin's own error messages, on one line (age's wording names the plugin; age does not
/// export the error type, only its text).
fn plugin_errors<E: fmt::Display>(name: &str, errors: &[E]) -> String {
    let parts: Vec<String> = errors.iter().map(|e| clean(&e.to_string())).collect();
    let text = parts.join("; ");
    if text.contains(&format!("age-plugin-{name}")) {
        text
    } else {
        format!("age-plugin-{name}: {text}")
    }
}

/// Text from a plugin shown on one line: control characters (escape sequences, line
/// breaks) as `?`, without the isolation marks of age's translations, at most 200
/// characters.
pub(crate) fn clean(text: &str) -> String {
    let mut out: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, '\u{2068}' | '\u{2069}'))
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.trim().chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The plugin identity lines of one identity source, taken out before age's parser sees the
/// rest.
#[derive(Default)]
pub struct IdentityLines {
    identities: Vec<age::plugin::Identity>,
}

impl IdentityLines {
    /// Takes `line` (trimmed; `number` counts from 1) when it is a plugin identity:
    /// `Ok(true)` when taken, `Ok(false)` when the line is something else, an error naming
    /// the line (never its content) when it is a malformed one.
    pub fn take(&mut self, line: &str, number: usize) -> Result<bool, String> {
        if !line.starts_with(IDENTITY_PREFIX) {
            return Ok(false);
        }
        let id = line.parse::<age::plugin::Identity>().map_err(|why| {
            format!("line {number}: malformed age plugin identity (AGE-PLUGIN-…): {why}")
        })?;
        self.identities.push(id);
        Ok(true)
    }

    /// How many were taken.
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    /// Whether none was taken.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }
}

/// What a plugin gave for one `enc` entry.
type Outcome = Option<Zeroizing<Vec<u8>>>;

/// Decrypts one age file with one identity (the caller's header-safe decryption).
pub type Decrypt<'a> = &'a dyn Fn(&dyn age::Identity) -> Result<Outcome, DecryptError>;

/// The user's plugin identities, grouped by plugin (one plugin run per entry tries all the
/// identities of that plugin), and what they unwrapped in this process.
#[derive(Default)]
pub struct Identities {
    by_plugin: Vec<(String, Vec<age::plugin::Identity>)>,
    /// SHA-256 of an age file → what the plugins made of it (`None`: none could open it).
    seen: Mutex<HashMap<[u8; 32], Outcome>>,
}

impl Identities {
    /// Adds the identities of one source, after those already there.
    pub fn add(&mut self, lines: IdentityLines) {
        for id in lines.identities {
            let name = id.plugin().to_owned();
            match self.by_plugin.iter_mut().find(|(n, _)| *n == name) {
                Some((_, ids)) => ids.push(id),
                None => self.by_plugin.push((name, vec![id])),
            }
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_plugin.is_empty()
    }

    /// Opens the age file `raw` (its header already checked) with the plugins, each started
    /// only when an identity line names it. An answer (a key, or that no plugin opens it) is
    /// kept for the process, so the same entry never runs a plugin twice; a failure (the
    /// binary missing, the plugin's own error) is not kept.
    pub fn unwrap(&self, raw: &[u8], decrypt: Decrypt<'_>) -> Result<Outcome, KeyError> {
        if self.by_plugin.is_empty() {
            return Ok(None);
        }
        let digest: [u8; 32] = sha2::Sha256::digest(raw).into();
        if let Some(known) = self.lock().get(&digest) {
            return Ok(known.clone());
        }
        let mut failure = None;
        for (name, ids) in &self.by_plugin {
            let binary = format!("age-plugin-{name}");
            let bad = |msg: String| KeyError::BadIdentity {
                source_name: binary.clone(),
                msg,
            };
            let plugin = match IdentityPluginV1::new(name, ids, Terminal::new(name)) {
                Ok(p) => p,
                Err(e) => {
                    failure.get_or_insert_with(|| match &e {
                        ResolveError::MissingPlugin { binary_name } => {
                            KeyError::MissingPlugin(binary_name.clone())
                        }
                        e => bad(resolve_message(e)),
                    });
                    continue;
                }
            };
            match decrypt(&plugin) {
                Ok(Some(key)) => {
                    self.lock().insert(digest, Some(key.clone()));
                    return Ok(Some(key));
                }
                Ok(None) => {}
                Err(DecryptError::Plugin(errors)) => {
                    failure.get_or_insert_with(|| bad(plugin_errors(name, &errors)));
                }
                Err(DecryptError::Io(e)) => {
                    failure.get_or_insert_with(|| bad(died(name, &e)));
                }
                Err(e) => return Err(KeyError::BadWrappedKey(e.to_string())),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => {
                self.lock().insert(digest, None);
                Ok(None)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Outcome>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.by_plugin.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_tuple("plugin::Identities").field(&names).finish()
    }
}

#[cfg(test)]
mod tests;
