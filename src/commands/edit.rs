//! `sealed edit FILE`: decrypt to a private temporary file, run the user's editor, and
//! re-encrypt only what changed (see docs/editing.md). Also the helpers `set` and `unset`
//! share: opening an encrypted file for a change and sealing the changed plaintext.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::encrypt::{EncryptOptions, has_key_or_rule_flags, plan_for};
use super::{Io, engine_error};
use crate::codec::token::DataKey;
use crate::edit::exit as edit_exit;
use crate::edit::external::{self, EditorError, Workspace};
use crate::engine::{self, EngineError, Sealed, unwrap_data_key};
use crate::error::{Error, Pos, display_path, exit};
use crate::format::Syntax;
use crate::keys::IdentitySet;

/// `sealed edit`: edit an encrypted file in your editor; only what you change is
/// re-encrypted. A file that does not exist is created, encrypted to the recipients of the
/// matching `.sops.yaml` rule (or `--age` / `SOPS_AGE_RECIPIENTS`).
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "The editor is $SOPS_EDITOR, $VISUAL or $EDITOR (with its arguments), else vi. \
Exit status 200: nothing changed, the file is as it was; 201: the editor could not run or failed. \
See docs/editing.md."
)]
pub struct Args {
    /// The encrypted file (created when it does not exist).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The syntax: yaml, json, dotenv, ini, toml or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// Recipients and rules, for a new file only.
    #[command(flatten, next_help_heading = "For a new file")]
    opts: EncryptOptions,
}

impl Args {
    /// sops's verb-less `sops FILE`: edit FILE.
    pub fn new(file: PathBuf, input_type: Option<String>, opts: EncryptOptions) -> Args {
        Args {
            file,
            input_type,
            opts,
        }
    }
}

/// An encrypted file, decrypted and ready for a change; or the git filter's plaintext in
/// the work tree, which is changed as plaintext (the filter encrypts it on `git add`).
pub struct Opened {
    /// The file.
    pub file: PathBuf,
    /// Its name for messages.
    pub name: String,
    /// Its syntax.
    pub syntax: Syntax,
    /// The text as stored: the ciphertext, or the filter's plaintext.
    pub src: Zeroizing<String>,
    /// The data key; `None` for the filter's plaintext (written back as plaintext).
    pub key: Option<DataKey>,
    /// The decrypted text (the MAC verified).
    pub plain: Zeroizing<String>,
    /// The lock that keeps other sealed writers of the file waiting until this change is
    /// written (or given up).
    _lock: Option<crate::fsutil::FileLock>,
}

/// The syntax of `file`: `input_type`, else its name. Standard input (`-`) is refused:
/// these verbs change a file in place.
pub fn syntax_of(file: &Path, input_type: Option<&str>) -> Result<Syntax, Error> {
    if file.as_os_str() == "-" {
        return Err(Error::other(
            exit::CONFLICT,
            "this command changes a file in place; it cannot work on standard input",
        ));
    }
    Io {
        file: file.to_path_buf(),
        in_place: false,
        output: None,
        input_type: input_type.map(str::to_string),
        filename_override: None,
    }
    .syntax()
}

/// Reads and decrypts an encrypted file (MAC verified). A file the git filter keeps in
/// plaintext in the work tree ([`super::source::filter_plaintext`]) is read as the
/// plaintext it is, and changes to it are written as plaintext: never ciphertext into a
/// file git expects in clear, never plaintext into a path git would not encrypt.
pub fn open_encrypted(file: &Path, syntax: Syntax) -> Result<Opened, Error> {
    let name = display_path(file);
    let lock = crate::fsutil::lock(file)?;
    let src = crate::fsutil::read_text(file)?;
    let parsed = Sealed::parse(&src, syntax.format());
    if matches!(parsed, Err(EngineError::NotEncrypted))
        && super::source::filter_plaintext(file).is_some()
    {
        drop(parsed);
        return Ok(Opened {
            file: file.to_path_buf(),
            name,
            syntax,
            plain: src.clone(),
            src,
            key: None,
            _lock: lock,
        });
    }
    let sealed = parsed.map_err(|e| engine_error(&name, &src, e))?;
    let identities =
        IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?;
    let key =
        unwrap_data_key(&sealed.metadata, &identities).map_err(|e| engine_error(&name, &src, e))?;
    let plain = sealed
        .decrypt(&key)
        .map_err(|e| engine_error(&name, &src, e))?;
    drop(sealed);
    Ok(Opened {
        file: file.to_path_buf(),
        name,
        syntax,
        src,
        key: Some(key),
        plain,
        _lock: lock,
    })
}

