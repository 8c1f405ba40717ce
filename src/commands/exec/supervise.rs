//! Running the command as a child when sealed must stay (`--file-arg`, `exec-env`,
//! `exec-file`): signals sent to
//! sealed are forwarded to the child, and sealed exits with the child's status.
//!
//! Forwarded: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, unless the kernel sent
//! them (a Ctrl-C, Ctrl-\ or hang-up at the terminal goes to the whole foreground process
//! group, so the child already has it and must not get it twice). The child is reaped
//! only after forwarding has stopped, so a signal can never reach a recycled process id.

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use super::file_arg::Delivery;
use super::mask::{self, Patterns};
use crate::error::{Error, exit};

/// The signals passed on to the child.
const FORWARDED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// Starts `cmd`, forwards signals to it until it ends, and returns the exit status to
/// use: the child's code, or 128+N when signal N ended it. `_delivery` (the file the
/// command reads, if any) must live until then.
pub fn run(cmd: Command, program: &OsStr, delivery: Option<&Delivery>) -> Result<i32, Error> {
    run_masked(cmd, program, delivery, None)
}

/// As [`run`]; with `mask`, the command's standard output and error are pipes that sealed
/// copies to its own, every value of `mask` replaced (`--mask`). Standard input, the
/// process group and the terminal stay the command's, as without it.
pub fn run_masked(
    mut cmd: Command,
    program: &OsStr,
    _delivery: Option<&Delivery>,
    mask: Option<Arc<Patterns>>,
) -> Result<i32, Error> {
    let mut signals = SignalsInfo::<WithOrigin>::new(FORWARDED)
        .map_err(|e| Error::other(exit::GENERIC, format!("cannot handle signals: {e}")))?;
    // A signal that came while files were being prepared: do not start the command.
    if let Some(origin) = signals.pending().next() {
        return Ok(128 + origin.signal);
    }
    if mask.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| launch_error(program, &e))?;
    drop(cmd);
    let pumps: Vec<_> = match mask {
        Some(patterns) => {
            let out = child.stdout.take().map(|from| {
                let p = Arc::clone(&patterns);
                std::thread::spawn(move || mask::pump(&p, from, std::io::stdout()))
            });
            let err = child.stderr.take().map(|from| {
                std::thread::spawn(move || mask::pump(&patterns, from, std::io::stderr()))
            });
            out.into_iter().chain(err).collect()
        }
        None => Vec::new(),
    };
    let raw = i32::try_from(child.id())
        .map_err(|_| Error::other(exit::GENERIC, "child process id out of range"))?;
    let pid = Pid::from_raw(raw);
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            if origin.cause == Cause::Kernel {
                continue;
            }
            if let Ok(sig) = Signal::try_from(origin.signal) {
                let _ = kill(pid, sig);
            }
        }
    });
    // Wait for the end without reaping: the process id stays the child's meanwhile.
    while let Err(Errno::EINTR) = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    {
    }
    // The output still in the pipes is copied before the command is reaped (a process it
    // left running that holds them open is waited for, as in a shell pipeline).
    for pump in pumps {
        let _ = pump.join();
    }
    handle.close();
    let _ = forwarder.join();
    let status = child
        .wait()
        .map_err(|e| Error::other(exit::GENERIC, format!("cannot wait for the command: {e}")))?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => exit::GENERIC,
    })
}

/// The error for a command that could not be started: 127 when it does not exist, 126
/// when it cannot be run (as shells report them).
pub fn launch_error(program: &OsStr, err: &std::io::Error) -> Error {
    let name = program.to_string_lossy();
    match err.kind() {
        std::io::ErrorKind::NotFound => {
            Error::other(127, format!("cannot run {name}: command not found"))
        }
        std::io::ErrorKind::PermissionDenied => {
            Error::other(126, format!("cannot run {name}: permission denied"))
        }
        _ => Error::other(126, format!("cannot run {name}: {err}")),
    }
}
