//! Decrypted data views: the values of a *decrypted* document as a tree, for the commands
//! that deliver secrets rather than files (`sealed exec`, `decrypt --extract`,
//! `decrypt --output-type`).
//!
//! - [`load`] builds a [`Data`] tree from decrypted text with the syntax's own data reader
//!   ([`crate::format::Format::load_tree`]): YAML ([`crate::format::yaml::value::tree`]),
//!   JSON ([`json`]) or dotenv read as dotenv users expect ([`dotenv`]); the tree's types
//!   live in [`crate::format::tree`];
//! - [`flatten`] turns a tree into environment variables (`db.password` → `DB_PASSWORD`);
//! - [`path`] reads SOPS's `--extract` paths (`["db"]["password"]`);
//! - [`emit`] writes a tree as JSON, YAML, dotenv or `export` lines.
//!
//! Every scalar keeps its text as written (`5432`, `0755`, `True`, `1.50`) next to its type,
//! so environment variables get the text and JSON output gets the type. Scalar text is
//! wiped from memory on drop. No error carries a value: errors name key paths (keys are not
//! secret) and positions only.

pub mod emit;
pub mod flatten;
pub mod path;
pub mod trust;

use crate::format::Syntax;

/// The dotenv data reader (lives beside the dotenv syntax).
pub use crate::format::dotenv::data as dotenv;
/// The JSON data reader (lives beside the JSON syntax).
pub use crate::format::json::data as json;

pub use crate::format::tree::{DataError, Kind, Node, Scalar, Step, display_path, dotted_path};

/// The values of one decrypted document.
#[derive(Debug)]
pub struct Data {
    /// The syntax the document was written in.
    pub syntax: Syntax,
    /// The top-level mapping.
    pub root: Node,
}

/// Builds the tree of a decrypted document of `syntax`. The top level must be a mapping;
/// YAML must hold exactly one document.
pub fn load(text: &str, syntax: Syntax) -> Result<Data, DataError> {
    let root = syntax.format().load_tree(text)?;
    if !matches!(root, Node::Map(_)) {
        return Err(DataError::NotMapping);
    }
    Ok(Data { syntax, root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_keys_and_indexes() {
        let p = [
            Step::Key("db".into()),
            Step::Key("hosts".into()),
            Step::Index(2),
        ];
        assert_eq!(display_path(&p), "'db.hosts[2]'");
        assert_eq!(display_path(&[]), "(top level)");
    }

    #[test]
    fn load_requires_a_mapping() {
        assert!(matches!(
            load("[1, 2]\n", Syntax::Yaml),
            Err(DataError::NotMapping)
        ));
        assert!(matches!(
            load("a: 1\n---\nb: 2\n", Syntax::Yaml),
            Err(DataError::MultiDocument(2))
        ));
        assert!(load("{\"a\": 1}", Syntax::Json).is_ok());
    }
}
