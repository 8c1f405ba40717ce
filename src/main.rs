//! The `sealed` command line: parses arguments with clap and prints any error as one line.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use sealed::commands::{
    completion, decrypt, edit, encrypt, exec, filestatus, git, groups, init, keygen, man, publish,
    rotate, scan, set, sops_style, team, unset, updatekeys,
};

/// Keep secrets encrypted in git, in SOPS's format, without reformatting your files.
#[derive(Parser)]
#[command(name = "sealed", version, about, long_about = None)]
#[command(arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// sops's verb-less spelling (`-e`, `-d`, `--set`…) and its global flags.
    #[command(
        flatten,
        next_help_heading = "sops's older spelling (sealed -d FILE …)"
    )]
    sops: Box<sops_style::Args>,
}

/// One variant per verb; each verb's flags live beside its code in `commands/`.
#[derive(Subcommand)]
enum Command {
    /// Set this directory up for secrets: an identity, a .sops.yaml, and in a git
    /// repository the filter and guard. Safe to run again; never asks anything.
    Init(init::Args),
    /// Encrypt the values (and comments) of a YAML, JSON, .env, INI or TOML file (any other file whole).
    Encrypt(Box<encrypt::Args>),
    /// Decrypt a file; the MAC is verified before anything is printed.
    Decrypt(decrypt::Args),
    /// Run a command with the decrypted values in its environment.
    #[command(long_about = exec::LONG_ABOUT)]
    Exec(Box<exec::Args>),
    /// Generate a new age identity (file mode 0600); the public key is printed on stderr.
    Keygen(keygen::Args),
    /// Keep protected files plaintext in the work tree and ciphertext in every commit.
    Git(git::Args),
    /// Team members in .sops.yaml: add (re-wraps the data keys), remove (rotates), list.
    Team(team::Args),
    /// Re-wrap data keys to the recipients .sops.yaml gives now (same key, same values).
    Updatekeys(updatekeys::Args),
    /// New data keys: every value encrypted again, same plaintext and recipients.
    Rotate(rotate::Args),
    /// Edit an encrypted file in your editor; only what you change is re-encrypted.
    Edit(Box<edit::Args>),
    /// Send a decrypted file to the destination its .sops.yaml `destination_rules` entry
    /// names (Vault KV v1/v2), as `sops publish`.
    Publish(publish::Args),
    /// Set one value (JSON) at a path like '["db"]["password"]'.
    Set(set::Args),
    /// Remove the value at a path like '["db"]["password"]'.
    Unset(unset::Args),
    /// Look for the secret values of the repository's sealed files in clear text in other
    /// files: the work tree, the index (--staged) or every commit (--history). Exits 1 when
    /// one is found; never prints a value.
    Scan(scan::Args),
    // sops's exec-env, exec-file and filestatus (issue 16), with sops's meaning.
    /// Run a shell command (sops's exec-env) with the file's top-level values in its
    /// environment, named as written.
    #[command(name = "exec-env")]
    ExecEnv(Box<exec::sops::EnvArgs>),
    /// Run a shell command (sops's exec-file) with the decrypted file at a private path: {}.
    #[command(name = "exec-file")]
    ExecFile(Box<exec::sops::FileArgs>),
    /// Print whether a file is SOPS-encrypted: {"encrypted":true|false}.
    Filestatus(filestatus::Args),
    /// Add or delete a key group of a file (sops's groups), splitting the same data key
    /// anew; the new group's recipients come from the command line.
    Groups(groups::Args),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completion(completion::Args),
    /// Print the manual page (roff): `sealed man | man -l -`.
    Man(man::Args),
}

/// A panic must never print its payload (it may hold document text) and never exit 101:
/// report the location only and exit with EX_SOFTWARE.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "sealed: internal error{at}; nothing was written (please report it; details are withheld because they may contain secrets)"
        );
        std::process::exit(70);
    }));
}

/// Registers the KMS roles and profiles the `.sops.yaml` in effect names (the explicit
/// one, else the nearest above the working directory), which a file's `kms` entries may
/// then use (`keys::kms`).
fn trust_kms_config() {
    let path = sealed::config::explicit_path().or_else(|| {
        std::env::current_dir()
            .ok()
            .and_then(|d| sealed::config::Config::discover(&d))
    });
    if let Some(path) = path {
        let _ = sealed::config::Config::load(&path);
    }
}

fn main() -> ExitCode {
    install_panic_hook();
    sealed::keys::kms::set_trust_loader(trust_kms_config);
    let cli = Cli::parse();
    cli.sops.note_indent();
    let command = match cli.command {
        Some(command) if cli.sops.given() => {
            let _ = command;
            eprintln!("sealed: give either a verb or sops's -e/-d/--set FILE, not both");
            return ExitCode::from(8);
        }
        Some(command) => command,
        None => return finish(sops_style::run(&cli.sops)),
    };
    if let Some(config) = &cli.sops.opts.config {
        sealed::config::set_global_path(config.clone());
    }
    sealed::keys::vault::set_trust_source(trusted_vault_addresses);
    finish(match command {
        Command::Init(args) => init::run(&args),
        Command::Encrypt(args) => encrypt::run(&args),
        Command::Decrypt(args) => decrypt::run(&args),
        Command::Exec(args) => exec::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Git(args) => git::run(&args),
        Command::Team(args) => team::run(&args),
        Command::Updatekeys(args) => updatekeys::run(&args),
        Command::Groups(args) => groups::run(&args),
        Command::Rotate(args) => rotate::run(&args),
        Command::Edit(args) => edit::run(&args),
        Command::Publish(args) => publish::run(&args),
        Command::Set(args) => set::run(&args),
        Command::Unset(args) => unset::run(&args),
        Command::Scan(args) => scan::run(&args),
        Command::ExecEnv(args) => exec::sops::run_env(&args),
        Command::ExecFile(args) => exec::sops::run_file(&args),
        Command::Filestatus(args) => filestatus::run(&args),
        Command::Completion(args) => completion::run(&args, Cli::command()),
        Command::Man(args) => man::run(&args, Cli::command()),
    })
}

/// The Vault addresses of the `.sops.yaml` in effect from the working directory (the
/// explicit one, else the nearest above): trusted with the Vault token on decrypt.
/// Loading it registers them (`config::Config::load`).
fn trusted_vault_addresses() -> Vec<String> {
    let path = sealed::config::explicit_path().or_else(|| {
        std::env::current_dir()
            .ok()
            .and_then(|d| sealed::config::Config::discover(&d))
    });
    if let Some(p) = path {
        let _ = sealed::config::Config::load(&p);
    }
    Vec::new()
}

/// Prints an error as one line and exits with its code.
fn finish(result: Result<(), sealed::error::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealed: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}
