//! `sealed exec`: run a command with the decrypted values in its environment.
//!
//! Every file is decrypted (and its MAC verified) before the command starts; any failure
//! stops here with one line naming the file, and the command never runs. Then, on Unix,
//! sealed *becomes* the command (`execvp`): no process stays between the command and its
//! parent, signals reach it directly, and its exit status is the one the caller sees.
//! With `--file-arg`, sealed must stay to remove the file afterwards, and with `--mask`
//! to copy the command's output (`mask`), so it starts the command as a child, forwards
//! signals to it and exits with its status.

mod env;
mod file_arg;
pub mod mask;
pub mod sops;
mod supervise;
mod user;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use super::decrypt::Identities;
use crate::error::Error;

/// What `sealed exec --help` says beyond the one-line summary (`main` attaches it to the
/// subcommand).
pub const LONG_ABOUT: &str = "\
Run a command with the decrypted values of encrypted files in its environment.

Every file is decrypted and its MAC verified before the command starts; if any file \
cannot be read or decrypted, sealed prints one line naming it and exits non-zero without \
starting the command. sealed then replaces itself with the command (exec), so signals \
reach the command directly and its exit status is sealed's. No secret is put in an \
argument list, a temporary file or sealed's output.

Names: in YAML and JSON files the key path is joined with '_' and upper-cased \
(db.password -> DB_PASSWORD; list items by index: hosts[0] -> HOSTS_0); any character \
other than A-Z, 0-9 and '_' becomes '_' (api-key -> API_KEY). Two key paths that give the \
same name are an error naming both. In .env files the names are used as written (a \
leading 'export ' is dropped). Values keep their text (5432, 0755, true); null gives an \
empty value; multi-line values stay multi-line. Quoted .env values are unquoted as dotenv \
libraries do (escapes in double quotes, inline ' #' comments after unquoted values, \
and \\n in an unquoted value is a line break, as SOPS reads it); $VARIABLES are not \
expanded.

Precedence: with several -f files, later files win. The files' values also win over \
variables already in the environment, as with `sops exec-env`, `doppler run` and \
`op run`; --preserve-env keeps the environment's value instead (as `dotenvx run` does by \
default).

--file-arg FILE gives the command a path instead: FILE is decrypted (byte for byte, in \
its own format and under its own name) into a new private directory (mode 0700) under \
$XDG_RUNTIME_DIR, else /dev/shm, else the temporary directory, as a file of mode 0600; \
'{}' in the command's arguments is replaced by its path, and --file-arg-var NAME also \
puts the path in $NAME. With --fifo the path is a named pipe that can be read once and \
the content never rests in a file. The directory is removed when the command exits. Here \
sealed stays the parent: it forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and \
SIGUSR2 sent to it (a Ctrl-C at the terminal already reaches the command and is not sent \
twice) and exits with the command's status, or 128+N when a signal N ended it.

--mask passes the command's standard output and error through sealed, every value of the files of at least --mask-min-len bytes (default 4) replaced by ***** (also each line of a multi-line value, and a value's JSON-escaped spelling). A value split across writes is still masked; what cannot begin a value is written at once. sealed stays the parent, forwarding signals as with --file-arg; the command's standard input is unchanged, but its standard output and error are pipes, not the terminal (programs that colour only on a terminal stop colouring). Masking is on by default when the environment variable CI is set (not empty, 0 or false); --no-mask turns it off. Masking hides values from logs; it is no defence against a command that wants to leak them (it can encode them).

