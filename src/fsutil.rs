//! Reading inputs and writing outputs safely: stdin as `-`, UTF-8 checked with a position,
//! and atomic in-place writes (temporary file in the same directory, fsync, rename) that
//! keep the file's permission bits.

use std::io::{Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Pos, display_path};

/// Reads all of standard input.
pub fn read_stdin() -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            file: "<stdin>".into(),
            source,
        })?;
    Ok(bytes)
}

/// Reads a file (or stdin for `-`) as UTF-8 text.
pub fn read_text(path: &Path) -> Result<Zeroizing<String>, Error> {
    let name = display_path(path);
    let bytes = if path.as_os_str() == "-" {
        read_stdin()?
    } else {
        let mut bytes = Zeroizing::new(Vec::new());
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|source| Error::Read {
                file: name.clone(),
                source,
            })?;
        bytes
    };
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            Err(Error::Syntax {
                file: name,
                pos: Pos::of_offset(valid, valid.len()),
                msg: "the file is not valid UTF-8".into(),
            })
        }
    }
}

/// Writes `data` to `path` atomically: a temporary file beside it, flushed to disk, then
/// renamed over it. An existing file's permission bits are kept; on any failure the
/// original is untouched and the temporary file removed.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let name = display_path(path);
    let werr = |source| Error::Write {
        file: name.clone(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".sealed-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(werr)?;
    }
    tmp.write_all(data).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes to stdout.
pub fn write_stdout(data: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)
        .and_then(|_| out.flush())
        .map_err(|source| Error::Write {
            file: "<stdout>".into(),
            source,
        })
}
