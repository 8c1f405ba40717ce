//! sops's binary store (getsops/sops `stores/json`, `BinaryStore`): the whole file is one
//! string value, `data`, of a JSON document. Encrypted, it is that JSON document with its
//! `sops` metadata, so every rule of the JSON syntax holds (MAC, layout digest, tampering
//! refused); sealed's JSON [`crate::format::json::Json`] reads and writes it. This module
//! only wraps a file into that document and takes it out again.

use zeroize::Zeroizing;

use super::json::push_string;
use super::tree::{DataError, Node};

/// The key that holds the file.
pub const DATA_KEY: &str = "data";

/// The plaintext JSON document holding `content` as `data`, laid out as sops writes it
/// (tab indentation, final line break).
pub fn wrap(content: &str) -> Zeroizing<String> {
    // Room for the usual escapes up front, so that the buffer seldom grows (a growth
    // leaves a copy behind).
    let mut out = Zeroizing::new(String::with_capacity(content.len() * 5 / 4 + 32));
    out.push_str("{\n\t\"");
    out.push_str(DATA_KEY);
    out.push_str("\": ");
    push_string(content, &mut out);
    out.push_str("\n}\n");
    out
}

/// The file a tree holds: its top-level `data` string (sops's `EmitPlainFile` of the
/// binary store).
pub fn unwrap(root: &Node) -> Result<Zeroizing<String>, DataError> {
    if let Node::Map(entries) = root
        && let Some((_, Node::Scalar(s))) = entries.iter().find(|(k, _)| k == DATA_KEY)
    {
        return Ok(Zeroizing::new(s.value_text().to_string()));
    }
    Err(DataError::Syntax {
        offset: 0,
        msg: "no binary data found: the document has no top-level \"data\" string".into(),
    })
}

/// The file held by the decrypted binary-store document `json` (its `data` string).
pub fn unwrap_text(json: &str) -> Result<Zeroizing<String>, DataError> {
    use super::Format as _;
    unwrap(&super::json::Json.load_tree(json)?)
}

/// The file the engine's plaintext of a `syntax` document stands for: the plaintext
/// itself, or for the binary store the file its `data` holds.
pub fn from_engine(
    syntax: super::Syntax,
    plain: Zeroizing<String>,
) -> Result<Zeroizing<String>, DataError> {
    if syntax == super::Syntax::Binary {
        unwrap_text(&plain)
    } else {
        Ok(plain)
    }
}

#[cfg(test)]
mod tests;
