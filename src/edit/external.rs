//! The external editor of `sealed edit`: a private workspace for the plaintext, the
//! editor command, and signal handling while it runs.
//!
//! - [`Workspace`]: a directory only the user can enter (mode 0700), in `$XDG_RUNTIME_DIR`
//!   when it exists (usually a tmpfs) else the system temporary directory, holding one
//!   file (mode 0600) named like the edited file so editors recognise its syntax. Dropping
//!   it overwrites the file with zeros and removes the directory, on every return path and
//!   on a panic. Its name carries the owner's process id, so that the next edit removes a
//!   workspace whose owner was killed (SIGKILL) before it could clean up.
//! - [`editor_command`]: `$SOPS_EDITOR`, `$VISUAL`, `$EDITOR` (the first that is set and
//!   not empty), else `vi`; split into words as a shell would (`code --wait`).
//! - Signals: while the editor runs it owns the terminal, so a Ctrl-C (SIGINT) is the
//!   editor's business and sealed ignores it; SIGTERM and SIGHUP are passed on to the
//!   editor and make the edit fail once the editor has exited (the file untouched). At any
//!   other moment of an edit, SIGINT, SIGTERM and SIGHUP remove the workspace and end the
//!   process with 128 + the signal number, after any write of the target in progress has
//!   completed (writes are atomic anyway).
//!
//! The handlers are ordinary functions, not "ignore" dispositions, so the editor starts
//! with the default handling of every signal.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use zeroize::Zeroizing;

/// The signals an edit session handles.
const SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// 0: no editor; -1: the editor is being started; > 0: its process id.
static EDITOR: AtomicI32 = AtomicI32::new(0);
/// SIGTERM or SIGHUP received while the editor ran.
static PENDING: AtomicI32 = AtomicI32::new(0);
/// A signal received outside the editor, for the watcher thread.
static DEFERRED: AtomicI32 = AtomicI32::new(0);
/// Write end of the pipe that wakes the watcher thread.
static WAKE: OnceLock<UnixStream> = OnceLock::new();
/// The workspace to remove when a signal ends the process.
static STATE: Mutex<State> = Mutex::new(State {
    dir: None,
    written: false,
    target: String::new(),
});
/// Handlers installed.
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

struct State {
    dir: Option<PathBuf>,
    written: bool,
    target: String,
}

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why running the editor failed.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    /// The editor variable cannot be split into words.
    #[error("cannot parse the editor command in ${var}: {cause}")]
    BadCommand {
        /// Which variable.
        var: &'static str,
        /// The parser's complaint (about quoting, not secret).
        cause: String,
    },
    /// The editor could not be started.
    #[error("cannot start the editor {program:?} (from {source_name}): {cause}")]
    Spawn {
        /// The program.
        program: String,
        /// Where the command came from.
        source_name: &'static str,
        /// Why.
        cause: std::io::Error,
    },
    /// A signal ended the edit.
    #[error("interrupted by signal {0}")]
    Interrupted(i32),
    /// Signal handling could not be set up.
    #[error("cannot handle signals: {0}")]
    Signals(String),
}

/// The editor command: program and arguments, and the variable it came from.
pub fn editor_command() -> Result<(Vec<String>, &'static str), EditorError> {
    for var in ["SOPS_EDITOR", "VISUAL", "EDITOR"] {
        let Ok(value) = std::env::var(var) else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        let words = shell_words::split(&value).map_err(|e| EditorError::BadCommand {
            var,
            cause: e.to_string(),
        })?;
        if !words.is_empty() {
            return Ok((words, var));
        }
    }
    Ok((vec!["vi".to_string()], "the default"))
}

/// Installs the signal handlers and the watcher thread (once per process).
pub fn install_signal_handlers() -> Result<(), EditorError> {
    INSTALLED
        .get_or_init(|| {
            let (mut reader, writer) = UnixStream::pair().map_err(|e| e.to_string())?;
            let _ = WAKE.set(writer);
            // The watcher never handles a signal itself: delivery goes to the main
            // thread, so a signal sent while the editor runs is seen before `wait` returns.
            std::thread::Builder::new()
                .name("sealed-signals".into())
                .spawn(move || {
                    block_signals_in_this_thread();
                    let mut byte = [0u8; 1];
                    // One signal ends the process: the first byte is the only one read.
                    if reader.read(&mut byte).is_ok_and(|n| n == 1) {
                        let sig = DEFERRED.load(Ordering::SeqCst);
                        let st = state();
                        if let Some(dir) = &st.dir {
                            crate::fsutil::wipe_and_remove_dir(dir);
                        }
                        let note = if st.written || st.target.is_empty() {
                            String::new()
                        } else {
                            format!("; {} was not changed", st.target)
                        };
                        // Straight to fd 2: the main thread may hold the stderr lock (at the
                        // "reopen the editor?" prompt).
                        let msg = format!("\nsealed: interrupted by signal {sig}{note}\n");
                        let _ = nix::unistd::write(std::io::stderr(), msg.as_bytes());
                        std::process::exit(128 + sig);
                    }
                })
                .map_err(|e| e.to_string())?;
            for sig in SIGNALS {
                // SAFETY: the action only uses atomics, `OnceLock::get` and the
                // async-signal-safe `kill` and `write`; it allocates nothing, takes no lock.
                unsafe { signal_hook::low_level::register(sig, move || on_signal(sig)) }
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(EditorError::Signals)
}

fn block_signals_in_this_thread() {
    let mut set = SigSet::empty();
    for sig in SIGNALS {
        if let Ok(s) = Signal::try_from(sig) {
            set.add(s);
        }
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
}

/// `kill(2)`, async-signal-safe.
fn send(pid: i32, sig: i32) {
    if let Ok(s) = Signal::try_from(sig) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), s);
    }
}

/// The signal action (runs in signal context).
fn on_signal(sig: i32) {
    let editor = EDITOR.load(Ordering::SeqCst);
    if editor != 0 {
        if sig != SIGINT {
            PENDING.store(sig, Ordering::SeqCst);
            if editor > 0 {
                send(editor, sig);
            }
        }
        return;
    }
    DEFERRED.store(sig, Ordering::SeqCst);
    if let Some(mut w) = WAKE.get() {
        // One write(2) on a socket: async-signal-safe.
        let _ = w.write(&[1]);
    }
}

/// Runs the editor on `file` and waits for it. SIGINT is left to the editor; SIGTERM and
/// SIGHUP are passed on to it and turn into [`EditorError::Interrupted`].
pub fn run_editor(file: &Path) -> Result<ExitStatus, EditorError> {
    let (words, source_name) = editor_command()?;
    PENDING.store(0, Ordering::SeqCst);
    EDITOR.store(-1, Ordering::SeqCst);
    let spawned = Command::new(&words[0]).args(&words[1..]).arg(file).spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(cause) => {
            EDITOR.store(0, Ordering::SeqCst);
            return Err(EditorError::Spawn {
                program: words[0].clone(),
                source_name,
                cause,
            });
        }
    };
    let pid = i32::try_from(child.id()).unwrap_or(-1);
    EDITOR.store(pid, Ordering::SeqCst);
    let early = PENDING.load(Ordering::SeqCst);
    if early != 0 && pid > 0 {
        send(pid, early);
    }
    let status = child.wait();
    EDITOR.store(0, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        return Err(EditorError::Interrupted(pending));
    }
    status.map_err(|cause| EditorError::Spawn {
        program: words[0].clone(),
        source_name,
        cause,
    })
}

