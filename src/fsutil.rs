//! Reading inputs and writing outputs safely: stdin as `-`, UTF-8 checked with a position,
//! and atomic in-place writes (temporary file in the same directory, fsync, rename) that
//! keep the file's permission bits.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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
    let mut bytes = if path.as_os_str() == "-" {
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
    // The buffer moves into the string (no second copy of the file), or back into a
    // zeroizing vector to report where the text stops being UTF-8.
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let bytes = Zeroizing::new(e.into_bytes());
            let valid = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or_default();
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
///
/// A symbolic link is followed (every hop, as `open` would): the temporary file is made
/// beside the final target and renamed onto it, so the link stays a link and the file it
/// points to gets the new content. Temporary files left by earlier runs that were killed
/// (SIGKILL, power loss) in the same directory are removed first (see [`stale_siblings`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let name = display_path(path);
    let werr = |source| Error::Write {
        file: name.clone(),
        source,
    };
    let target = resolve_links(path).map_err(werr)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    for stale in stale_siblings(dir, TEMP_PREFIX) {
        if std::fs::symlink_metadata(&stale).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(&stale);
        }
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(&owned_prefix(TEMP_PREFIX))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(werr)?;
    }
    tmp.write_all(data).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(&target).map_err(|e| werr(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The prefix of [`write_atomic`]'s temporary files.
const TEMP_PREFIX: &str = ".sealed-";

/// How many symbolic links [`resolve_links`] follows (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The file a path names once every symbolic link in its last component is followed; the
/// path itself when it is not a link (or does not exist). A dangling link resolves to the
/// missing file it points to, which the write then creates.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                // A relative target is relative to the link's directory; joining an
                // absolute one replaces the path.
                p = match p.parent() {
                    Some(dir) => dir.join(to),
                    None => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::from(nix::errno::Errno::ELOOP))
}

/// The prefix of a temporary file or directory that this process owns: `prefix`, then
/// this process's id and [`pid_scope`] (`.sealed-1234-9f3a2c1b-`), so that a later run can
/// tell that its owner is dead. Just `prefix` when the scope is unknown.
pub fn owned_prefix(prefix: &str) -> String {
    match pid_scope() {
        Some(scope) => format!("{prefix}{}-{scope}-", std::process::id()),
        None => prefix.to_string(),
    }
}

/// Entries of `dir` named `{prefix}{pid}-{scope}-…` by [`owned_prefix`] whose owner is
/// known to be dead: same [`pid_scope`] as this process (same boot of the same machine,
/// same PID namespace), not this process, no `/proc/{pid}`, and owned by this user.
/// Anything unsure (no `/proc`, another machine on a shared file system, a container, a
/// PID reused since) is left alone.
pub fn stale_siblings(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let Some(scope) = pid_scope() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let me = std::process::id();
    let uid = nix::unistd::geteuid().as_raw();
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
                return false;
            };
            let mut parts = rest.splitn(3, '-');
            let (Some(pid), Some(tag), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
                return false;
            };
            let Ok(pid) = pid.parse::<u32>() else {
                return false;
            };
            tag == scope
                && pid != me
                && pid > 0
                && !Path::new("/proc").join(pid.to_string()).exists()
                && std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.uid() == uid)
        })
        .map(|e| e.path())
        .collect()
}

/// Eight hex digits naming the running kernel (its boot id) and this process's PID
/// namespace: two processes with the same scope see the same PIDs in `/proc`. `None` when
/// `/proc` cannot tell (not Linux, `/proc` not mounted, or mounted for another namespace).
fn pid_scope() -> Option<&'static str> {
    static SCOPE: OnceLock<Option<String>> = OnceLock::new();
    SCOPE
        .get_or_init(|| {
            let me = std::fs::read_link("/proc/self").ok()?;
            if me.to_str()? != std::process::id().to_string() {
                return None;
            }
            let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
            use sha2::Digest;
            let digest = sha2::Sha256::new()
                .chain_update(boot.trim().as_bytes())
                .chain_update(b"\n")
                .chain_update(ns.as_os_str().as_encoded_bytes())
                .finalize();
            Some(digest[..4].iter().map(|b| format!("{b:02x}")).collect())
        })
        .as_deref()
}

/// Removes a private directory of sealed's (an edit workspace, an `exec --file-arg`
/// directory), zero-filling its regular files first: they may hold plaintext. Special
/// files (a FIFO) are not opened. Errors are ignored: this is cleanup.
pub fn wipe_and_remove_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if let Ok(meta) = std::fs::symlink_metadata(&p)
                && meta.is_file()
                && let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p)
            {
                let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0).min(1 << 24)];
                let _ = f.write_all(&zeros);
                let _ = f.sync_all();
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A process id that is certainly dead: a child that ran and was reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn writes_through_links_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/real"), b"old").unwrap();
        std::fs::set_permissions(d.join("sub/real"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        // A chain: relative link to a relative link in another directory.
        symlink("sub/link2", d.join("link1")).unwrap();
        symlink("real", d.join("sub/link2")).unwrap();
        write_atomic(&d.join("link1"), b"new").unwrap();
        assert_eq!(std::fs::read(d.join("sub/real")).unwrap(), b"new");
        for link in ["link1", "sub/link2"] {
            assert!(
                std::fs::symlink_metadata(d.join(link))
                    .unwrap()
                    .is_symlink()
            );
        }
        let mode = std::fs::metadata(d.join("sub/real"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        // An absolute link, and a dangling one (the target is created).
        symlink(d.join("sub/real"), d.join("abs")).unwrap();
        write_atomic(&d.join("abs"), b"abs").unwrap();
        assert_eq!(std::fs::read(d.join("sub/real")).unwrap(), b"abs");
        symlink("sub/missing", d.join("dangling")).unwrap();
        write_atomic(&d.join("dangling"), b"created").unwrap();
        assert_eq!(std::fs::read(d.join("sub/missing")).unwrap(), b"created");
        assert!(
            std::fs::symlink_metadata(d.join("dangling"))
                .unwrap()
                .is_symlink()
        );
        // No temporary file is left in either directory.
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .chain(std::fs::read_dir(d.join("sub")).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "abs", "dangling", "link1", "link2", "missing", "real", "sub"
            ]
        );
    }

    #[test]
    fn a_link_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = write_atomic(&dir.path().join("a"), b"x").unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }

    #[test]
    fn temporary_files_of_dead_owners_are_removed() {
        let Some(scope) = pid_scope() else {
            eprintln!("skipping: /proc cannot tell which processes are alive");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let dead = dead_pid();
        let me = std::process::id();
        let names = [
            format!(".sealed-{dead}-{scope}-aaaaaa.tmp"),
            format!(".sealed-{me}-{scope}-bbbbbb.tmp"),
            format!(".sealed-{dead}-zzzzzzzz-cccccc.tmp"),
            ".sealed-dddddd.tmp".to_string(),
            format!(".sealed-1-{scope}-eeeeee.tmp"),
        ];
        for n in &names {
            std::fs::write(d.join(n), b"left over").unwrap();
        }
        write_atomic(&d.join("f"), b"x").unwrap();
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // Only the dead owner's file of this scope goes; this process's own, another
        // scope's, an unnamed owner's and a live process's (pid 1) stay.
        let mut expected: Vec<String> = names[1..].to_vec();
        expected.push("f".to_string());
        expected.sort();
        assert_eq!(left, expected);
    }
}
