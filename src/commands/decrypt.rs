//! `sealed decrypt`: the data key is unwrapped with the identities SOPS would find, the
//! MAC verified, and only then is plaintext written.

use super::{Io, engine_error};
use crate::engine::{Sealed, unwrap_data_key};
use crate::error::{Error, exit};
use crate::keys::IdentitySet;

/// `sealed decrypt`: decrypt a file; the MAC is verified before anything is printed.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    io: Io,
}

/// Runs `sealed decrypt`.
pub fn run(args: &Args) -> Result<(), Error> {
    let io = &args.io;
    io.validate()?;
    let syntax = io.syntax()?;
    let src = crate::fsutil::read_text(&io.file)?;
    let name = io.name();
    let sealed = Sealed::parse(&src, syntax.format()).map_err(|e| engine_error(&name, &src, e))?;
    let identities =
        IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?;
    let key =
        unwrap_data_key(&sealed.metadata, &identities).map_err(|e| engine_error(&name, &src, e))?;
    let plain = sealed
        .decrypt(&key)
        .map_err(|e| engine_error(&name, &src, e))?;
    io.write(plain.as_bytes())
}
