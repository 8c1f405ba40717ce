//! `sealed decrypt`: the data key is unwrapped with the identities SOPS would find, the
//! MAC verified, and only then is plaintext written — the file byte for byte, or one value
//! (`--extract`), or the values in another shape (`--output-type`).

use super::source::{self, WeakSource};
use super::{Io, engine_error};
use crate::data::emit::{self, OutputType};
use std::collections::HashSet;

use crate::data::{self, DataError, Node, flatten, path, trust};
use crate::engine::{EngineError, Sealed, unwrap_data_key};
use crate::error::{Error, Pos, exit};
use crate::format::Syntax;
use crate::keys::IdentitySet;
use zeroize::Zeroizing;

/// `sealed decrypt`: decrypt a file; the MAC is verified before anything is printed.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    io: Io,
    /// Print only the value at this path, in SOPS's syntax: '["db"]["password"]',
    /// '["hosts"][0]'. A scalar prints raw (no added line break); a mapping or list prints
    /// in the file's format, or in --output-type.
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,
    /// Print the values in another shape: json, yaml, dotenv (flattened as `sealed exec`
    /// names variables) or export (`export NAME='value'` lines for `eval`). The file's own
    /// type gives its exact bytes.
    #[arg(long, value_name = "TYPE", value_enum)]
    output_type: Option<OutputTypeArg>,
    /// Do not check the MAC (sops's flag, to recover a damaged file): the values are then
    /// not authenticated; a warning says so.
    #[arg(long)]
    ignore_mac: bool,
}

impl Args {
    /// The options of a decrypt given in sops's older spelling (`sealed -d FILE`).
    pub fn new(
        io: Io,
        extract: Option<String>,
        output_type: Option<&str>,
        ignore_mac: bool,
    ) -> Result<Args, Error> {
        let output_type = match output_type {
            None => None,
            Some(t) => Some(
                <OutputTypeArg as clap::ValueEnum>::from_str(t, true).map_err(|_| {
                    Error::other(
                        exit::CONFLICT,
                        format!("unknown --output-type {t:?}: use json, yaml, dotenv, ini, binary or export"),
                    )
                })?,
            ),
        };
        Ok(Args {
            io,
            extract,
            output_type,
            ignore_mac,
        })
    }
}

/// `--output-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputTypeArg {
    /// JSON, numbers and booleans typed.
    Json,
    /// YAML.
    Yaml,
    /// dotenv `NAME=value` lines.
    Dotenv,
    /// `export NAME='value'` lines for a POSIX shell.
    Export,
    /// INI sections (sops's INI store).
    Ini,
    /// The top-level `data` string as it is (sops's binary store).
    Binary,
}

impl From<OutputTypeArg> for OutputType {
    fn from(a: OutputTypeArg) -> OutputType {
        match a {
            OutputTypeArg::Json => OutputType::Json,
            OutputTypeArg::Yaml => OutputType::Yaml,
            OutputTypeArg::Dotenv => OutputType::Dotenv,
            OutputTypeArg::Export => OutputType::Export,
            OutputTypeArg::Ini => OutputType::Ini,
            OutputTypeArg::Binary => OutputType::Binary,
        }
    }
}

/// A decrypted, MAC-verified document.
pub struct Plaintext {
    /// The decrypted text, byte for byte the original file. Wiped on drop.
    pub text: Zeroizing<String>,
    /// Its syntax.
    pub syntax: Syntax,
    /// The file's name for messages.
    pub name: String,
    /// Which variables an editor of the ciphertext (or of the commit that holds the
    /// git filter's plaintext) could have chosen.
    weak: WeakSource,
    /// Whether the file is the git filter's plaintext in the work tree (it was read as it
    /// is, not decrypted).
    pub filter_plaintext: bool,
    /// The document's tree, when the decrypt pass built it (taken by the first
    /// [`Plaintext::data`]; later calls parse the text).
    tree: std::cell::Cell<Option<Node>>,
}

impl Plaintext {
    /// The document's values as a tree.
    pub fn data(&self) -> Result<data::Data, Error> {
        if let Some(root) = self.tree.take() {
            return Ok(data::Data {
                syntax: self.syntax,
                root,
            });
        }
        data::load(&self.text, self.syntax).map_err(|e| self.data_error(e))
    }

    /// The variables an editor of the ciphertext could have chosen ([`trust`]): none when
    /// sealed authenticated the layout.
    pub fn weak_names(&self) -> Result<HashSet<String>, Error> {
        match &self.weak {
            WeakSource::Nothing => Ok(HashSet::new()),
            WeakSource::Cipher(cipher) => trust::weak_names(cipher, self.syntax).map_err(|e| {
                // A position would be in the ciphertext: name the file only.
                Error::file(&self.name, exit::GENERIC, e.to_string())
            }),
            WeakSource::Everything => Ok(flatten::flatten(&self.data()?)
                .map_err(|e| self.data_error(e))?
                .into_iter()
                .map(|v| v.name)
                .collect()),
        }
    }

