//! `sealed encrypt`: recipients from `--age`, `SOPS_AGE_RECIPIENTS` or the matching
//! `.sops.yaml` rule; selection rules from flags, else the rule, else SOPS's default.
//! With `--reuse-from OLD`, the data key, metadata and unchanged tokens of the encrypted
//! file OLD instead (see docs/editing.md).

use std::path::{Path, PathBuf};

use super::{Io, engine_error};
use crate::engine::{self, Sealed, unwrap_data_key};
use crate::error::{Error, display_path, exit};
use crate::format::Syntax;
use crate::keys::IdentitySet;
pub use crate::plan::{
    EncryptOptions, SelectionFlags, has_key_or_rule_flags, matching_rule, plan_for,
};
use crate::plan::{choose_selection, key_plan, no_rule_error};

/// `sealed encrypt`: encrypt the values (and comments) of a YAML, JSON, .env, INI or TOML file.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    opts: EncryptOptions,
    /// Re-encrypt under the data key and metadata of OLD (an encrypted version of this
    /// file), keeping the exact ciphertext of every value and comment that did not change.
    #[arg(long, value_name = "OLD")]
    reuse_from: Option<PathBuf>,
    /// Write the encrypted file in another syntax (yaml, json, dotenv), as sops does: the
    /// values are converted first (comments and layout then follow the new syntax).
    #[arg(long, value_name = "TYPE")]
    output_type: Option<String>,
}

/// Runs `sealed encrypt`.
pub fn run(args: &Args) -> Result<(), Error> {
    match (&args.reuse_from, &args.output_type) {
        (Some(_), Some(_)) => Err(Error::other(
            exit::CONFLICT,
            "--reuse-from keeps the old file's syntax; drop --output-type",
        )),
        (Some(old), None) => run_reusing(&args.io, &args.opts, old),
        (None, ty) => run_as(&args.io, &args.opts, ty.as_deref()),
    }
}

/// Encrypts what `io` names under the data key and metadata of the encrypted file `old`,
/// reusing the token of every (key path, type, plaintext) that `old` already holds.
pub fn run_reusing(io: &Io, opts: &EncryptOptions, old: &Path) -> Result<(), Error> {
    io.validate()?;
    if has_key_or_rule_flags(opts) {
        return Err(Error::other(
            exit::CONFLICT,
            "--reuse-from takes the recipients and rules from the old file; drop --age, --config and the selection flags",
        ));
    }
    let syntax = io.syntax()?;
    let old_name = display_path(old);
    if let Some(old_syntax) = Syntax::from_path(old)
        && old_syntax != syntax
    {
        return Err(Error::file(
            old_name,
            exit::CONFLICT,
            format!(
                "--reuse-from needs an encrypted file of the same format ({} is {}, the input is {})",
                display_path(old),
                syntax_name(old_syntax),
                syntax_name(syntax)
            ),
        ));
    }
    let _lock = io.lock_in_place()?;
    let src = crate::fsutil::read_text(&io.file)?;
    let name = io.name();
    let old_src = crate::fsutil::read_text(old)?;
    let old_err = |e: engine::EngineError| match e {
        engine::EngineError::NotEncrypted => Error::file(
            &old_name,
            exit::GENERIC,
            format!(
                "--reuse-from needs an encrypted {} file; this one has no sops metadata",
                syntax_name(syntax)
            ),
        ),
        other => engine_error(&old_name, &old_src, other),
    };
    let sealed = Sealed::parse(&old_src, syntax.format()).map_err(old_err)?;
    let identities =
        IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?;
    let key = unwrap_data_key(&sealed.metadata, &identities).map_err(old_err)?;
    // Verify OLD (MAC included) before using anything from it.
    drop(sealed.decrypt(&key).map_err(old_err)?);
    let (out, report) =
        engine::reencrypt(&src, &sealed, &key).map_err(|e| engine_error(&name, &src, e))?;
    io.write(out.as_bytes())?;
    if report.aliases > 0 {
        eprintln!(
            "sealed: warning: {name} uses YAML aliases; sealed decrypts it, but sops cannot decrypt aliased encrypted values"
        );
    }
    Ok(())
}

/// The document `src` (in `from`) written in `to`, as sops converts between stores.
pub(crate) fn convert(
    src: &str,
    from: Syntax,
    to: Syntax,
    name: &str,
) -> Result<zeroize::Zeroizing<String>, Error> {
    use crate::data::emit::{OutputType, emit};
    if to == Syntax::Toml && from != Syntax::Toml {
        // sealed reads TOML but has no TOML writer: no conversion into it.
        return Err(Error::file(
            name,
            exit::CONFLICT,
            "--output-type toml: sealed converts from TOML but not to it; use yaml, json or dotenv",
        ));
    }
    let data = crate::data::load(src, from).map_err(|e| match e.offset() {
        Some(offset) => Error::Syntax {
            file: name.to_string(),
            pos: crate::error::Pos::of_offset(src, offset),
            msg: e.to_string(),
        },
        None => Error::file(name, exit::GENERIC, e.to_string()),
    })?;
    emit(&data.root, data.syntax, OutputType::of_syntax(to))
        .map_err(|e| Error::file(name, exit::GENERIC, e.to_string()))
}

fn syntax_name(s: Syntax) -> &'static str {
    match s {
        Syntax::Yaml => "YAML",
        Syntax::Json => "JSON",
        Syntax::Dotenv => "dotenv",
        Syntax::Toml => "TOML",
        Syntax::Ini => "INI",
        Syntax::Binary => "binary",
    }
}

/// Encrypts what `io` names with `opts`.
pub fn run_with(io: &Io, opts: &EncryptOptions) -> Result<(), Error> {
    run_as(io, opts, None)
}

/// Encrypts what `io` names with `opts`, written in the syntax `output_type` names (the
/// input's when `None`).
pub fn run_as(io: &Io, opts: &EncryptOptions, output_type: Option<&str>) -> Result<(), Error> {
    io.validate()?;
    let input = io.syntax()?;
    let syntax = match output_type {
        None => input,
        Some(t) => Syntax::from_name(t).ok_or_else(|| {
            Error::other(
                exit::CONFLICT,
                format!("unknown --output-type {t:?}: use yaml, json, dotenv, ini or binary"),
            )
        })?,
    };
    let _lock = io.lock_in_place()?;
    let src = crate::fsutil::read_text(&io.file)?;
    let name = io.name();
    // A binary file is encrypted as the JSON document sops's binary store makes of it.
    let src = if input == Syntax::Binary {
        crate::format::binary::wrap(&src)
    } else {
        src
    };
    let src = if syntax == input {
        src
    } else {
        convert(&src, input, syntax, &name)?
    };
    let (rule, config_path) = matching_rule(io.logical_path(), opts.config.as_deref())?;
    let plan = key_plan(opts, rule.as_ref(), config_path.as_deref())
        .map_err(|e| no_rule_error(e, io.logical_path(), rule.is_none(), config_path.as_deref()))?;
    let selection = choose_selection(
        &opts.selection.to_selection(),
        rule.as_ref().map(|r| &r.selection),
    )?;
    let (out, report) = engine::encrypt(&src, syntax.format(), &plan, &selection)
        .map_err(|e| engine_error(&name, &src, e))?;
    io.write(out.as_bytes())?;
    if report.aliases > 0 {
        eprintln!(
            "sealed: warning: {name} uses YAML aliases; sealed decrypts it, but sops cannot decrypt aliased encrypted values"
        );
    }
    Ok(())
}
