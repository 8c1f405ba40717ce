//! `sealed keygen`: a new age identity, like `age-keygen`.

use std::path::Path;

use crate::error::{Error, exit};

/// Runs `sealed keygen`; the public key goes to stderr.
pub fn run(out: Option<&Path>) -> Result<(), Error> {
    let key = crate::keys::generate(out).map_err(|e| Error::other(exit::WRITE, e.to_string()))?;
    eprintln!("Public key: {}", key.public);
    Ok(())
}
