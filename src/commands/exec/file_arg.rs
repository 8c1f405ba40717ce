//! `--file-arg`: the decrypted file at a private path for the command's lifetime.
//!
//! The path is in a new directory of mode 0700 (under `$XDG_RUNTIME_DIR`, a per-user
//! tmpfs, else `/dev/shm`, else the temporary directory), named like the encrypted file so
//! that programs that look at the extension still can. By default it is a regular file of
//! mode 0600, which every program can open, stat and read as often as it likes. With
//! `--fifo` it is a named pipe: a thread writes the content to the first reader, then the
//! pipe is removed, so the plaintext never rests in a file (for programs that read their
//! file once, from start to end). The directory and what is in it are removed when the
//! [`Delivery`] is dropped.

use std::ffi::OsString;
use std::fs::{OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use super::env::io_for;
use crate::commands::decrypt::{self, Identities};
use crate::error::Error;

/// A decrypted file waiting to be delivered.
pub struct SecretFile {
    /// The name it gets in the private directory.
    name: OsString,
    /// The decrypted text, byte for byte. Wiped on drop.
    text: Zeroizing<String>,
}

impl SecretFile {
    /// A file named `name` holding `text`.
    pub fn new(name: OsString, text: Zeroizing<String>) -> SecretFile {
        SecretFile { name, text }
    }
}

/// Decrypts the `--file-arg` file (MAC verified).
pub fn decrypt(
    path: &Path,
    input_type: Option<&str>,
    identities: &mut Identities,
) -> Result<SecretFile, Error> {
    let plain = decrypt::decrypt(&io_for(path, input_type), identities)?;
    let name = match path.file_name() {
        Some(n) if path.as_os_str() != "-" => plain_name(n),
        _ => OsString::from("secrets"),
    };
    Ok(SecretFile {
        name,
        text: plain.text,
    })
}

/// The name of the decrypted file: the encrypted file's, without an `.enc` part
/// (`secrets.enc.yaml` → `secrets.yaml`).
fn plain_name(name: &std::ffi::OsStr) -> OsString {
    match name.to_str() {
        Some(n) if n.contains(".enc.") => OsString::from(n.replacen(".enc.", ".", 1)),
        Some(n) if n.len() > 4 && n.ends_with(".enc") => OsString::from(&n[..n.len() - 4]),
        _ => name.to_os_string(),
    }
}

/// The decrypted file at its private path; removed on drop.
pub struct Delivery {
    /// The private directory (removed with its content on drop).
    _dir: tempfile::TempDir,
    /// The file or pipe.
    path: PathBuf,
}

impl Delivery {
    /// Creates the private directory and the file (or the pipe and its writer thread).
    pub fn create(file: SecretFile, fifo: bool) -> Result<Delivery, Error> {
        let dir = private_dir()?;
        let path = dir.path().join(&file.name);
        let werr = |source| Error::Write {
            file: path.display().to_string(),
            source,
        };
        if fifo {
            nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)
                .map_err(|e| werr(std::io::Error::from(e)))?;
            let pipe = path.clone();
            std::thread::spawn(move || serve_once(&pipe, file.text));
        } else {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(werr)?;
            f.write_all(file.text.as_bytes()).map_err(werr)?;
        }
        Ok(Delivery { _dir: dir, path })
    }

    /// The path given to the command.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes `text` to the first reader of the pipe, then removes the pipe.
fn serve_once(pipe: &Path, text: Zeroizing<String>) {
    // Opening for writing waits for a reader.
    if let Ok(mut w) = OpenOptions::new().write(true).open(pipe) {
        // A reader that goes away early is its own business.
        let _ = w.write_all(text.as_bytes());
    }
    let _ = std::fs::remove_file(pipe);
}

/// The name prefix of `--file-arg` directories.
const DIR_PREFIX: &str = "sealed-exec-";

/// A new directory of mode 0700 on the most private file system available.
fn private_dir() -> Result<tempfile::TempDir, Error> {
    let mut bases = Vec::new();
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && run.is_absolute()
        && run.is_dir()
    {
        bases.push(run);
    }
    if Path::new("/dev/shm").is_dir() {
        bases.push(PathBuf::from("/dev/shm"));
    }
    bases.push(std::env::temp_dir());
    let mut last = None;
    for base in &bases {
        // Directories of earlier runs that were killed (SIGKILL) may still hold a value
        // file: remove them (their owner is dead; see `fsutil::stale_siblings`).
        for stale in crate::fsutil::stale_siblings(base, DIR_PREFIX) {
            crate::fsutil::wipe_and_remove_dir(&stale);
        }
        match tempfile::Builder::new()
            .prefix(&crate::fsutil::owned_prefix(DIR_PREFIX))
            .permissions(Permissions::from_mode(0o700))
            .tempdir_in(base)
        {
            Ok(dir) => return Ok(dir),
            Err(e) => last = Some((base, e)),
        }
    }
    let (base, source) =
        last.ok_or_else(|| Error::other(crate::error::exit::WRITE, "no directory for --file-arg"))?;
    Err(Error::Write {
        file: base.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn plain_names() {
        for (enc, plain) in [
            ("secrets.enc.yaml", "secrets.yaml"),
            ("app.env.enc", "app.env"),
            (".env", ".env"),
            (".enc", ".enc"),
            ("config.json", "config.json"),
        ] {
            assert_eq!(plain_name(OsStr::new(enc)), plain, "{enc}");
        }
    }
}
