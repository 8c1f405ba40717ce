//! `sealed exec-env FILE COMMAND` and `sealed exec-file FILE COMMAND`: sops's spellings,
//! with sops's meaning (getsops/sops `cmd/sops/subcommand/exec`).
//!
//! COMMAND is one string run by `/bin/sh -c`, as sops runs it. `exec-env` names each
//! variable by its top-level key exactly as written (`api_key` stays `api_key`); a
//! mapping or list value is an error naming its key, as with sops. `exec-file` gives the
//! command the decrypted file at a private path (`{}` in COMMAND), through a named pipe
//! unless `--no-fifo`. Both decrypt (MAC verified) before anything starts, then run the
//! command as a child (signals forwarded, its exit status sealed's), or with
//! `--same-process` (exec-env) become it.
//!
//! Unlike sops, a value an editor of the ciphertext could have chosen (`data::trust`)
//! never replaces a variable already set nor sets one that steers loading.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use zeroize::Zeroizing;

use super::env::{admitted, io_for};
use super::file_arg::{Delivery, SecretFile};
use super::{supervise, user};
use crate::commands::decrypt::{self, Identities, Plaintext, converted};
use crate::data::Node;
use crate::data::emit::OutputType;
use crate::error::{Error, exit};
use crate::format::Syntax;

/// The shell that runs COMMAND, as sops runs it.
const SHELL: &str = "/bin/sh";

/// The file name sops gives the decrypted file when `--filename` is not given.
const FALLBACK_FILENAME: &str = "tmp-file";

/// `sealed exec-env`: run a command with the file's top-level values in its environment.
#[derive(Debug, Clone, clap::Args)]
pub struct EnvArgs {
    /// The encrypted file.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// The command, one string run by /bin/sh -c.
    #[arg(value_name = "COMMAND")]
    command: Option<OsString>,
    /// Give the command only the decrypted values, not sealed's environment.
    #[arg(long)]
    pristine: bool,
    /// Run the command as this user (needs root): also sets HOME, USER and LOGNAME.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Become the command instead of running it as a child.
    #[arg(long)]
    same_process: bool,
    /// The syntax of the file: yaml, json, dotenv, ini, toml or binary (default: from its name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
}

/// `sealed exec-file`: run a command with the decrypted file at a private path.
#[derive(Debug, Clone, clap::Args)]
pub struct FileArgs {
    /// The encrypted file.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// The command, one string run by /bin/sh -c; every {} is replaced by the path.
    #[arg(value_name = "COMMAND")]
    command: Option<String>,
    /// Write a regular file (mode 0600) instead of a named pipe that can be read once.
    #[arg(long)]
    no_fifo: bool,
    /// Run the command as this user (needs root): also sets HOME, USER and LOGNAME.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The syntax of the file: yaml, json, dotenv, ini, toml or binary (default: from its name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// The syntax of the file given to the command: yaml, json or dotenv (default: the
    /// file's own bytes).
    #[arg(long, value_name = "TYPE")]
    output_type: Option<String>,
    /// The name of the file given to the command (one path component; default: tmp-file).
    #[arg(long, value_name = "NAME")]
    filename: Option<String>,
}

/// Runs `sealed exec-env`; returns only on an error, else exits with the command's status.
pub fn run_env(args: &EnvArgs) -> Result<(), Error> {
    let (file, command) = both(&args.file, &args.command, "exec-env")?;
    let plain = decrypt::decrypt_for_data(
        &io_for(file, args.input_type.as_deref()),
        &mut Identities::default(),
    )?;
    let vars = top_level(&plain)?;
    let weak = plain.weak_keys()?;
    let name = plain.name.clone();
    drop(plain);

    let user_env = match &args.user {
        Some(u) => user::switch(u)?,
        None => Vec::new(),
    };
    let mut cmd = Command::new(SHELL);
    cmd.arg("-c").arg(command);
    if args.pristine {
        cmd.env_clear();
    }
    let mut set: HashSet<&str> = HashSet::new();
    for (k, v) in &user_env {
        cmd.env(k, v);
        set.insert(k);
    }
    for (k, v) in &vars {
        if weak.contains(k) {
            let already =
                set.contains(k.as_str()) || (!args.pristine && std::env::var_os(k).is_some());
            if !admitted(&name, k, already) {
                continue;
            }
        }
        cmd.env(k, v.as_str());
    }
    drop(vars);
    if args.same_process {
        let err = cmd.exec();
        return Err(supervise::launch_error(SHELL.as_ref(), &err));
    }
    let status = supervise::run(cmd, SHELL.as_ref(), None)?;
    std::process::exit(status)
}