    /// The weak top-level keys, as written (the variables of `exec-env`, which names
    /// variables by top-level key): none when sealed authenticated the layout.
    pub fn weak_keys(&self) -> Result<HashSet<String>, Error> {
        match &self.weak {
            WeakSource::Nothing => Ok(HashSet::new()),
            WeakSource::Cipher(cipher) => trust::weak_top_keys(cipher, self.syntax)
                .map_err(|e| Error::file(&self.name, exit::GENERIC, e.to_string())),
            WeakSource::Everything => Ok(match self.data()?.root {
                Node::Map(entries) => entries.into_iter().map(|(k, _)| k).collect(),
                _ => HashSet::new(),
            }),
        }
    }

    /// A view error as a one-line error naming the file (and the line in the decrypted
    /// text, when there is one).
    pub fn data_error(&self, e: DataError) -> Error {
        match e.offset() {
            Some(offset) => Error::Syntax {
                file: self.name.clone(),
                pos: Pos::of_offset(&self.text, offset),
                msg: format!("{e} (in the decrypted text)"),
            },
            None => Error::file(&self.name, exit::GENERIC, e.to_string()),
        }
    }
}

/// Reads, parses and decrypts what `io` names, verifying the MAC. A file the git filter
/// keeps in plaintext in the work tree ([`source::filter_plaintext`]) is the decrypted
/// document already: it is read as it is.
pub fn decrypt(io: &Io, identities: &mut Identities) -> Result<Plaintext, Error> {
    decrypt_checked(io, identities, false, false)
}

/// [`decrypt`] for a caller that reads the values ([`Plaintext::data`]): where the syntax
/// can, the decrypt pass builds the tree from the ciphertext's outline, so that the
/// plaintext is not parsed again (docs/architecture.md, "One parse per syntax").
pub fn decrypt_for_data(io: &Io, identities: &mut Identities) -> Result<Plaintext, Error> {
    decrypt_checked(io, identities, false, true)
}

/// [`decrypt`], with sops's `--ignore-mac` when `ignore_mac`: a warning names the file,
/// and says so again when its MAC does not match.
fn decrypt_checked(
    io: &Io,
    identities: &mut Identities,
    ignore_mac: bool,
    want_tree: bool,
) -> Result<Plaintext, Error> {
    let syntax = io.syntax()?;
    let mut src = crate::fsutil::read_text(&io.file)?;
    let name = io.name();
    // The tree is built only on a checked decrypt, and only YAML builds it (the other
    // syntaxes' data readers are cheap: their outline stays lean).
    let want_tree = want_tree && !ignore_mac && syntax == Syntax::Yaml;
    let parsed = if want_tree {
        Sealed::parse_for_tree(&src, syntax.format())
    } else {
        Sealed::parse(&src, syntax.format())
    };
    // The filter's plaintext of a binary-store file is the file itself, not JSON.
    let not_ciphertext = match &parsed {
        Err(EngineError::NotEncrypted) => true,
        Err(_) => syntax == Syntax::Binary,
        Ok(_) => false,
    };
    if not_ciphertext
        && io.filename_override.is_none()
        && let Some(protected) = source::filter_plaintext(&io.file)
    {
        drop(parsed);
        let weak = protected.weak_source(syntax, identities);
        let text = if syntax == Syntax::Binary {
            crate::format::binary::wrap(&src)
        } else {
            src
        };
        return Ok(Plaintext {
            text,
            syntax,
            name,
            weak,
            filter_plaintext: true,
            tree: std::cell::Cell::new(None),
        });
    }
    let mut sealed = parsed.map_err(|e| engine_error(&name, &src, e))?;
    let key = unwrap_data_key(&sealed.metadata, identities.get()?)
        .map_err(|e| engine_error(&name, &src, e))?;
    let mut tree = None;
    let text = if ignore_mac {
        // One decrypt that checks everything tells whether the MAC matches; only a file
        // whose MAC does not is decrypted a second time, without the check.
        let (checked, verdict) = match sealed.decrypt(&key) {
            Ok(text) => (Some(text), "it matches"),
            Err(
                EngineError::MacMismatch | EngineError::MacMissing | EngineError::LayoutChanged,
            ) => (
                None,
                "IT DOES NOT MATCH: the file was changed by someone without the key, or damaged",
            ),
            Err(_) => (None, ""),
        };
        eprintln!(
            "sealed: warning: {name}: --ignore-mac: the MAC is not checked, so the values printed are not authenticated{}{verdict}",
            if verdict.is_empty() { "" } else { "; " }
        );
        match checked {
            Some(text) => text,
            None => {
                sealed.ignore_mac();
                sealed
                    .decrypt(&key)
                    .map_err(|e| engine_error(&name, &src, e))?
            }
        }
    } else if want_tree {
        let (text, built) = sealed
            .decrypt_to_tree(&key)
            .map_err(|e| engine_error(&name, &src, e))?;
        tree = built;
        text
    } else {
        sealed
            .decrypt(&key)
            .map_err(|e| engine_error(&name, &src, e))?
    };
    let layout_authenticated = sealed.layout_authenticated();
    drop(sealed);
    Ok(Plaintext {
        text,
        syntax,
        name,
        weak: if layout_authenticated {
            WeakSource::Nothing
        } else {
            // The ciphertext is not needed any more as the source: moved, not copied.
            WeakSource::Cipher(std::mem::take(&mut *src))
        },
        filter_plaintext: false,
        tree: std::cell::Cell::new(tree),
    })
}

