//! `age-plugin-sealedtest`: a real age plugin (both state machines of the age plugin
//! protocol, through rage's `age-plugin` crate) for sealed's tests. Not a hardware key:
//! no security at all (its recipient is its identity), its stanza `-> sealedtest <id>` carries the file key
//! XORed with SHA-256 of the id. Like a hardware key it can ask for a PIN and show a
//! "touch" message.
//!
//! - no arguments: prints a new identity, with `# recipient: age1sealedtest1…`;
//! - `--age-plugin=recipient-v1|identity-v1`: the protocol.
//!
//! Environment (inherited through sealed):
//! - `SEALEDTEST_LOG=FILE`: one line appended per run (`recipient-v1`, `identity-v1`)
//!   and per request (`pin`, `touch`), each followed by the id of the process that
//!   started the plugin;
//! - `SEALEDTEST_PIN=PIN`: unwrapping asks for a PIN (`request-secret`) and fails on a
//!   wrong or refused one;
//! - `SEALEDTEST_TOUCH=1`: unwrapping shows "touch your sealedtest key".

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{Callbacks, PluginHandler, print_new_identity, run_state_machine};
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use sha2::Digest;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

const NAME: &str = "sealedtest";

fn log(what: &str) {
    if let Ok(path) = std::env::var("SEALEDTEST_LOG") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open the log");
        // The process that started the plugin: runs are counted per sealed process.
        writeln!(f, "{what} {}", std::os::unix::process::parent_id()).expect("write the log");
    }
}

/// The file key XORed with SHA-256 of the id (its own inverse).
fn mask(id: &[u8], key: &[u8]) -> Vec<u8> {
    let pad = sha2::Sha256::digest(id);
    key.iter().zip(pad.iter()).map(|(k, p)| k ^ p).collect()
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Wrap;
    type IdentityV1 = Unwrap;

    fn recipient_v1(self) -> io::Result<Wrap> {
        log("recipient-v1");
        Ok(Wrap(Vec::new()))
    }

    fn identity_v1(self) -> io::Result<Unwrap> {
        log("identity-v1");
        Ok(Unwrap(Vec::new()))
    }
}

struct Wrap(Vec<Vec<u8>>);

impl RecipientPluginV1 for Wrap {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        if plugin_name != NAME || bytes.len() != 32 {
            return Err(recipient::Error::Recipient {
                index,
                message: "not a sealedtest recipient".to_owned(),
            });
        }
        self.0.push(bytes.to_vec());
        Ok(())
    }

    fn add_identity(
        &mut self,
        index: usize,
        _plugin_name: &str,
        _bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        Err(recipient::Error::Identity {
            index,
            message: "sealedtest wraps to recipients only".to_owned(),
        })
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        Ok(Ok(file_keys
            .iter()
            .map(|key| {
                self.0
                    .iter()
                    .map(|id| Stanza {
                        tag: NAME.to_owned(),
                        args: vec![BASE64_STANDARD_NO_PAD.encode(sha2::Sha256::digest(id))],
                        body: mask(id, key.expose_secret()),
                    })
                    .collect()
            })
            .collect()))
    }
}

struct Unwrap(Vec<Vec<u8>>);

impl IdentityPluginV1 for Unwrap {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        if plugin_name != NAME || bytes.len() != 32 {
            return Err(identity::Error::Identity {
                index,
                message: "not a sealedtest identity".to_owned(),
            });
        }
        self.0.push(bytes.to_vec());
        Ok(())
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        mut callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut keys = HashMap::new();
        for (file, stanzas) in files.iter().enumerate() {
            for stanza in stanzas
                .iter()
                .filter(|s| s.tag == NAME && s.args.len() == 1)
            {
                let Some(id) = self.0.iter().find(|id| {
                    stanza.args[0] == BASE64_STANDARD_NO_PAD.encode(sha2::Sha256::digest(id))
                }) else {
                    continue;
                };
                if std::env::var_os("SEALEDTEST_TOUCH").is_some() {
                    log("touch");
                    let _ = callbacks.message("touch your sealedtest key")?;
                }
                if let Ok(pin) = std::env::var("SEALEDTEST_PIN") {
                    log("pin");
                    let given = callbacks.request_secret("Enter the PIN of your sealedtest key")?;
                    let ok = given.is_ok_and(|g| g.expose_secret() == pin);
                    if !ok {
                        keys.insert(
                            file,
                            Err(vec![identity::Error::Identity {
                                index: 0,
                                message: "wrong or missing PIN".to_owned(),
                            }]),
                        );
                        break;
                    }
                }
                let body = mask(id, &stanza.body);
                let key = FileKey::try_init_with_mut(|k| {
                    if body.len() == k.len() {
                        k.copy_from_slice(&body);
                        Ok(())
                    } else {
                        Err(())
                    }
                });
                if let Ok(key) = key {
                    keys.insert(file, Ok(key));
                    break;
                }
            }
        }
        Ok(keys)
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(arg) if arg.starts_with("--age-plugin=") => {
            run_state_machine(&arg["--age-plugin=".len()..], Handler)
        }
        Some("--age-plugin") if args.len() == 2 => run_state_machine(&args[1], Handler),
        None => {
            let id: [u8; 32] = rand::random();
            print_new_identity(NAME, &id, &id);
            Ok(())
        }
        Some(_) => {
            eprintln!("usage: age-plugin-sealedtest [--age-plugin=STATE_MACHINE]");
            std::process::exit(2)
        }
    }
}