/// Runs `f` (the write of the edited file) so that a signal cannot end the process in the
/// middle of it, and records that the target was written.
pub fn while_writing<T>(f: impl FnOnce() -> T) -> T {
    let mut st = state();
    let out = f();
    st.written = true;
    out
}

/// The prefix of workspace directories (then the owner's process id and PID scope).
const WORKSPACE_PREFIX: &str = "sealed-edit-";

/// The private directory and file holding the plaintext during an edit.
pub struct Workspace {
    dir: Option<tempfile::TempDir>,
    file: PathBuf,
}

impl Workspace {
    /// Creates the workspace with a file called `name` holding `contents`; `target` is
    /// the edited file's name for messages.
    pub fn create(name: &OsStr, contents: &[u8], target: &str) -> std::io::Result<Workspace> {
        let base = runtime_dir().unwrap_or_else(std::env::temp_dir);
        // Workspaces of earlier edits that were killed (SIGKILL) hold plaintext: remove
        // them (their owner is dead; see `fsutil::stale_siblings`).
        for stale in crate::fsutil::stale_siblings(&base, WORKSPACE_PREFIX) {
            // The editor the dead sealed started may still be writing in it: try again
            // when a file appeared while it was being removed.
            for _ in 0..3 {
                if !std::fs::symlink_metadata(&stale).is_ok_and(|m| m.is_dir()) {
                    break;
                }
                crate::fsutil::wipe_and_remove_dir(&stale);
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&crate::fsutil::owned_prefix(WORKSPACE_PREFIX))
            .tempdir_in(&base)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        {
            let mut st = state();
            st.dir = Some(dir.path().to_path_buf());
            st.written = false;
            st.target = target.to_string();
        }
        let ws = Workspace {
            file: dir.path().join(name),
            dir: Some(dir),
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&ws.file)?;
        f.write_all(contents)?;
        f.sync_all()?;
        Ok(ws)
    }

    /// The plaintext file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Reads the (edited) plaintext.
    pub fn read(&self) -> std::io::Result<Zeroizing<Vec<u8>>> {
        let mut buf = Zeroizing::new(Vec::new());
        std::fs::File::open(&self.file)?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Replaces the plaintext (when the user's text is handed back to the editor).
    pub fn write(&self, contents: &[u8]) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.file)?;
        f.write_all(contents)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let mut st = state();
        if let Some(dir) = self.dir.take() {
            crate::fsutil::wipe_and_remove_dir(dir.path());
            let _ = dir.close();
        }
        st.dir = None;
    }
}

/// `$XDG_RUNTIME_DIR` when it is an absolute path to a directory.
fn runtime_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    (dir.is_absolute() && dir.is_dir()).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn workspace_is_private_and_removed() {
        let ws = Workspace::create(OsStr::new("s.yaml"), b"a: 1\n", "s.yaml").unwrap();
        let path = ws.path().to_path_buf();
        let dir = path.parent().unwrap().to_path_buf();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(path.file_name().unwrap(), "s.yaml");
        assert_eq!(&ws.read().unwrap()[..], b"a: 1\n");
        ws.write(b"b: 2\n").unwrap();
        assert_eq!(&ws.read().unwrap()[..], b"b: 2\n");
        drop(ws);
        assert!(!dir.exists());
    }

    #[test]
    fn workspace_survives_no_panic() {
        let dir = std::panic::catch_unwind(|| {
            let ws = Workspace::create(OsStr::new("x.env"), b"A=1\n", "x.env").unwrap();
            let dir = ws.path().parent().unwrap().to_path_buf();
            std::panic::panic_any(dir);
        })
        .unwrap_err()
        .downcast::<PathBuf>()
        .unwrap();
        assert!(!dir.exists());
    }
}