/// The variables of `exec-env`: each top-level key as written with its value's text;
/// comments are not values. A mapping or list value, a key holding `=` or NUL, or a value
/// holding NUL is an error (sops's messages).
fn top_level(plain: &Plaintext) -> Result<Vec<(String, Zeroizing<String>)>, Error> {
    let data = plain.data()?;
    let fail = |msg: String| Error::file(&plain.name, exit::GENERIC, msg);
    let Node::Map(entries) = data.root else {
        return Err(fail("the top level is not a mapping".into()));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (key, node) in entries {
        let Node::Scalar(s) = node else {
            return Err(fail(format!(
                "cannot use complex value in environment; offending key {key}"
            )));
        };
        if key.contains('=') || key.contains('\0') || key.is_empty() {
            return Err(fail(format!(
                "cannot use keys with '=' in environment: {key:?}"
            )));
        }
        if s.value_text().contains('\0') {
            return Err(fail(format!("the value of {key} holds a NUL byte")));
        }
        out.push((key, Zeroizing::new(s.value_text().to_string())));
    }
    Ok(out)
}

/// Runs `sealed exec-file`; returns only on an error, else exits with the command's status.
pub fn run_file(args: &FileArgs) -> Result<(), Error> {
    let (file, command) = both(&args.file, &args.command, "exec-file")?;
    let name = match &args.filename {
        Some(n) => local_name(n)?,
        None => OsString::from(FALLBACK_FILENAME),
    };
    let output_type = match &args.output_type {
        Some(t) => Some(
            Syntax::from_name(t)
                .map(OutputType::of_syntax)
                .ok_or_else(|| {
                    Error::other(
                        exit::CONFLICT,
                        format!(
                            "unknown --output-type {t:?}: use yaml, json, dotenv, ini or binary"
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let plain = decrypt::decrypt(
        &io_for(file, args.input_type.as_deref()),
        &mut Identities::default(),
    )?;
    let text = match output_type {
        Some(ty) if ty.syntax() != Some(plain.syntax) => converted(&plain, ty)?,
        // A binary-store file is its `data` value, not the JSON document holding it.
        _ if plain.syntax == Syntax::Binary => converted(&plain, OutputType::Binary)?,
        _ => plain.text.clone(),
    };
    drop(plain);

    let user_env = match &args.user {
        Some(u) => user::switch(u)?,
        None => Vec::new(),
    };
    let delivery = Delivery::create(SecretFile::new(name, text), !args.no_fifo)?;
    let path = delivery
        .path()
        .to_str()
        .ok_or_else(|| Error::other(exit::WRITE, "the private directory's path is not UTF-8"))?;
    let mut cmd = Command::new(SHELL);
    cmd.arg("-c").arg(command.replace("{}", path));
    cmd.envs(user_env);
    let status = supervise::run(cmd, SHELL.as_ref(), Some(&delivery));
    drop(delivery);
    std::process::exit(status?)
}

/// FILE and COMMAND, both required: without them, exit 1 as sops does (not clap's 2).
fn both<'a, C>(
    file: &'a Option<PathBuf>,
    command: &'a Option<C>,
    verb: &str,
) -> Result<(&'a PathBuf, &'a C), Error> {
    match (file, command) {
        (Some(f), Some(c)) => Ok((f, c)),
        _ => Err(Error::other(
            exit::GENERIC,
            format!("missing file to decrypt or command: sealed {verb} FILE 'COMMAND'"),
        )),
    }
}

/// `--filename`: one path component, as sops 3.13 requires ("not a local path").
fn local_name(name: &str) -> Result<OsString, Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::other(
            exit::GENERIC,
            format!(
                "--filename {name:?}: the provided filename is not a local path (give a name without '/')"
            ),
        ));
    }
    Ok(OsString::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_one_component() {
        assert!(local_name("secrets.yaml").is_ok());
        for bad in ["", ".", "..", "../x", "/etc/x", "a/b"] {
            assert!(local_name(bad).is_err(), "{bad}");
        }
    }
}
