//! Identity discovery (where SOPS looks) and unwrapping of the data key.
//!
//! Passphrase-protected sources (an identity file encrypted with `age -p`, armored or
//! binary, or an encrypted OpenSSH key) are found at discovery but only unlocked when an
//! `enc` entry could belong to them and no plain identity opened it; the passphrase is asked
//! for on the terminal, at most once per source, and the unlocked identities are kept.

use super::KeyError;
use age::armor::ArmoredReader;
use age::secrecy::SecretString;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use zeroize::Zeroizing;

mod commands;
mod sources;
use commands::KeyCommand;
use sources::*;

/// One parsed identity, usable from any thread.
type BoxedIdentity = Box<dyn age::Identity + Send + Sync>;

/// Asks for a passphrase with the given prompt; `Err` says why it could not be asked.
type Prompter = Arc<dyn Fn(&str) -> Result<Zeroizing<String>, String> + Send + Sync>;

/// How many times a wrong passphrase may be typed before giving up on a source.
const PASSPHRASE_ATTEMPTS: usize = 3;

/// Largest plaintext accepted from an `enc` entry (a data key is 32 bytes, a share 33).
const MAX_UNWRAPPED: u64 = 4096;

const AGE_BINARY_MAGIC: &[u8] = b"age-encryption.org/";
const AGE_ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// All identities found, in SOPS's search order, combined.
pub struct IdentitySet {
    searched: Vec<String>,
    identities: Vec<BoxedIdentity>,
    /// The public keys of `identities` (an identity that has none to tell is left out).
    publics: Vec<String>,
    /// age plugin identities: tried after every other identity, each plugin started only
    /// because an identity line names it.
    plugins: super::plugin::Identities,
    locked: Vec<Locked>,
    /// `SOPS_AGE_KEY_CMD`, `SOPS_AGE_SSH_PRIVATE_KEY_CMD`: run when an entry needs them.
    commands: Vec<KeyCommand>,
    warnings: Vec<String>,
    prompter: Prompter,
}

/// A passphrase-protected source, unlocked on first need.
struct Locked {
    source: String,
    kind: LockedKind,
    unlocked: OnceLock<Result<Vec<BoxedIdentity>, String>>,
}

enum LockedKind {
    /// An age file encrypted with a passphrase, holding an identity file.
    AgeFile(Zeroizing<Vec<u8>>),
    /// An encrypted OpenSSH key; `stanza` and `tag` identify the stanzas it can open.
    Ssh {
        key: age::ssh::EncryptedKey,
        stanza: &'static str,
        tag: String,
    },
}

/// What one source yielded.
enum Parsed {
    /// The identities, the public keys (recipients) of those that tell it, and the age
    /// plugin identities.
    Ready(
        Vec<BoxedIdentity>,
        Vec<String>,
        super::plugin::IdentityLines,
    ),
    Locked(LockedKind),
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Ready(ids, _, plugins) => {
                plural(ids.len() + plugins.len(), "identity", "identities")
            }
            Parsed::Locked(LockedKind::AgeFile(_)) => "passphrase-protected".to_owned(),
            Parsed::Locked(LockedKind::Ssh { .. }) => "passphrase-protected ssh key".to_owned(),
        }
    }
}

