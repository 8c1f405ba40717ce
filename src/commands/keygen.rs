//! `sealed keygen`: a new age identity, like `age-keygen`. A key is never destroyed: an
//! existing file is refused, or added to with `--append`.

use std::path::PathBuf;

use crate::error::{Error, exit};
use crate::keys::{KeyError, KeyKind};

/// `sealed keygen`: generate a new age identity (file mode 0600); the public key is
/// printed on stderr.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Write the identity to this file instead of stdout (never overwrites).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// With -o: when FILE exists, add the new identity at its end (the others are kept).
    #[arg(long, requires = "output")]
    append: bool,
    /// Generate a post-quantum hybrid ML-KEM-768 + X25519 identity (AGE-SECRET-KEY-PQ-1…,
    /// recipient age1pq1…), as `age-keygen -pq` does.
    #[arg(long)]
    pq: bool,
}

/// Runs `sealed keygen`; the public key goes to stderr.
pub fn run(args: &Args) -> Result<(), Error> {
    let fail = |e: KeyError| match e {
        KeyError::Exists(file) => Error::other(
            exit::WRITE,
            format!(
                "{file}: already exists; refusing to overwrite it (it may hold your key). \
                 To add a new identity to it: sealed keygen -o {} --append{}",
                shell_words::quote(&file),
                if args.pq { " --pq" } else { "" }
            ),
        ),
        e => Error::other(exit::WRITE, e.to_string()),
    };
    let kind = if args.pq {
        KeyKind::Pq
    } else {
        KeyKind::X25519
    };
    match (&args.output, args.append) {
        (Some(path), true) => {
            let (key, n) = crate::keys::append_kind(path, kind).map_err(fail)?;
            if n > 1 {
                eprintln!(
                    "sealed: appended a new identity to {} (it now holds {n}; the others are kept)",
                    path.display()
                );
            }
            eprintln!("Public key: {}", key.public);
        }
        (output, _) => {
            let key = crate::keys::generate_kind(output.as_deref(), kind).map_err(fail)?;
            eprintln!("Public key: {}", key.public);
        }
    }
    Ok(())
}
