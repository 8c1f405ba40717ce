//! `sealed publish FILE`: decrypts a file and sends its data where the matching
//! `destination_rules` entry of `.sops.yaml` says (sops's `publish`): Vault KV v1 or v2, or
//! AWS Secrets Manager.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::Io;
use super::decrypt::{Identities, decrypt};
use crate::config::Config;
use crate::config::destination::{self, Destination};
use crate::data::emit::{self, OutputType};
use crate::error::{Error, exit};
use crate::publish::{self, Outcome};

/// `sealed publish`: send a decrypted file to its configured destination.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The file (a directory with --recursive).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Do not ask before uploading.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Leave the file's extension out of the destination's name.
    #[arg(long)]
    omit_extensions: bool,
    /// Publish every file under the directory (named by their path below it).
    #[arg(long)]
    recursive: bool,
    /// Use this .sops.yaml instead of searching for one from the working directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The files under `dir`, sorted, hidden ones included (as sops's walk).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::file(dir.display().to_string(), exit::READ, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs `sealed publish`.
pub fn run(args: &Args) -> Result<(), Error> {
    let path = args
        .config
        .clone()
        .or_else(crate::config::explicit_path)
        .or_else(|| {
            std::env::current_dir()
                .ok()
                .and_then(|d| Config::discover(&d))
        })
        .ok_or_else(|| {
            Error::other(
                exit::CONFIG,
                "no .sops.yaml found in the working directory or above: publish needs its \
                 destination_rules",
            )
        })?;
    let config = Config::load(&path).map_err(|e| Error::other(exit::CONFIG, e.to_string()))?;
    let meta = std::fs::metadata(&args.file)
        .map_err(|e| Error::file(args.file.display().to_string(), exit::READ, e.to_string()))?;
    let files = if meta.is_dir() {
        if !args.recursive {
            return Err(Error::other(
                exit::GENERIC,
                format!(
                    "{} is a directory: pass --recursive to publish what it holds",
                    args.file.display()
                ),
            ));
        }
        let mut out = Vec::new();
        walk(&args.file, &mut out)?;
        out
    } else {
        vec![args.file.clone()]
    };
    let mut ids = Identities::default();
    for file in &files {
        publish_one(args, &config, file, &mut ids)?;
    }
    Ok(())
}

fn publish_one(
    args: &Args,
    config: &Config,
    file: &Path,
    ids: &mut Identities,
) -> Result<(), Error> {
    let name = file.display().to_string();
    let rule = destination::rule_for(&config.destinations, &name).ok_or_else(|| {
        Error::file(
            &name,
            exit::CONFIG,
            format!(
                "no destination_rules entry of {} matches this file",
                config.path.display()
            ),
        )
    })?;
    let dest = rule.destination.as_ref().ok_or_else(|| {
        Error::file(
            &name,
            exit::CONFIG,
            "no destination configured for this file",
        )
    })?;
    if let Destination::Unsupported(kind) = dest {
        return Err(Error::file(
            &name,
            exit::GENERIC,
            publish::PublishError::Unsupported(kind).to_string(),
        ));
    }
    let mut target = if args.recursive {
        file.strip_prefix(&args.file)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned()
    } else {
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if (args.omit_extensions || rule.omit_extensions)
        && let Some(ext) = file.extension()
    {
        let ext = format!(".{}", ext.to_string_lossy());
        if let Some(stripped) = target.strip_suffix(&ext) {
            target = stripped.to_string();
        }
    }
    let io = Io {
        file: file.to_path_buf(),
        in_place: false,
        output: None,
        input_type: None,
        filename_override: None,
    };
    let plain = decrypt(&io, ids)?;
    let data = plain.data()?;
    let json =
        emit::emit(&data.root, data.syntax, OutputType::Json).map_err(|e| plain.data_error(e))?;
    let value: serde_json::Value = serde_json::from_str(&json)
        .map_err(|_| Error::file(&name, exit::GENERIC, "the data cannot be read as JSON"))?;
    if !args.yes && !confirm(&name, &publish::describe(dest, &target))? {
        return Err(Error::file(&name, exit::GENERIC, "publication canceled"));
    }
    match publish::upload(dest, &target, &value) {
        Ok(Outcome::Written) => Ok(()),
        Ok(Outcome::UpToDate) => {
            eprintln!(
                "sealed: {name}: {} is already up to date",
                publish::describe(dest, &target)
            );
            Ok(())
        }
        Err(e) => Err(Error::file(&name, exit::GENERIC, e.to_string())),
    }
}

/// Asks on stderr, reads the answer from stdin (`y` or `n`; end of input is `n`).
fn confirm(file: &str, to: &str) -> Result<bool, Error> {
    let stdin = std::io::stdin();
    loop {
        eprint!("uploading {file} to {to} ? (y/n): ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let n = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::other(exit::GENERIC, e.to_string()))?;
        match line.trim() {
            _ if n == 0 => return Ok(false),
            "y" => return Ok(true),
            "n" => return Ok(false),
            _ => {}
        }
    }
}
