//! The typed tree of a decrypted document, shared by the syntaxes' readers (which build it)
//! and [`crate::data`] (which flattens, extracts and emits it). It sits below both: a
//! syntax's folder imports it, `data/` re-exports it, and nothing here imports either.
//!
//! Every scalar keeps its text as written (`5432`, `0755`, `True`, `1.50`) next to its type.
//! Scalar text is wiped from memory on drop. No error carries a value.

use zeroize::Zeroizing;

/// A node of the tree. Mapping keys keep their order.
#[derive(Debug, Clone)]
pub enum Node {
    /// A mapping: keys in document order.
    Map(Vec<(String, Node)>),
    /// A sequence.
    List(Vec<Node>),
    /// A scalar.
    Scalar(Scalar),
}

/// A scalar: its type and its text as written.
#[derive(Debug, Clone)]
pub struct Scalar {
    /// The type the syntax gives it (YAML: as yaml.v3, so SOPS, resolves it).
    pub kind: Kind,
    /// The text: a string's content, or a number's or boolean's spelling in the source
    /// (`0x10`, `True`, `1.50`). Wiped on drop.
    pub text: Zeroizing<String>,
}

/// The type of a scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or an empty YAML value; its text as an environment value is empty.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (integer or float), as JSON holds it.
    Number(serde_json::Number),
    /// A string (its content is the scalar's text).
    Str,
    /// A YAML timestamp (`2025-01-02`), a string to every reader but yaml.v3: the
    /// scalar's text is as written, this its RFC 3339 form as Go formats it
    /// (`2025-01-02T00:00:00Z`), which sops writes when it converts to JSON or INI.
    Time(String),
}

impl Scalar {
    /// A string scalar.
    pub fn string(text: impl Into<String>) -> Scalar {
        Scalar {
            kind: Kind::Str,
            text: Zeroizing::new(text.into()),
        }
    }

    /// The text a variable or `--extract` gives for this scalar: the text as written, and
    /// empty for null.
    pub fn value_text(&self) -> &str {
        match self.kind {
            Kind::Null => "",
            _ => &self.text,
        }
    }
}

/// What can go wrong building or using a view. No variant carries a value.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The decrypted text is not valid in its syntax (byte offset into it).
    #[error("{msg}")]
    Syntax {
        /// Byte offset into the decrypted text.
        offset: usize,
        /// A fixed description.
        msg: String,
    },
    /// A YAML file with several documents.
    #[error(
        "the file holds {0} YAML documents; exec, --extract and --output-type read one \
         (plain `sealed decrypt` prints them all)"
    )]
    MultiDocument(usize),
    /// The top level is not a mapping.
    #[error("the top level of the document is not a mapping")]
    NotMapping,
    /// A mapping has the same key twice.
    #[error("duplicate key at {0}")]
    DuplicateKey(String),
    /// Two key paths give the same variable name.
    #[error("{first} and {second} both become the variable {name}")]
    Collision {
        /// The first key path.
        first: String,
        /// The second key path.
        second: String,
        /// The variable name.
        name: String,
    },
    /// A key path gives no usable variable name.
    #[error("{path} does not make a variable name (it would be {name:?})")]
    BadName {
        /// The key path.
        path: String,
        /// What flattening gave.
        name: String,
    },
    /// A value holds a NUL byte, which no environment variable can hold.
    #[error("the value at {0} contains a NUL byte, which an environment variable cannot hold")]
    Nul(String),
    /// A name that `export` lines cannot use.
    #[error(
        "{0:?} is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*), so it cannot be exported"
    )]
    NotIdentifier(String),
    /// An `--extract` path that does not parse.
    #[error(
        "invalid --extract path at character {at}: {msg} (expected e.g. '[\"db\"][\"password\"]' or '[\"hosts\"][0]')"
    )]
    BadPath {
        /// 1-based character position.
        at: usize,
        /// What was expected.
        msg: &'static str,
    },
    /// An `--extract` path that names nothing.
    #[error("--extract: {0} not found")]
    NotFound(String),
    /// A scalar where a mapping or list was needed, or the reverse.
    #[error("{0}")]
    Shape(String),
    /// In a .env file whose layout is not authenticated, a later line of a key replaces an
    /// encrypted value with an empty or clear one.
    #[error(
        "'{name}' is set twice: its later value (empty or in clear text, which the file's \
         MAC does not authenticate) would replace the encrypted one"
    )]
    WeakOverride {
        /// The variable name.
        name: String,
    },
    /// An inconsistency between two passes over the same text (a bug).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl DataError {
    /// Byte offset into the decrypted text, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            DataError::Syntax { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// One step of a key path (the same steps the syntaxes' outlines use).
pub use super::Step;

/// A key path for messages: `'db.password'`, `'hosts[0]'`, `(top level)` when empty.
pub fn display_path(steps: &[Step]) -> String {
    let out = dotted_path(steps);
    if out.is_empty() {
        "(top level)".to_string()
    } else {
        format!("'{out}'")
    }
}

/// A key path written `db.password`, `hosts[0]` (empty for the root).
pub fn dotted_path(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// What the decrypt pass wrote in place of one leaf of the ciphertext's outline, for
/// [`super::Format::tree_from_outline`] (one per item of the document; only leaves use it).
#[derive(Debug, Default)]
pub enum Opened {
    /// The leaf stays as the ciphertext has it (not encrypted, null or empty).
    #[default]
    Kept,
    /// A decrypted string: its content (a string scalar, whatever its spelling).
    Str(Zeroizing<String>),
    /// A decrypted number or boolean: the text written in its place, to be typed as the
    /// syntax types an unquoted value.
    Spelled(Zeroizing<String>),
    /// Something the tree cannot be built from without parsing the plaintext (a string
    /// restored from a recorded spelling, a comment item): the caller parses.
    Unknown,
}