impl IdentitySet {
    /// Looks where SOPS looks: `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`,
    /// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `$XDG_CONFIG_HOME/sops/age/keys.txt` (default
    /// `~/.config/sops/age/keys.txt`), `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`. Missing sources
    /// are skipped; a source that exists but is broken is an error naming it.
    pub fn discover() -> Result<IdentitySet, KeyError> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        IdentitySet::discover_with(&|name| std::env::var(name).ok(), home)
    }

    /// [`IdentitySet::discover`] with the environment and the home directory given, so that
    /// tests need not touch the process environment. `env` returns a variable's value.
    ///
    /// All sources are combined, in this order: `SOPS_AGE_KEY` (identity lines, `#`
    /// comments and blank lines allowed), `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD` (run with
    /// `sh -c` when an entry needs it, its stdout read as identities; see
    /// [`IdentitySet::unwrap_for`]), `SOPS_AGE_SSH_PRIVATE_KEY_FILE`,
    /// `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (likewise, its stdout one OpenSSH private key), the default
    /// keys file (`$XDG_CONFIG_HOME`, else `home/.config`, then `sops/age/keys.txt`), then
    /// `home/.ssh/id_ed25519` and `home/.ssh/id_rsa`. A variable set to the empty string
    /// counts as not set. Identity files readable by group or others get one warning line
    /// on stderr each.
    pub fn discover_with(
        env: &dyn Fn(&str) -> Option<String>,
        home: Option<PathBuf>,
    ) -> Result<IdentitySet, KeyError> {
        let mut set = IdentitySet::empty();
        let home = home.as_deref();
        let var = |name: &str| env(name).filter(|v| !v.is_empty());

        // SOPS_AGE_KEY
        const KEY: &str = "SOPS_AGE_KEY";
        match env(KEY).map(Zeroizing::new) {
            None => set.searched.push(format!("{KEY} (not set)")),
            Some(text) => {
                let text = one_identity_per_line(&text);
                let parsed = parse_source(text.as_bytes(), KEY)?;
                set.add(KEY.to_owned(), KEY.to_owned(), parsed);
            }
        }

        // SOPS_AGE_KEY_FILE
        const KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
        match var(KEY_FILE) {
            None => set.searched.push(format!("{KEY_FILE} (not set)")),
            Some(path) => {
                let label = format!("{KEY_FILE}={path}");
                set.add_keys_file(Path::new(&path), label, path.clone())?;
            }
        }

        // SOPS_AGE_KEY_CMD
        const KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
        match var(KEY_CMD) {
            None => set.searched.push(format!("{KEY_CMD} (not set)")),
            Some(cmd) => set.add_command(KeyCommand::identities(KEY_CMD, cmd)),
        }

        // SOPS_AGE_SSH_PRIVATE_KEY_FILE
        const SSH_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
        match var(SSH_FILE) {
            None => set.searched.push(format!("{SSH_FILE} (not set)")),
            Some(path) => {
                let label = format!("{SSH_FILE}={path}");
                set.add_ssh_file(Path::new(&path), label, path.clone(), true)?;
            }
        }

        // SOPS_AGE_SSH_PRIVATE_KEY_CMD (sops 3.12)
        const SSH_CMD: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
        match var(SSH_CMD) {
            None => set.searched.push(format!("{SSH_CMD} (not set)")),
            Some(cmd) => set.add_command(KeyCommand::ssh_key(SSH_CMD, cmd)),
        }

        // The default keys file, where os.UserConfigDir puts it on Linux.
        let config_dir = match var("XDG_CONFIG_HOME") {
            Some(x) if Path::new(&x).is_absolute() => Some(PathBuf::from(x)),
            Some(_) => {
                set.searched
                    .push("$XDG_CONFIG_HOME is a relative path (ignored, as sops does)".into());
                None
            }
            None => home.map(|h| h.join(".config")),
        };
        match config_dir {
            Some(dir) => {
                let path = dir.join("sops").join("age").join("keys.txt");
                let shown = display_path(&path, home);
                set.add_keys_file(&path, shown.clone(), shown)?;
            }
            None => set
                .searched
                .push("~/.config/sops/age/keys.txt (no home directory)".into()),
        }

        // Default ssh keys.
        for name in ["id_ed25519", "id_rsa"] {
            match home {
                Some(h) => {
                    let path = h.join(".ssh").join(name);
                    let shown = display_path(&path, Some(h));
                    set.add_ssh_file(&path, shown.clone(), shown, false)?;
                }
                None => set
                    .searched
                    .push(format!("~/.ssh/{name} (no home directory)")),
            }
        }

        for w in &set.warnings {
            eprintln!("{w}");
        }
        Ok(set)
    }

    /// Parses identities from text in keys.txt format (`AGE-SECRET-KEY-1…` lines, `#`
    /// comments, blank lines), or from a passphrase-protected age file (armored text),
    /// which is unlocked on first need. `source_name` names the source in errors.
    pub fn from_keys_text(text: &str, source_name: &str) -> Result<IdentitySet, KeyError> {
        let parsed = parse_source(text.as_bytes(), source_name)?;
        let mut set = IdentitySet::empty();
        set.add(source_name.to_owned(), source_name.to_owned(), parsed);
        Ok(set)
    }

    /// Human-readable list of the places looked at (for "no key" errors).
    pub fn searched(&self) -> &[String] {
        &self.searched
    }

    /// The public keys (recipients) of the identities found, in the search order; an
    /// identity behind a passphrase is not in the list.
    pub fn public_keys(&self) -> &[String] {
        &self.publics
    }

    /// True when no identity at all was found (a passphrase-protected source counts as
    /// one, even before it is unlocked).
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
            && self.locked.is_empty()
            && self.plugins.is_empty()
            && self.commands.is_empty()
    }

    /// Unwraps one armored age file (an `enc` entry) into the data key.
    ///
    /// Plain identities are tried first; a passphrase-protected source is unlocked (asking
    /// for its passphrase) only when none of them fits and the entry could be for it.
    /// Errors: [`KeyError::NoMatchingIdentity`]; [`KeyError::BadWrappedKey`] for a
    /// malformed entry; [`KeyError::BadIdentity`] when a source that might fit could not be
    /// unlocked.
    pub fn unwrap(&self, armored: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.unwrap_for(armored, "")
    }

    /// [`IdentitySet::unwrap`] of the entry labelled `recipient`: an identity command
    /// (`SOPS_AGE_KEY_CMD`, `SOPS_AGE_SSH_PRIVATE_KEY_CMD`) that must run for it gets the
    /// label in `SOPS_AGE_RECIPIENT` when it is a well-formed public key. Commands run
    /// after the identities in memory, before passphrase prompts and plugins.
    pub fn unwrap_for(
        &self,
        armored: &str,
        recipient: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.open(armored, recipient, false)?
            .ok_or(KeyError::NoMatchingIdentity)
    }

    /// Tries only the identities already in memory: no command, prompt or plugin runs.
    /// `Ok(None)` when none of them opens the entry; the caller then tries every entry of
    /// a key group this way before [`IdentitySet::unwrap_for`] runs anything for one.
    pub fn unwrap_in_memory(&self, armored: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        self.open(armored, "", true)
    }

    fn open(
        &self,
        armored: &str,
        recipient: &str,
        in_memory_only: bool,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        if armored.len() > super::MAX_ENC_LEN {
            return Err(KeyError::BadWrappedKey(format!(
                "{} bytes long, more than the {} KiB any wrapped data key needs",
                armored.len(),
                super::MAX_ENC_LEN / 1024
            )));
        }
        // Tolerate indentation, CRLF and surrounding blank lines (as Go's armor reader does).
        let mut normalized = String::with_capacity(armored.len() + 1);
        for line in armored.lines().map(str::trim).filter(|l| !l.is_empty()) {
            normalized.push_str(line);
            normalized.push('\n');
        }
        // The age file itself, and its header checked (linear time) before age parses it.
        let raw = dearmor(&normalized)?;
        let stanzas = stanza_heads(&raw)?;

        if let Some(key) = try_decrypt(&raw, &self.identities)? {
            return Ok(Some(key));
        }
        if in_memory_only {
            return Ok(None);
        }
        let mut unlock_error = None;
        for command in self.commands.iter().filter(|c| c.may_open(&stanzas)) {
            match command.unwrap(&raw, recipient) {
                Ok(Some(key)) => return Ok(Some(key)),
                Ok(None) => {}
                Err(e) => {
                    unlock_error.get_or_insert(e);
                }
            }
        }
        for locked in &self.locked {
            if !locked.may_open(&stanzas) {
                continue;
            }
            match locked.unlock(&self.prompter) {
                Ok(ids) => {
                    if let Some(key) = try_decrypt(&raw, ids)? {
                        return Ok(Some(key));
                    }
                }
                Err(msg) => {
                    unlock_error.get_or_insert_with(|| KeyError::BadIdentity {
                        source_name: locked.source.clone(),
                        msg: msg.clone(),
                    });
                }
            }
        }
        if let Some(key) = self.plugins.unwrap(&raw, &|id| decrypt_with(&raw, id))? {
            return Ok(Some(key));
        }
        match unlock_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    fn empty() -> IdentitySet {
        IdentitySet {
            searched: Vec::new(),
            identities: Vec::new(),
            publics: Vec::new(),
            plugins: Default::default(),
            locked: Vec::new(),
            commands: Vec::new(),
            warnings: Vec::new(),
            prompter: Arc::new(tty_prompt),
        }
    }

    /// Replaces the passphrase prompt (tests: no terminal, or a fixed answer).
    #[cfg(test)]
    fn with_prompter(
        mut self,
        f: impl Fn(&str) -> Result<Zeroizing<String>, String> + Send + Sync + 'static,
    ) -> IdentitySet {
        self.prompter = Arc::new(f);
        self
    }

    fn add(&mut self, label: String, source: String, parsed: Parsed) {
        self.searched
            .push(format!("{label} ({})", parsed.describe()));
        match parsed {
            Parsed::Ready(ids, publics, plugins) => {
                self.identities.extend(ids);
                self.publics.extend(publics);
                self.plugins.add(plugins);
            }
            Parsed::Locked(kind) => self.locked.push(Locked {
                source,
                kind,
                unlocked: OnceLock::new(),
            }),
        }
    }

    /// Reads a keys.txt-style file; a missing file is only noted.
    fn add_keys_file(
        &mut self,
        path: &Path,
        label: String,
        source: String,
    ) -> Result<(), KeyError> {
        let Some((data, mode)) = read_file(path, &source)? else {
            self.searched.push(format!("{label} (not found)"));
            return Ok(());
        };
        let parsed = parse_source(&data, &source)?;
        if matches!(parsed, Parsed::Ready(..)) {
            self.check_mode(&source, mode);
        }
        self.add(label, source, parsed);
        Ok(())
    }

    /// Reads an OpenSSH private key; a missing file is only noted. At a default location
    /// (`explicit` false) a key of a kind age cannot use is noted and skipped.
    fn add_ssh_file(
        &mut self,
        path: &Path,
        label: String,
        source: String,
        explicit: bool,
    ) -> Result<(), KeyError> {
        let Some((data, mode)) = read_file(path, &source)? else {
            self.searched.push(format!("{label} (not found)"));
            return Ok(());
        };
        match parse_ssh(&data, &source) {
            Ok(parsed) => {
                if matches!(parsed, Parsed::Ready(..)) {
                    self.check_mode(&source, mode);
                }
                self.add(label, source, parsed);
                Ok(())
            }
            Err(SshError::Unsupported(why)) if !explicit => {
                self.searched.push(format!("{label} (skipped: {why})"));
                Ok(())
            }
            Err(SshError::Unsupported(msg) | SshError::Invalid(msg)) => {
                Err(KeyError::BadIdentity {
                    source_name: source,
                    msg,
                })
            }
        }
    }

    fn check_mode(&mut self, source: &str, mode: u32) {
        if mode & 0o077 != 0 {
            self.warnings.push(format!(
                "sealed: warning: identity file {source} is readable by others (mode {:04o}); chmod 600 it",
                mode & 0o7777
            ));
        }
    }
}

