//! `sealed set FILE PATH VALUE`: change one value of an encrypted file without an editor,
//! in SOPS's syntax (`'["db"]["password"]' '"new value"'`, the value is JSON). Only that
//! value's text changes; only its token is new (with the MAC and `lastmodified`).

use std::path::PathBuf;

use zeroize::Zeroizing;

use super::edit::{Opened, open_encrypted, syntax_of, tree_path};
use super::engine_error;
use crate::edit::exit as edit_exit;
use crate::edit::render::SecretValue;
use crate::engine::Sealed;
use crate::error::{Error, display_path, exit};
use crate::format::Syntax;

/// `sealed set`: set one value (JSON) at a path like `["db"]["password"]`, creating it when
/// missing.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The encrypted file, changed in place.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where: SOPS's path syntax, e.g. '["db"]["password"]' or '["hosts"][0]'.
    #[arg(value_name = "PATH")]
    path: String,
    /// The value, as JSON: '"text"', 5, true, '{"a": 1}'. Omit it with --value-stdin.
    #[arg(value_name = "VALUE")]
    value: Option<String>,
    /// Read the value (JSON) from standard input, keeping it out of the command line.
    #[arg(long, conflicts_with = "value_file")]
    value_stdin: bool,
    /// VALUE is a file holding the value (JSON).
    #[arg(long)]
    value_file: bool,
    /// Do nothing when the path already holds the value (sealed never rewrites a file
    /// whose content would not change; accepted for SOPS compatibility).
    #[arg(long)]
    idempotent: bool,
    /// The syntax: yaml, json, dotenv, ini, toml or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// Write the file back in this syntax (yaml, json, dotenv), as sops does: the values
    /// are converted and encrypted again under the same data key and recipients.
    #[arg(long, value_name = "TYPE")]
    output_type: Option<String>,
}

/// Runs `sealed set`.
pub fn run(args: &Args) -> Result<(), Error> {
    let syntax = syntax_of(&args.file, args.input_type.as_deref())?;
    let steps = tree_path(&args.path)?;
    let value = read_value(args)?;
    let opened = open_encrypted(&args.file, syntax)?;
    let plain = crate::edit::set(&opened.plain, syntax, &steps, &value.0)
        .map_err(|e| Error::file(&opened.name, e.exit_code(), e.to_string()))?;
    let to = match args.output_type.as_deref() {
        None => syntax,
        Some(t) => Syntax::from_name(t).ok_or_else(|| {
            Error::other(
                exit::CONFLICT,
                format!("unknown --output-type {t:?}: use yaml, json or dotenv"),
            )
        })?,
    };
    // With --idempotent, an unchanged value leaves the file as it is, whatever the
    // output type (sops's rule); sealed never rewrites an unchanged file of the same type.
    if to == syntax || (args.idempotent && plain.as_str() == opened.plain.as_str()) {
        return opened.commit(&plain);
    }
    commit_as(&opened, &plain, to)
}

/// sops's `set --output-type`: the document, converted to `to`, encrypted again under the
/// file's data key, recipients and selection rules, and written in place.
fn commit_as(opened: &Opened, plain: &str, to: Syntax) -> Result<(), Error> {
    let Some(key) = &opened.key else {
        return Err(Error::file(
            &opened.name,
            exit::CONFLICT,
            "the git filter keeps this file in plaintext: --output-type cannot change its syntax",
        ));
    };
    let sealed = Sealed::parse(&opened.src, opened.syntax.format())
        .map_err(|e| engine_error(&opened.name, &opened.src, e))?;
    let md = &sealed.metadata;
    let converted = super::encrypt::convert(plain, opened.syntax, to, &opened.name)?;
    let (out, _) = crate::engine::encrypt_with_key(
        &converted,
        to.format(),
        key,
        md.groups.clone(),
        md.shamir_threshold,
        &md.selection,
    )
    .map_err(|e| engine_error(&opened.name, &converted, e))?;
    opened.write(&out).map(drop)
}

/// Sets `value` (JSON text) at `path` in `file`, written back in `output_type` when given:
/// sops's `--set 'PATH VALUE'` once split.
pub fn set_json(
    file: &std::path::Path,
    input_type: Option<&str>,
    output_type: Option<&str>,
    path: &str,
    value: &str,
) -> Result<(), Error> {
    let args = Args {
        file: file.to_path_buf(),
        path: path.to_string(),
        value: Some(value.to_string()),
        value_stdin: false,
        value_file: false,
        idempotent: false,
        input_type: input_type.map(str::to_string),
        output_type: output_type.map(str::to_string),
    };
    run(&args)
}

/// The value from the argument, a file or stdin, parsed as JSON.
fn read_value(args: &Args) -> Result<SecretValue, Error> {
    let (text, origin) = match (&args.value, args.value_stdin, args.value_file) {
        (Some(_), true, _) => {
            return Err(Error::other(
                exit::CONFLICT,
                "--value-stdin reads the value from standard input; do not also give it as an argument",
            ));
        }
        (None, true, _) => {
            let buf = crate::fsutil::read_stdin()?;
            (utf8(buf, "<stdin>")?, "<stdin>".to_string())
        }
        (Some(path), false, true) => {
            let p = PathBuf::from(path);
            let text = crate::fsutil::read_text(&p)?;
            (text, display_path(&p))
        }
        (Some(v), false, false) => (Zeroizing::new(v.clone()), "the value".to_string()),
        (None, false, _) => {
            return Err(Error::other(
                edit_exit::INVALID_SET_FORMAT,
                "no value: give it as JSON after the path, or use --value-stdin / --value-file",
            ));
        }
    };
    serde_json::from_str(&text).map(SecretValue).map_err(|e| {
        Error::other(
            edit_exit::INVALID_SET_FORMAT,
            format!(
                "{origin} is not valid JSON (line {} column {}); strings need quotes, e.g. '\"text\"'",
                e.line(),
                e.column()
            ),
        )
    })
}

fn utf8(buf: Zeroizing<Vec<u8>>, name: &str) -> Result<Zeroizing<String>, Error> {
    match std::str::from_utf8(&buf) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => Err(Error::other(
            edit_exit::INVALID_SET_FORMAT,
            format!("{name} is not valid UTF-8"),
        )),
    }
}
