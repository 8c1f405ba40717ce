//! `sealed keygen`: a new age identity, like `age-keygen`.

use std::path::PathBuf;

use crate::error::{Error, exit};

/// `sealed keygen`: generate a new age identity (file mode 0600); the public key is
/// printed on stderr.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Write the identity to this file instead of stdout (never overwrites).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `sealed keygen`; the public key goes to stderr.
pub fn run(args: &Args) -> Result<(), Error> {
    let key = crate::keys::generate(args.output.as_deref())
        .map_err(|e| Error::other(exit::WRITE, e.to_string()))?;
    eprintln!("Public key: {}", key.public);
    Ok(())
}
