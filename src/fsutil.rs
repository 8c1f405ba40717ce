//! Reading inputs and writing outputs safely: stdin as `-`, UTF-8 checked with a position,
//! and atomic in-place writes (temporary file in the same directory, fsync, rename) that
//! keep the file's permission bits.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use zeroize::Zeroizing;

use crate::error::{Error, Pos, display_path};

/// The environment variable that sets the input size limit ([`max_input`]).
pub const MAX_INPUT_VAR: &str = "SEALED_MAX_INPUT";

/// The default input size limit: 256 MiB. The engine holds several times its input in
/// memory (docs/security.md, "Robustness"), so an endless stream (`sealed encrypt - <
/// /dev/zero`) would otherwise grow until the machine runs out of memory.
pub const DEFAULT_MAX_INPUT: u64 = 256 << 20;

/// The largest input sealed reads, in bytes: `$SEALED_MAX_INPUT` (a number of bytes, or
/// with a `K`, `M` or `G` suffix, powers of 1024), else [`DEFAULT_MAX_INPUT`]. A value
/// that cannot be read as a size is an error, not a silent default.
pub fn max_input() -> Result<u64, Error> {
    let Some(raw) = std::env::var_os(MAX_INPUT_VAR) else {
        return Ok(DEFAULT_MAX_INPUT);
    };
    let bad = || {
        Error::other(
            crate::error::exit::GENERIC,
            format!(
                "{MAX_INPUT_VAR} must be a size in bytes, optionally with K, M or G (e.g. {MAX_INPUT_VAR}=2G)"
            ),
        )
    };
    raw.to_str().and_then(parse_size).ok_or_else(bad)
}

/// `1048576`, `1024K`, `1M`, `2g` → bytes (`K`, `M`, `G` are powers of 1024).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 10),
        (i, 'm' | 'M') => (&text[..i], 20),
        (i, 'g' | 'G') => (&text[..i], 30),
        _ => (text, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A size in the largest binary unit that divides it: `(1, "G")` for 1 GiB, `(5, "")` for
/// 5 bytes.
fn size_units(n: u64) -> (u64, &'static str) {
    for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return (n >> shift, unit);
        }
    }
    (n, "")
}

/// Reads all of `r`, up to [`max_input`] bytes: more is an error naming `name` and how to
/// raise the limit (never a reason to keep growing the buffer).
fn read_limited(mut r: impl Read, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let limit = max_input()?;
    let mut bytes = Zeroizing::new(Vec::new());
    r.by_ref()
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            file: name.to_string(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        let (n, unit) = size_units(limit);
        let (next, next_unit) = size_units(limit.saturating_mul(4).max(1 << 20));
        let unit = if unit.is_empty() {
            " bytes".to_string()
        } else {
            format!(" {unit}iB")
        };
        return Err(Error::file(
            name,
            crate::error::exit::READ,
            format!(
                "the input is larger than {n}{unit}, sealed's limit; to read it, raise the limit, \
                 e.g. {MAX_INPUT_VAR}={next}{next_unit}"
            ),
        ));
    }
    Ok(bytes)
}

/// Reads all of standard input (at most [`max_input`] bytes).
pub fn read_stdin() -> Result<Zeroizing<Vec<u8>>, Error> {
    read_limited(std::io::stdin().lock(), "<stdin>")
}

/// Reads a file (or stdin for `-`) as UTF-8 text.
pub fn read_text(path: &Path) -> Result<Zeroizing<String>, Error> {
    let name = display_path(path);
    let mut bytes = if path.as_os_str() == "-" {
        read_stdin()?
    } else {
        let file = std::fs::File::open(path).map_err(|source| Error::Read {
            file: name.clone(),
            source,
        })?;
        read_limited(file, &name)?
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
        keep_owner(tmp.as_file(), &meta);
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

/// Gives the temporary file the owner and group of the file it replaces, where this
/// process may (root may; another user only a group they belong to): `sudo sealed
/// encrypt -i` on another user's file must not hand it to root. Done before any byte is
/// written, and before the mode is set (a change of owner clears set-id bits). When it is
/// not allowed the new file is the writer's, as with any editor's rename.
fn keep_owner(tmp: &std::fs::File, target: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    let Ok(mine) = tmp.metadata() else { return };
    if (mine.uid(), mine.gid()) == (target.uid(), target.gid()) {
        return;
    }
    let uid = (mine.uid() != target.uid()).then_some(target.uid());
    if std::os::unix::fs::fchown(tmp, uid, Some(target.gid())).is_err() && uid.is_some() {
        // Not root: at least the group, when allowed.
        let _ = std::os::unix::fs::fchown(tmp, None, Some(target.gid()));
    }
}

/// An exclusive lock on a file that sealed reads, changes and writes back (`set`,
/// `unset`, `edit`, `-i`, `rotate`, `updatekeys`, `team`): a second sealed process that
/// wants the same file waits until the first has renamed its new version into place, then
/// reads that. Released when dropped, or by the kernel when the process dies (so a crash
/// leaves no stale lock).
///
/// It is a `flock` on the file itself: no lock file to leave behind or clean up. Since a
/// write renames a new file over the path, the lock taken on the old file would protect
/// nothing once the first writer is done; so after the lock is granted, the path must
/// still name the locked file (same device and inode), else the lock is taken again on
/// the new one.
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

/// Locks `path` (following symbolic links, as [`write_atomic`] does) for a
/// read-modify-write. `None` when the file does not exist (nothing to lose) or the file
/// system has no locks. While another sealed process holds it, says so once on stderr and
/// waits.
pub fn lock(path: &Path) -> Result<Option<FileLock>, Error> {
    use std::os::unix::fs::MetadataExt;
    let name = display_path(path);
    let rerr = |source| Error::Read {
        file: name.clone(),
        source,
    };
    let mut said = false;
    loop {
        let target = resolve_links(path).map_err(rerr)?;
        let file = match std::fs::File::open(&target) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(rerr(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                if !said {
                    eprintln!("sealed: waiting for {name}: another sealed process is changing it");
                    said = true;
                }
                file.lock().map_err(rerr)?;
            }
            // No locks on this file system (ENOLCK, EOPNOTSUPP): go on as before.
            Err(std::fs::TryLockError::Error(_)) => return Ok(None),
        }
        let held = file.metadata().map_err(rerr)?;
        match std::fs::metadata(&target) {
            Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => {
                return Ok(Some(FileLock { _file: file }));
            }
            // Replaced (or removed) while we waited: lock what the path names now.
            _ => continue,
        }
    }
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
    fn sizes_read_with_binary_units() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("1024K"), Some(1 << 20));
        assert_eq!(parse_size(" 1m "), Some(1 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        for bad in ["", "G", "lots", "-1", "1.5G", "99999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(size_units(4 << 20), (4, "M"));
        assert_eq!(size_units(1000), (1000, ""));
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
