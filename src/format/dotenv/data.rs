//! dotenv → [`Node`]: the values a dotenv user expects, not SOPS's raw text.
//!
//! The lines are found by [`crate::format::dotenv`] (the same reader that encrypts them);
//! each `KEY=value` is then read the way dotenv libraries read it:
//!
//! - the key is trimmed, and a leading `export ` is dropped;
//! - spaces and tabs around the value are ignored;
//! - `'single'` and `` `backtick` `` quoted values are literal;
//! - `"double"` quoted values process `\n`, `\r`, `\t`, `\\`, `\"`, `\$` and `` \` ``;
//!   any other backslash stays as written;
//! - quoted values may span lines (a CRLF inside becomes LF);
//! - after a closing quote only spaces and a `# comment` may follow; otherwise the whole
//!   text is read as an unquoted value (as the `dotenv` npm package does);
//! - an unquoted value ends at a ` #` (a `#` after a space or tab starts a comment; a `#`
//!   inside a word, or at the very start of the value, is kept), and a literal `\n` in it
//!   is a line break, as SOPS reads it (SOPS writes line breaks that way, so `sealed exec`
//!   sees what `sops exec-env` gives);
//! - no variable expansion: `$OTHER` stays as written.
//!
//! A key that appears twice: the later line wins (the entry keeps its first position).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use zeroize::Zeroizing;

use super::Dotenv;
use crate::format::tree::{DataError, Node, Scalar};
use crate::format::{Format, Item};

/// Loads a dotenv text.
pub fn load(src: &str) -> Result<Node, DataError> {
    let outline = Dotenv.parse(src).map_err(|e| DataError::Syntax {
        offset: e.offset,
        msg: e.msg,
    })?;
    let mut entries: Vec<(String, Node)> = Vec::new();
    // Each name's entry: a later line replaces the value in place (one look-up per line,
    // not a scan of the entries so far).
    let mut index: HashMap<String, usize> = HashMap::new();
    for doc in &outline.docs {
        for item in &doc.items {
            let Item::Leaf(leaf) = item else { continue };
            let Some(raw_key) = leaf.path.first() else {
                continue;
            };
            let key = key_name(raw_key).to_string();
            let value = Node::Scalar(Scalar {
                kind: crate::format::tree::Kind::Str,
                text: interpret(&src[leaf.span.clone()]),
            });
            match index.entry(key) {
                Entry::Occupied(at) => entries[*at.get()].1 = value,
                Entry::Vacant(slot) => {
                    entries.push((slot.key().clone(), value));
                    slot.insert(entries.len() - 1);
                }
            }
        }
    }
    Ok(Node::Map(entries))
}

/// The variable name of a raw key (the text before `=`).
pub fn key_name(raw: &str) -> &str {
    // The first key of a file with a BOM carries it (as SOPS reads it).
    let key = raw.trim_start_matches('\u{feff}').trim_matches([' ', '\t']);
    match key.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start_matches([' ', '\t']),
        _ => key,
    }
}

/// The value of the raw text after `=` (see the module documentation).
pub fn interpret(raw: &str) -> Zeroizing<String> {
    let v = raw.trim_start_matches([' ', '\t']);
    if let Some(q) = v.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'))
        && let Some(close) = closing(v, q)
    {
        let rest = v[close + 1..].trim_start_matches([' ', '\t', '\r']);
        if rest.is_empty() || rest.starts_with('#') {
            let inner = Zeroizing::new(v[1..close].replace("\r\n", "\n"));
            return if q == '"' { unescape(&inner) } else { inner };
        }
    }
    Zeroizing::new(unquoted(raw).replace("\\n", "\n"))
}

/// Byte index of the first `q` after the opening one that no backslash escapes.
fn closing(v: &str, q: char) -> Option<usize> {
    let b = v.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == q as u8 => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// An unquoted value: up to a `#` that follows a space or tab, trimmed.
fn unquoted(raw: &str) -> &str {
    let b = raw.as_bytes();
    let end = (1..b.len())
        .find(|&i| b[i] == b'#' && matches!(b[i - 1], b' ' | b'\t'))
        .unwrap_or(b.len());
    raw[..end].trim_matches([' ', '\t', '\r'])
}

/// Processes the escapes of a double-quoted value.
fn unescape(s: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(s.len()));
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(e @ ('\\' | '"' | '$' | '`')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str) -> Vec<(String, String)> {
        let Node::Map(entries) = load(src).expect("loads") else {
            panic!("not a map")
        };
        entries
            .into_iter()
            .map(|(k, v)| match v {
                Node::Scalar(s) => (k, s.text.to_string()),
                _ => panic!("not a scalar"),
            })
            .collect()
    }

    #[test]
    fn values_as_dotenv_users_expect() {
        let src = concat!(
            "# comment\n",
            "A=plain\n",
            "export B = spaced  # trailing comment\n",
            "C='single $HOME \\n'\n",
            "D=\"double \\\"q\\\" \\\\ \\$x \\n end\\q\"\n",
            "E=`back'tick\"`\n",
            "F=pass#word\n",
            "F2=sops\\nnewline\n",
            "G=#starts-with-hash\n",
            "H=\"multi\nline\"\n",
            "I='x'y\n",
            "J=\n",
            "K=\"a\" # c\n",
            "A=again\n",
        );
        assert_eq!(
            values(src),
            [
                ("A", "again"),
                ("B", "spaced"),
                ("C", "single $HOME \\n"),
                ("D", "double \"q\" \\ $x \n end\\q"),
                ("E", "back'tick\""),
                ("F", "pass#word"),
                ("F2", "sops\nnewline"),
                ("G", "#starts-with-hash"),
                ("H", "multi\nline"),
                ("I", "'x'y"),
                ("J", ""),
                ("K", "a"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn crlf_files() {
        assert_eq!(
            values("A=1\r\nB=\"x\r\ny\"\r\nC='z' \r\n"),
            [("A", "1"), ("B", "x\ny"), ("C", "z")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn export_prefix_only_with_a_space() {
        assert_eq!(key_name("export FOO"), "FOO");
        assert_eq!(key_name("exported"), "exported");
        assert_eq!(key_name(" K "), "K");
    }
}