impl Opened {
    /// The encrypted text for the changed plaintext `plain`: unchanged values keep their
    /// tokens; `Err` carries the engine's complaint about `plain`. For the git filter's
    /// plaintext, `plain` itself, once the engine has checked that it can encrypt it (as
    /// the filter will on `git add`).
    pub fn seal(&self, plain: &str) -> Result<Zeroizing<String>, EngineError> {
        let Some(key) = &self.key else {
            check_encryptable(plain, self.syntax)?;
            return Ok(Zeroizing::new(plain.to_string()));
        };
        let sealed = Sealed::parse(&self.src, self.syntax.format())?;
        let (out, report) = engine::reencrypt(plain, &sealed, key)?;
        if report.adopted_layout {
            eprintln!("sealed: warning: {}: {}", self.name, engine::ADOPTED_LAYOUT);
        }
        Ok(out)
    }

    /// Writes `out` over the file, atomically, unless it is what the file holds already.
    /// Returns whether it wrote.
    pub fn write(&self, out: &str) -> Result<bool, Error> {
        if out == self.src.as_str() {
            return Ok(false);
        }
        crate::fsutil::write_atomic(&self.file, out.as_bytes())?;
        Ok(true)
    }

    /// Seals the changed plaintext `plain` and writes it over the file; nothing happens
    /// when `plain` is the file's plaintext already.
    pub fn commit(&self, plain: &str) -> Result<(), Error> {
        if plain == self.plain.as_str() {
            return Ok(());
        }
        let out = self
            .seal(plain)
            .map_err(|e| engine_error(&self.name, plain, e))?;
        self.write(&out)?;
        Ok(())
    }
}

/// Checks that the engine can encrypt `plain` (syntax, reserved `sops` entry, limits): the
/// same refusals as sealing it, without keys (a throw-away data key, output dropped).
fn check_encryptable(plain: &str, syntax: Syntax) -> Result<(), EngineError> {
    let key = DataKey::generate();
    let selection = crate::config::Selection::default();
    engine::encrypt_with_key(plain, syntax.format(), &key, vec![], None, &selection).map(drop)
}

/// A SOPS tree path (`["db"]["password"]`) given to `set` or `unset`.
pub fn tree_path(text: &str) -> Result<Vec<crate::format::Step>, Error> {
    crate::edit::parse_path(text)
        .map_err(|e| Error::other(edit_exit::INVALID_TREE_PATH, e.to_string()))
}

/// Runs `sealed edit`.
pub fn run(args: &Args) -> Result<(), Error> {
    let syntax = syntax_of(&args.file, args.input_type.as_deref())?;
    let name = display_path(&args.file);
    external::install_signal_handlers()
        .map_err(|e| Error::file(&name, exit::GENERIC, e.to_string()))?;
    if args.file.exists() {
        if has_key_or_rule_flags(&args.opts) {
            return Err(Error::file(
                &name,
                exit::CONFLICT,
                "the file exists: its recipients and rules come from its metadata; --age, --config and the selection flags apply to a new file only",
            ));
        }
        edit_existing(&args.file, syntax)
    } else {
        edit_new(&args.file, syntax, &args.opts)
    }
}

/// What a round in the editor gave.
enum Round {
    /// The encrypted text to write.
    Sealed(Zeroizing<String>),
    /// The user left the text as it was.
    Unchanged,
}

fn edit_existing(file: &Path, syntax: Syntax) -> Result<(), Error> {
    let opened = open_encrypted(file, syntax)?;
    let name = opened.name.clone();
    let round = if syntax == Syntax::Binary {
        // The editor gets the file itself, not the JSON document that holds it.
        let tree = crate::data::load(&opened.plain, syntax)
            .map_err(|e| Error::file(&name, exit::GENERIC, e.to_string()))?;
        let content = crate::format::binary::unwrap(&tree.root)
            .map_err(|e| Error::file(&name, exit::GENERIC, e.to_string()))?;
        edit_loop(file, &name, &content, |text| {
            opened.seal(&crate::format::binary::wrap(text))
        })?
    } else {
        edit_loop(file, &name, &opened.plain, |text| opened.seal(text))?
    };
    match round {
        Round::Unchanged => Err(unchanged(&name)),
        Round::Sealed(out) => {
            external::while_writing(|| opened.write(&out))?;
            Ok(())
        }
    }
}

