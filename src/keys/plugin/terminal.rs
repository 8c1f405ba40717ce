//! The plugin's prompts on the user's terminal (`/dev/tty`): messages ("touch your
//! YubiKey"), confirmations, public values and PINs. Never stdin or stdout, which may be a
//! pipe sealed owns (the git filter's pkt-line stream, a document, `exec`'s child). Without
//! a terminal a message goes to stderr and a question is refused, which the plugin reports
//! as its own error.

use age::secrecy::SecretString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};

use super::clean;

/// age's [`age::Callbacks`] for one plugin, on `/dev/tty`.
#[derive(Clone)]
pub struct Terminal {
    plugin: String,
}

impl Terminal {
    /// The callbacks of `age-plugin-<plugin>` (the name prefixes its messages).
    pub fn new(plugin: &str) -> Terminal {
        Terminal {
            plugin: plugin.to_owned(),
        }
    }

    fn prefix(&self) -> String {
        format!("sealed: age-plugin-{}: ", self.plugin)
    }

    /// Writes `prompt` on the terminal and reads one line (without its line break).
    fn ask(&self, prompt: &str) -> Option<String> {
        let mut tty = tty()?;
        tty.write_all(format!("{}{prompt}", self.prefix()).as_bytes())
            .ok()?;
        tty.flush().ok()?;
        let mut line = String::new();
        BufReader::new(tty).read_line(&mut line).ok()?;
        Some(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn tty() -> Option<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
}

/// `text` ending in `: ` (prompts from plugins come with or without it).
fn as_prompt(text: &str) -> String {
    let text = clean(text);
    let text = text.trim_end_matches([':', ' ']);
    format!("{text}: ")
}

impl age::Callbacks for Terminal {
    fn display_message(&self, message: &str) {
        let line = format!("{}{}\n", self.prefix(), clean(message));
        match tty() {
            Some(mut t) => {
                let _ = t.write_all(line.as_bytes());
            }
            None => eprint!("{line}"),
        }
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let yes = clean(yes_string);
        let Some(no) = no_string.map(clean) else {
            self.ask(&format!("{} (press Enter to {yes}) ", clean(message)))?;
            return Some(true);
        };
        for _ in 0..3 {
            let answer = self.ask(&format!("{} [{yes}/{no}] (Enter: {yes}) ", clean(message)))?;
            let answer = answer.trim();
            if answer.is_empty() || answer.eq_ignore_ascii_case(&yes) {
                return Some(true);
            }
            if answer.eq_ignore_ascii_case(&no) {
                return Some(false);
            }
        }
        None
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        self.ask(&as_prompt(description))
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        // rpassword reads from /dev/tty with echo off; check first that there is one, as
        // it would otherwise fall back to stdin.
        tty()?;
        let prompt = format!("{}{}", self.prefix(), as_prompt(description));
        rpassword::prompt_password(prompt)
            .ok()
            .map(SecretString::from)
    }
}