/// The identities SOPS would use, looked for when a file first needs them (an identity
/// file may ask for its passphrase, so nothing is asked before a file is known to be
/// readable and encrypted), then kept for the next files.
#[derive(Default)]
pub struct Identities(Option<IdentitySet>);

impl Identities {
    /// The identities, discovered on the first call.
    pub fn get(&mut self) -> Result<&IdentitySet, Error> {
        let set = match self.0.take() {
            Some(set) => set,
            None => {
                IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?
            }
        };
        Ok(self.0.insert(set))
    }
}

/// Runs `sealed decrypt`.
pub fn run(args: &Args) -> Result<(), Error> {
    let io = &args.io;
    io.validate()?;
    if io.in_place && (args.extract.is_some() || args.output_type.is_some()) {
        return Err(Error::other(
            exit::CONFLICT,
            "--in-place cannot be used with --extract or --output-type",
        ));
    }
    // A malformed path is reported before anything is decrypted.
    let steps = match &args.extract {
        Some(p) => Some(path::parse(p).map_err(|e| Error::other(exit::GENERIC, e.to_string()))?),
        None => None,
    };
    let output_type = args.output_type.map(OutputType::from);
    let _lock = io.lock_in_place()?;
    let wants_data = steps.is_some() || {
        let syntax = io.syntax()?;
        output_type.is_some_and(|t| t.syntax() != Some(syntax))
    };
    let plain = decrypt_checked(io, &mut Identities::default(), args.ignore_mac, wants_data)?;
    if io.in_place && plain.filter_plaintext {
        // Already what `-i` would write: the file stays as it is.
        return Ok(());
    }
    // A binary file decrypts to its `data` value, not to the JSON document that holds it.
    let output_type = match output_type {
        None if steps.is_none() && plain.syntax == Syntax::Binary => Some(OutputType::Binary),
        ty => ty,
    };
    let out = match (&steps, output_type) {
        (None, None) => return io.write(plain.text.as_bytes()),
        (None, Some(ty)) if ty.syntax() == Some(plain.syntax) && ty != OutputType::Binary => {
            return io.write(plain.text.as_bytes());
        }
        (None, Some(ty)) => converted(&plain, ty)?,
        (Some(steps), ty) => {
            let data = plain.data()?;
            let node = path::select(&data.root, steps).map_err(|e| plain.data_error(e))?;
            extracted(node, data.syntax, ty).map_err(|e| plain.data_error(e))?
        }
    };
    io.write(out.as_bytes())
}

/// The whole document in another shape (`--output-type`, also `exec-file
/// --output-type`). Shell lines are read by a program (`eval`): a weak variable never
/// sets one that changes how commands are found or loaded (data::trust).
pub fn converted(plain: &Plaintext, ty: OutputType) -> Result<Zeroizing<String>, Error> {
    let data = plain.data()?;
    let weak = match ty {
        OutputType::Dotenv | OutputType::Export => plain.weak_names()?,
        _ => HashSet::new(),
    };
    let keep = |name: &str| {
        let refused = weak.contains(name) && trust::steers_loading(name);
        if refused {
            eprintln!(
                "sealed: warning: {}: {name} is left out: its value (empty, null or \
                 clear text) is not authenticated by the file's MAC and it changes \
                 how commands are found or loaded",
                plain.name
            );
        }
        !refused
    };
    emit::emit_with(&data.root, data.syntax, ty, &keep).map_err(|e| plain.data_error(e))
}

/// What `--extract` prints: a scalar's text raw, a subtree in `ty` or the file's format.
fn extracted(
    node: &Node,
    syntax: Syntax,
    ty: Option<OutputType>,
) -> Result<Zeroizing<String>, DataError> {
    match node {
        Node::Scalar(s) => Ok(Zeroizing::new(s.value_text().to_string())),
        _ => emit::emit(
            node,
            syntax,
            ty.unwrap_or_else(|| OutputType::of_syntax(syntax)),
        ),
    }
}
