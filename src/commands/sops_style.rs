//! sops's older spelling, still in most scripts: `sealed -e FILE`, `-d FILE`, `-i`,
//! `--set 'PATH VALUE' FILE`, `--extract`, `--output-type`; and the global flags sops takes
//! before a verb (`--config`, `--verbose`, `--indent`). Each maps to the verb it names.

use std::path::PathBuf;

use super::{Io, decrypt, edit, encrypt, set};
use crate::edit::exit as edit_exit;
use crate::error::{Error, exit};
use crate::plan::EncryptOptions;

/// sops's exit code when no file is given (`NoFileSpecified`).
const NO_FILE_SPECIFIED: i32 = 100;

/// The flags sops takes without a verb.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// sops's `-e`: `sealed encrypt FILE`.
    #[arg(short = 'e', long = "encrypt")]
    encrypt: bool,
    /// sops's `-d`: `sealed decrypt FILE`.
    #[arg(short = 'd', long = "decrypt")]
    decrypt: bool,
    /// With -e or -d: write the result back to the file.
    #[arg(short = 'i', long = "in-place")]
    in_place: bool,
    /// With -e or -d: write the result to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The syntax of the input: yaml, json, dotenv, ini, toml or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// With -e, -d or --set: the syntax of the output.
    #[arg(long, value_name = "TYPE")]
    output_type: Option<String>,
    /// Use this name to pick the format and the .sops.yaml rule.
    #[arg(long, value_name = "PATH")]
    filename_override: Option<PathBuf>,
    /// With -d: print only the value at this path, e.g. '["db"]["password"]'.
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,
    /// sops's `--set '["a"]["b"] "value"' FILE`: `sealed set FILE PATH VALUE`.
    #[arg(long, value_name = "'PATH VALUE'")]
    set: Option<String>,
    /// With -d: do not check the MAC (a warning says so).
    #[arg(long)]
    ignore_mac: bool,
    /// Recipients, rules and the global `--config`.
    #[command(flatten)]
    pub opts: EncryptOptions,
    /// Accepted for sops compatibility: more detail is never printed (sealed prints no
    /// secret and no key material either way).
    #[arg(long, global = true, help_heading = "sops's global flags")]
    pub verbose: bool,
    /// Accepted and ignored: sealed keeps the file's own bytes and indentation.
    #[arg(
        long,
        global = true,
        value_name = "N",
        help_heading = "sops's global flags"
    )]
    pub indent: Option<u32>,
    /// The file (sops's older spelling: flags first, then the file).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

impl Args {
    /// The note `--indent` gets, once: sealed keeps bytes.
    pub fn note_indent(&self) {
        if self.indent.is_some() {
            eprintln!(
                "sealed: note: --indent is ignored: sealed keeps the file's own indentation and bytes"
            );
        }
    }

    /// Whether a verb-less command was given (anything beyond the global flags).
    pub fn given(&self) -> bool {
        let mut opts = self.opts.clone();
        opts.config = None;
        self.file.is_some()
            || self.encrypt
            || self.decrypt
            || self.set.is_some()
            || self.in_place
            || self.output.is_some()
            || self.extract.is_some()
            || self.ignore_mac
            || self.input_type.is_some()
            || self.output_type.is_some()
            || self.filename_override.is_some()
            || crate::plan::has_key_or_rule_flags(&opts)
    }
}

/// Runs a command in sops's older spelling.
pub fn run(args: &Args) -> Result<(), Error> {
    let modes =
        usize::from(args.encrypt) + usize::from(args.decrypt) + usize::from(args.set.is_some());
    if modes > 1 {
        return Err(Error::other(
            exit::CONFLICT,
            "give one of -e, -d or --set (sops runs only the last one; sealed refuses the ambiguity)",
        ));
    }
    let Some(file) = args.file.clone() else {
        return Err(Error::other(NO_FILE_SPECIFIED, "no file specified"));
    };
    let io = Io {
        file,
        in_place: args.in_place,
        output: args.output.clone(),
        input_type: args.input_type.clone(),
        filename_override: args.filename_override.clone(),
    };
    if args.extract.is_some() && !args.decrypt {
        return Err(Error::other(exit::CONFLICT, "--extract needs -d"));
    }
    if args.ignore_mac && !args.decrypt {
        return Err(Error::other(
            exit::CONFLICT,
            "--ignore-mac is supported with -d only",
        ));
    }
    if args.encrypt {
        return encrypt::run_as(&io, &args.opts, args.output_type.as_deref());
    }
    if args.decrypt {
        let d = decrypt::Args::new(
            io,
            args.extract.clone(),
            args.output_type.as_deref(),
            args.ignore_mac,
        )?;
        return decrypt::run(&d);
    }
    if let Some(spec) = &args.set {
        let (path, value) = split_set(spec)?;
        return set::set_json(
            &io.file,
            args.input_type.as_deref(),
            args.output_type.as_deref(),
            path,
            value,
        );
    }
    if args.in_place || args.output.is_some() || args.output_type.is_some() {
        return Err(Error::other(
            exit::CONFLICT,
            "without -e, -d or --set, FILE is opened in the editor: -i, --output and --output-type need -e or -d",
        ));
    }
    edit::run(&edit::Args::new(
        io.file,
        args.input_type.clone(),
        args.opts.clone(),
    ))
}

/// Splits sops's `--set` argument at the first `"] "`, as sops does: the path, then the
/// JSON value.
fn split_set(spec: &str) -> Result<(&str, &str), Error> {
    match spec.find("] ") {
        Some(at) => Ok((spec[..=at].trim_end(), &spec[at + 2..])),
        None => Err(Error::other(
            edit_exit::INVALID_SET_FORMAT,
            "invalid --set format: give '[\"key\"][\"sub\"] VALUE', the value as JSON",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::split_set;

    #[test]
    fn set_splits_at_the_first_bracket_space() {
        assert_eq!(
            split_set(r#"["a"]["b"] "x] y""#).unwrap(),
            (r#"["a"]["b"]"#, r#""x] y""#)
        );
        assert!(split_set(r#"["a"]"#).is_err());
    }
}
