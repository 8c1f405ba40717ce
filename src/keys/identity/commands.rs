//! `SOPS_AGE_KEY_CMD` and `SOPS_AGE_SSH_PRIVATE_KEY_CMD`: commands that print identities,
//! run only when an `enc` entry needs them, with the entry's recipient in
//! `SOPS_AGE_RECIPIENT` (as sops 3.12+ does).
//!
//! A command runs at most once per recipient in a process, and only after the identities
//! already in memory failed to open the entry; the ssh command only for an entry with an
//! ssh stanza. The recipient comes from the file's unauthenticated `recipient` label, so it
//! is passed only when it parses as a public key (its canonical text: no shell
//! metacharacters an editor could slip into a script that expands it unquoted); it never
//! chooses which command runs.

use super::*;
use std::collections::HashMap;
use std::sync::Mutex;

/// The environment variable that tells a command which recipient's identity is wanted.
pub(super) const RECIPIENT_VAR: &str = "SOPS_AGE_RECIPIENT";

/// What one run of a command gave: its identities (age's, and the age plugin ones).
struct Run {
    identities: Vec<BoxedIdentity>,
    plugins: crate::keys::plugin::Identities,
}

/// One identity command from the environment.
pub(super) struct KeyCommand {
    /// The variable that named it (`SOPS_AGE_KEY_CMD`…), the source name in messages.
    pub(super) var: &'static str,
    cmd: String,
    /// Prints one OpenSSH private key (`SOPS_AGE_SSH_PRIVATE_KEY_CMD`), else identity lines.
    ssh: bool,
    /// Recipient hint ("" for none) → what the run gave, or why it failed.
    runs: Mutex<HashMap<String, Result<Run, String>>>,
}

impl KeyCommand {
    /// `SOPS_AGE_KEY_CMD`: prints age identity lines.
    pub(super) fn identities(var: &'static str, cmd: String) -> KeyCommand {
        KeyCommand {
            var,
            cmd,
            ssh: false,
            runs: Mutex::default(),
        }
    }

    /// `SOPS_AGE_SSH_PRIVATE_KEY_CMD`: prints one unencrypted OpenSSH private key.
    pub(super) fn ssh_key(var: &'static str, cmd: String) -> KeyCommand {
        KeyCommand {
            ssh: true,
            ..KeyCommand::identities(var, cmd)
        }
    }

    /// Whether an entry with these stanzas could be opened by what this command prints.
    pub(super) fn may_open(&self, stanzas: &[(String, String)]) -> bool {
        !self.ssh
            || stanzas
                .iter()
                .any(|(t, _)| t == "ssh-ed25519" || t == "ssh-rsa")
    }

    /// Opens the age file `raw` (header checked) with what the command prints for
    /// `recipient` (the entry's label; `""` when unknown). `Ok(None)`: it printed no
    /// identity that fits; `Err`: the command failed or printed something unusable.
    pub(super) fn unwrap(
        &self,
        raw: &[u8],
        recipient: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        let hint = crate::keys::Recipient::parse(recipient)
            .map(|r| r.text().to_owned())
            .unwrap_or_default();
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let run = runs.entry(hint.clone()).or_insert_with(|| self.run(&hint));
        let run = run.as_ref().map_err(|msg| KeyError::BadIdentity {
            source_name: self.var.to_owned(),
            msg: msg.clone(),
        })?;
        if let Some(key) = try_decrypt(raw, &run.identities)? {
            return Ok(Some(key));
        }
        run.plugins.unwrap(raw, &|id| decrypt_with(raw, id))
    }

    /// The public keys of what the command prints with no recipient hint (`sealed init`).
    pub(super) fn public_keys(&self) -> Result<Vec<String>, KeyError> {
        let bad = |msg: String| KeyError::BadIdentity {
            source_name: self.var.to_owned(),
            msg,
        };
        let out = run_key_cmd(&self.cmd, self.var, None)?;
        match self.parse(&out).map_err(bad)? {
            Parsed::Ready(_, publics, _) => Ok(publics),
            Parsed::Locked(_) => Ok(Vec::new()),
        }
    }

    fn run(&self, hint: &str) -> Result<Run, String> {
        let out = run_key_cmd(&self.cmd, self.var, Some(hint)).map_err(inner_msg)?;
        match self.parse(&out)? {
            Parsed::Ready(identities, _, lines) => {
                let mut plugins = crate::keys::plugin::Identities::default();
                plugins.add(lines);
                Ok(Run {
                    identities,
                    plugins,
                })
            }
            Parsed::Locked(LockedKind::Ssh { .. }) => Err(
                "the SSH key the command printed is passphrase-protected, which is unsupported (as in sops)"
                    .to_owned(),
            ),
            Parsed::Locked(LockedKind::AgeFile(_)) => Err(
                "the command printed a passphrase-protected age file; print the identities themselves"
                    .to_owned(),
            ),
        }
    }

    fn parse(&self, out: &[u8]) -> Result<Parsed, String> {
        if !self.ssh {
            return parse_source(out, self.var).map_err(inner_msg);
        }
        parse_ssh(out, self.var).map_err(|e| match e {
            SshError::Unsupported(why) | SshError::Invalid(why) => {
                format!("the command's output {why}")
            }
        })
    }
}

impl IdentitySet {
    /// The public keys that `sealed init` can name: those found, else those of the first
    /// identity command's output (run without a recipient hint).
    pub fn public_keys_or_commands(&self) -> Result<Vec<String>, KeyError> {
        if !self.publics.is_empty() {
            return Ok(self.publics.clone());
        }
        for command in &self.commands {
            let publics = command.public_keys()?;
            if !publics.is_empty() {
                return Ok(publics);
            }
        }
        Ok(Vec::new())
    }

    pub(super) fn add_command(&mut self, command: KeyCommand) {
        self.searched
            .push(format!("{} (run when an entry needs it)", command.var));
        self.commands.push(command);
    }
}

impl fmt::Debug for KeyCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.var)
    }
}