fn edit_new(file: &Path, syntax: Syntax, opts: &EncryptOptions) -> Result<(), Error> {
    let name = display_path(file);
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::file(
            &name,
            exit::WRITE,
            "cannot create the file: its directory does not exist",
        ));
    }
    // Recipients first: no point editing what cannot be encrypted.
    let (plan, selection) = plan_for(file, opts)?;
    let initial = match syntax {
        Syntax::Json => "{}\n",
        Syntax::Yaml | Syntax::Dotenv | Syntax::Toml | Syntax::Ini | Syntax::Binary => "",
    };
    let round = edit_loop(file, &name, initial, |text| {
        let encrypted = if syntax == Syntax::Binary {
            engine::encrypt(
                &crate::format::binary::wrap(text),
                syntax.format(),
                &plan,
                &selection,
            )
        } else {
            engine::encrypt(text, syntax.format(), &plan, &selection)
        };
        encrypted.map(|(out, _)| out)
    })?;
    match round {
        Round::Unchanged => Err(Error::file(
            &name,
            edit_exit::FILE_NOT_MODIFIED,
            "nothing written: the new file was left as it started",
        )),
        Round::Sealed(out) => {
            external::while_writing(|| crate::fsutil::write_atomic(file, out.as_bytes()))
        }
    }
}

fn unchanged(name: &str) -> Error {
    Error::file(
        name,
        edit_exit::FILE_NOT_MODIFIED,
        "no changes; the file was left as it was",
    )
}

/// Opens `plain` in the editor until the result can be sealed (on a terminal, invalid
/// text is offered back to the editor), the user gives up, or nothing changed.
fn edit_loop(
    file: &Path,
    name: &str,
    plain: &str,
    seal: impl Fn(&str) -> Result<Zeroizing<String>, EngineError>,
) -> Result<Round, Error> {
    let file_name = file
        .file_name()
        .map_or_else(|| std::ffi::OsString::from("file"), |n| n.to_os_string());
    let ws = Workspace::create(&file_name, plain.as_bytes(), name).map_err(|e| {
        Error::file(
            name,
            exit::WRITE,
            format!("cannot create the private temporary file: {e}"),
        )
    })?;
    let untouched = |what: String, code: i32| {
        Error::file(name, code, format!("{what}; the file was not changed"))
    };
    loop {
        let status = external::run_editor(ws.path()).map_err(|e| match e {
            EditorError::Interrupted(sig) => {
                untouched(format!("interrupted by signal {sig}"), 128 + sig)
            }
            EditorError::Spawn { .. } | EditorError::BadCommand { .. } => {
                untouched(e.to_string(), edit_exit::NO_EDITOR)
            }
            EditorError::Signals(_) => untouched(e.to_string(), exit::GENERIC),
        })?;
        if !status.success() {
            let how = match status.code() {
                Some(c) => format!("the editor exited with status {c}"),
                None => "the editor was stopped by a signal".to_string(),
            };
            return Err(untouched(how, edit_exit::NO_EDITOR));
        }
        let bytes = ws.read().map_err(|source| Error::Read {
            file: display_path(ws.path()),
            source,
        })?;
        let problem = match std::str::from_utf8(&bytes) {
            Err(e) => {
                let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                Problem {
                    pos: Pos::of_offset(valid, valid.len()),
                    msg: "the text is not valid UTF-8".into(),
                }
            }
            Ok(text) if text == plain => return Ok(Round::Unchanged),
            Ok(text) => match seal(text) {
                Ok(out) => return Ok(Round::Sealed(out)),
                Err(EngineError::Syntax(e)) => Problem {
                    pos: Pos::of_offset(text, e.offset),
                    msg: e.msg,
                },
                Err(EngineError::AlreadyEncrypted) => Problem {
                    pos: Pos { line: 1, col: 1 },
                    msg: "the text has a top-level sops entry, which is reserved for the encryption metadata".into(),
                },
                Err(other) => return Err(engine_error(name, text, other)),
            },
        };
        let file = format!("{name} (edited text)");
        if !interactive() {
            return Err(Error::Positioned {
                file,
                pos: problem.pos,
                msg: format!("{}; the file was not changed", problem.msg),
                code: exit::GENERIC,
            });
        }
        eprintln!("sealed: {file}:{}: {}", problem.pos, problem.msg);
        if !ask_reopen()? {
            return Err(untouched("changes discarded".into(), exit::GENERIC));
        }
    }
}

/// What is wrong with the edited text.
struct Problem {
    pos: Pos,
    msg: String,
}

/// Is a person at the terminal (to be asked whether to reopen the editor)?
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks whether to reopen the editor on the user's text.
fn ask_reopen() -> Result<bool, Error> {
    {
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "sealed: press Enter to reopen the editor on your text, or type q and Enter to discard your changes: "
        );
        let _ = err.flush();
    }
    let mut answer = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Read {
            file: "<stdin>".into(),
            source,
        })?;
    let a = answer.trim();
    Ok(n > 0 && !a.eq_ignore_ascii_case("q") && !a.eq_ignore_ascii_case("quit"))
}