impl fmt::Debug for IdentitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySet")
            .field("identities", &self.identities.len())
            .field(
                "locked",
                &self.locked.iter().map(|l| &l.source).collect::<Vec<_>>(),
            )
            .field("plugins", &self.plugins)
            .field("commands", &self.commands)
            .field("searched", &self.searched)
            .finish()
    }
}

impl Locked {
    /// Whether an entry with these stanzas could be for this source.
    fn may_open(&self, stanzas: &[(String, String)]) -> bool {
        match &self.kind {
            // Identity files hold X25519 and post-quantum identities (plugins are not
            // supported).
            LockedKind::AgeFile(_) => stanzas
                .iter()
                .any(|(t, _)| t == "X25519" || t == super::pq::STANZA_TAG),
            LockedKind::Ssh { stanza, tag, .. } => {
                stanzas.iter().any(|(t, a)| t == stanza && a == tag)
            }
        }
    }

    /// The identities behind the passphrase; asks for it on the first call only.
    fn unlock(&self, prompter: &Prompter) -> Result<&[BoxedIdentity], String> {
        let result = self.unlocked.get_or_init(|| {
            let prompt = format!("Passphrase for {}: ", self.source);
            for attempt in 1..=PASSPHRASE_ATTEMPTS {
                let passphrase = (prompter.as_ref())(&prompt)
                    .map_err(|why| format!("passphrase-protected, and {why}"))?;
                if passphrase.is_empty() {
                    return Err("passphrase-protected, and no passphrase was given".to_owned());
                }
                match self.try_passphrase(&passphrase)? {
                    Some(ids) => return Ok(ids),
                    None if attempt < PASSPHRASE_ATTEMPTS => {
                        eprintln!("sealed: wrong passphrase for {}, try again", self.source);
                    }
                    None => {}
                }
            }
            Err(format!("wrong passphrase ({PASSPHRASE_ATTEMPTS} attempts)"))
        });
        result.as_deref().map_err(Clone::clone)
    }