Exit status: the command's; 127 when the command is not found, 126 when it cannot be \
run; sealed's own codes (as sops's: 51 MAC mismatch, 128 no key, ...) when a file cannot \
be decrypted.";

/// `sealed exec`: run a command with decrypted values in its environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// An encrypted YAML, JSON or .env file whose values become environment variables
    /// (repeat for several; later files win). Default: ./.env, unless --file-arg is given.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The syntax of the files: yaml, json, dotenv, ini, toml or binary (default: from each file's name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// Keep the value of a variable that is already in the environment (by default the
    /// files' values win).
    #[arg(long, visible_alias = "no-override")]
    preserve_env: bool,
    /// Decrypt this file to a private path that exists while the command runs; '{}' in the
    /// command's arguments is replaced by that path.
    #[arg(long, value_name = "FILE")]
    file_arg: Option<PathBuf>,
    /// Also put the --file-arg path in this environment variable.
    #[arg(long, value_name = "NAME", requires = "file_arg")]
    file_arg_var: Option<String>,
    /// Deliver --file-arg through a named pipe that can be read once, instead of a file.
    #[arg(long, requires = "file_arg")]
    fifo: bool,
    /// Pass the command's standard output and error through sealed with every value of the
    /// files (of at least --mask-min-len bytes) replaced by *****. On by default when the
    /// environment variable CI is set (not empty, 0 or false).
    #[arg(long, conflicts_with = "no_mask")]
    mask: bool,
    /// Do not mask, even when CI is set.
    #[arg(long)]
    no_mask: bool,
    /// With masking, values shorter than this many bytes are left as they are.
    #[arg(long, value_name = "N", default_value_t = mask::DEFAULT_MIN_LEN)]
    mask_min_len: usize,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// The text replaced by the `--file-arg` path in the command's arguments.
const PLACEHOLDER: &[u8] = b"{}";

/// Runs `sealed exec`. Without `--file-arg` it does not return when the command starts
/// (the process becomes the command); with it, it exits with the command's status.
pub fn run(args: &Args) -> Result<(), Error> {
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::other(
            crate::error::exit::GENERIC,
            "no command given: sealed exec [-f FILE]... -- COMMAND [ARGS]...",
        ));
    };
    if let Some(var) = &args.file_arg_var {
        env::check_name(var)?;
    }
    if args.file_arg.is_some()
        && args.file_arg_var.is_none()
        && !rest.iter().any(|a| contains(a, PLACEHOLDER))
    {
        return Err(Error::other(
            crate::error::exit::CONFLICT,
            "--file-arg: put {} in the command where the path goes, or pass --file-arg-var NAME",
        ));
    }
    let files = if args.files.is_empty() && args.file_arg.is_none() {
        vec![PathBuf::from(".env")]
    } else {
        args.files.clone()
    };

    // Decrypt everything first: nothing starts unless every file is good.
    let mut identities = Identities::default();
    let vars = env::collect(&files, args.input_type.as_deref(), &mut identities)?;
    let secret_file = match &args.file_arg {
        Some(path) => Some(file_arg::decrypt(
            path,
            args.input_type.as_deref(),
            &mut identities,
        )?),
        None => None,
    };

    let patterns = if masking(args) {
        mask::Patterns::new(vars.iter().map(|v| v.value.as_str()), args.mask_min_len)?
            .map(std::sync::Arc::new)
    } else {
        None
    };
    let mut cmd = Command::new(program);
    env::apply(&mut cmd, &vars, args.preserve_env);
    drop(vars);

    let Some(secret_file) = secret_file else {
        cmd.args(rest);
        if patterns.is_some() {
            let status = supervise::run_masked(cmd, program, None, patterns);
            std::process::exit(status?)
        }
        let err = cmd.exec();
        return Err(supervise::launch_error(program, &err));
    };

    let delivery = file_arg::Delivery::create(secret_file, args.fifo)?;
    let path = delivery.path().as_os_str();
    cmd.args(rest.iter().map(|a| replace(a, PLACEHOLDER, path)));
    if let Some(var) = &args.file_arg_var {
        cmd.env(var, path);
    }
    let status = supervise::run_masked(cmd, program, Some(&delivery), patterns);
    drop(delivery);
    std::process::exit(status?)
}

/// Whether to mask: `--mask`, or `CI` set (not empty, `0` or `false`) without `--no-mask`.
fn masking(args: &Args) -> bool {
    if args.mask || args.no_mask {
        return args.mask;
    }
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
}

fn contains(haystack: &OsStr, needle: &[u8]) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w == needle)
}

/// `arg` with every `needle` replaced by `with`.
fn replace(arg: &OsStr, needle: &[u8], with: &OsStr) -> OsString {
    let (b, mut out, mut i) = (arg.as_bytes(), Vec::new(), 0);
    while i < b.len() {
        if b[i..].starts_with(needle) {
            out.extend_from_slice(with.as_bytes());
            i += needle.len();
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_everywhere() {
        let got = replace(OsStr::new("--config={}:{}"), PLACEHOLDER, OsStr::new("/p"));
        assert_eq!(got, "--config=/p:/p");
        assert!(contains(OsStr::new("a{}b"), PLACEHOLDER));
        assert!(!contains(OsStr::new("{ }"), PLACEHOLDER));
    }
}
