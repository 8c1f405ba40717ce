//! The `sealed` command line: parses arguments with clap and prints any error as one line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sealed::commands::{self, Io, encrypt::EncryptOptions};
use sealed::config::Selection;

/// Keep secrets encrypted in git, in SOPS's format, without reformatting your files.
#[derive(Parser)]
#[command(name = "sealed", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Encrypt the values (and comments) of a YAML, JSON or .env file.
    Encrypt {
        #[command(flatten)]
        io: IoArgs,
        /// Age recipients, comma-separated (age1…, ssh-ed25519 …, ssh-rsa …).
        #[arg(long, value_name = "RECIPIENTS")]
        age: Option<String>,
        /// Use this .sops.yaml instead of searching for one.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Leave values whose key ends with this suffix in clear text.
        #[arg(long, value_name = "SUFFIX")]
        unencrypted_suffix: Option<String>,
        /// Encrypt only values whose key ends with this suffix.
        #[arg(long, value_name = "SUFFIX")]
        encrypted_suffix: Option<String>,
        /// Leave values whose key matches this regex in clear text.
        #[arg(long, value_name = "REGEX")]
        unencrypted_regex: Option<String>,
        /// Encrypt only values whose key matches this regex.
        #[arg(long, value_name = "REGEX")]
        encrypted_regex: Option<String>,
        /// Leave values after a comment matching this regex in clear text.
        #[arg(long, value_name = "REGEX")]
        unencrypted_comment_regex: Option<String>,
        /// Encrypt only values after a comment matching this regex.
        #[arg(long, value_name = "REGEX")]
        encrypted_comment_regex: Option<String>,
        /// Compute the MAC over encrypted values only.
        #[arg(long)]
        mac_only_encrypted: bool,
        /// Shamir threshold when the rule has several key groups.
        #[arg(long, value_name = "N")]
        shamir_secret_sharing_threshold: Option<usize>,
    },
    /// Decrypt a file; the MAC is verified before anything is printed.
    Decrypt {
        #[command(flatten)]
        io: IoArgs,
    },
    /// Generate a new age identity (file mode 0600); the public key is printed on stderr.
    Keygen {
        /// Write the identity to this file instead of stdout (never overwrites).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Args)]
struct IoArgs {
    /// The file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Write the result back to the file, atomically.
    #[arg(short, long)]
    in_place: bool,
    /// Write the result to this file.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The syntax: yaml, json or dotenv (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// Use this name to pick the format and the .sops.yaml rule (useful with stdin).
    #[arg(long, value_name = "PATH")]
    filename_override: Option<PathBuf>,
}

impl From<IoArgs> for Io {
    fn from(a: IoArgs) -> Io {
        Io {
            file: a.file,
            in_place: a.in_place,
            output: a.output,
            input_type: a.input_type,
            filename_override: a.filename_override,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Encrypt {
            io,
            age,
            config,
            unencrypted_suffix,
            encrypted_suffix,
            unencrypted_regex,
            encrypted_regex,
            unencrypted_comment_regex,
            encrypted_comment_regex,
            mac_only_encrypted,
            shamir_secret_sharing_threshold,
        } => commands::encrypt::run(
            &io.into(),
            &EncryptOptions {
                age,
                config,
                selection: Selection {
                    unencrypted_suffix,
                    encrypted_suffix,
                    unencrypted_regex,
                    encrypted_regex,
                    unencrypted_comment_regex,
                    encrypted_comment_regex,
                    mac_only_encrypted,
                },
                shamir_threshold: shamir_secret_sharing_threshold,
            },
        ),
        Command::Decrypt { io } => commands::decrypt::run(&io.into()),
        Command::Keygen { output } => commands::keygen::run(output.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealed: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}