    /// `Ok(None)` for a wrong passphrase.
    fn try_passphrase(&self, passphrase: &str) -> Result<Option<Vec<BoxedIdentity>>, String> {
        let secret = SecretString::from(passphrase.to_owned());
        match &self.kind {
            LockedKind::AgeFile(data) => {
                let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(&data[..]))
                    .map_err(|e| format!("cannot read the encrypted identity file: {e}"))?;
                let mut identity = age::scrypt::Identity::new(secret);
                // age's default limit is calibrated to this machine's speed and can refuse
                // files made by `age -p` (work factor 18) on a slow or busy machine or in a
                // debug build; 22 is rage's own ceiling for passphrase files.
                identity.set_max_work_factor(22);
                let mut reader = match decryptor.decrypt(std::iter::once(&identity as _)) {
                    Ok(r) => r,
                    Err(age::DecryptError::DecryptionFailed)
                    | Err(age::DecryptError::KeyDecryptionFailed) => return Ok(None),
                    Err(e) => return Err(format!("cannot decrypt the identity file: {e}")),
                };
                let mut plain = Zeroizing::new(Vec::with_capacity(4096));
                reader
                    .read_to_end(&mut plain)
                    .map_err(|e| format!("cannot decrypt the identity file: {e}"))?;
                match parse_source(&plain, &self.source) {
                    Ok(Parsed::Ready(_, _, plugins)) if !plugins.is_empty() => Err(
                        "holds age plugin identities, which sealed reads only from a plain \
                         keys file (AGE-PLUGIN-… lines name a key held elsewhere)"
                            .to_owned(),
                    ),
                    Ok(Parsed::Ready(ids, _, _)) => Ok(Some(ids)),
                    Ok(Parsed::Locked(_)) => {
                        Err("holds another encrypted file instead of identities".to_owned())
                    }
                    Err(e) => Err(format!("decrypted, but {}", inner_msg(e))),
                }
            }
            LockedKind::Ssh { key, .. } => match key.decrypt(secret) {
                Ok(k) => Ok(Some(vec![
                    Box::new(age::ssh::Identity::Unencrypted(k)) as BoxedIdentity
                ])),
                Err(_) => Ok(None),
            },
        }
    }
}

/// Asks on the terminal (`/dev/tty`), never on stdin/stdout.
fn tty_prompt(prompt: &str) -> Result<Zeroizing<String>, String> {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_err()
    {
        return Err("there is no terminal to ask for the passphrase on".to_owned());
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| format!("the passphrase could not be read: {e}"))
}

/// `~/…` for paths under the home directory.
fn display_path(path: &Path, home: Option<&Path>) -> String {
    match home.and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn inner_msg(e: KeyError) -> String {
    match e {
        KeyError::BadIdentity { msg, .. } => msg,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
