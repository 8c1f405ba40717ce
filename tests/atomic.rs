//! In-place commands killed with SIGKILL at many moments: the file is always either the
//! old or the new content (never truncated, never half-written), its permission bits are
//! kept, and nothing is left beside it but, possibly, a `.sealed-PID-…tmp` temporary file
//! (or `edit`'s workspace in TMPDIR) from a run killed before it could clean up, which the
//! next run that writes removes (documented in docs/security.md; sealed never reads those
//! files). In-place writes through a symbolic link write its target and keep the link.
//!
//! No sleeps: each iteration spawns the real binary and busy-waits a pseudo-random number
//! of microseconds, spread over the length of an uninterrupted run (measured first), before
//! `kill -9`. The input is large enough (hundreds of KB, many values) for the run to last
//! tens of milliseconds, so kills land before, during and after the write.
//!
//! Adding a command (`edit`, `set`, `rotate`…) is one row of [`cases`].

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Rng, Scratch};

/// The file under test, in a directory of its own.
const FILE: &str = "{file}";
/// The scratch identity's public key.
const RECIPIENT: &str = "{recipient}";

/// Mode of the file before each run (not a default, so that keeping it is visible).
const MODE: u32 = 0o640;

/// Iterations per command: enough to see both outcomes several times.
const MIN_ITERATIONS: usize = 20;
const MAX_ITERATIONS: usize = 80;

/// The file's content before a run.
#[derive(Clone, Copy)]
enum Before {
    /// The plaintext document.
    Plain,
    /// That document encrypted for the scratch identity.
    Cipher,
}

/// What a completed run leaves.
#[derive(Clone, Copy)]
enum After {
    /// Ciphertext that decrypts to the plaintext document.
    DecryptsToPlain,
    /// Ciphertext that decrypts (MAC verified) to something other than the document.
    DecryptsToOther,
    /// The plaintext document, byte for byte.
    Plain,
}

/// One in-place command: a label, the file name (its extension picks the syntax), the
/// content before, the arguments, extra environment, and what a completed run leaves.
struct Case {
    label: &'static str,
    file: &'static str,
    before: Before,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    after: After,
}

/// The editor of `sealed edit` in these tests: changes every "number" into "NUMBER".
const EDITOR: &[(&str, &str)] = &[("SOPS_EDITOR", "sed -i s/number/NUMBER/")];

/// Every in-place command. One row per command.
fn cases() -> Vec<Case> {
    #[rustfmt::skip]
    let cases = vec![
        Case { label: "encrypt -i (yaml)", file: "s.yaml", before: Before::Plain, args: &["encrypt", "-i", "--age", RECIPIENT, FILE], env: &[], after: After::DecryptsToPlain },
        Case { label: "decrypt -i (yaml)", file: "s.yaml", before: Before::Cipher, args: &["decrypt", "-i", FILE], env: &[], after: After::Plain },
        Case { label: "encrypt -i (env)", file: "s.env", before: Before::Plain, args: &["encrypt", "-i", "--age", RECIPIENT, FILE], env: &[], after: After::DecryptsToPlain },
        Case { label: "decrypt -i (json)", file: "s.json", before: Before::Cipher, args: &["decrypt", "-i", FILE], env: &[], after: After::Plain },
        Case { label: "set (yaml)", file: "s.yaml", before: Before::Cipher, args: &["set", FILE, "[\"key_1\"]", "\"changed\""], env: &[], after: After::DecryptsToOther },
        Case { label: "unset (json)", file: "s.json", before: Before::Cipher, args: &["unset", FILE, "[\"key_1\"]"], env: &[], after: After::DecryptsToOther },
        Case { label: "rotate (env)", file: "s.env", before: Before::Cipher, args: &["rotate", "--age", RECIPIENT, FILE], env: &[], after: After::DecryptsToPlain },
        Case { label: "edit (yaml)", file: "s.yaml", before: Before::Cipher, args: &["edit", FILE], env: EDITOR, after: After::DecryptsToOther },
    ];
    cases
}

/// Values in the generated documents (fewer in debug builds, which are ~10× slower).
const VALUES: usize = if cfg!(debug_assertions) { 400 } else { 5_000 };

fn plaintext(file: &str) -> String {
    if file.ends_with(".json") {
        let members: Vec<String> = (0..VALUES)
            .map(|i| format!("  \"key_{i}\": \"value number {i}\""))
            .collect();
        format!("{{\n{}\n}}\n", members.join(",\n"))
    } else if file.ends_with(".env") {
        (0..VALUES)
            .map(|i| format!("KEY_{i}=value number {i}\n"))
            .collect()
    } else {
        (0..VALUES)
            .map(|i| format!("key_{i}: value number {i} # note {i}\n"))
            .collect()
    }
}

/// The runs of this file, in a scratch area whose `work/` holds only the file under test.
impl Scratch {
    fn new_atomic() -> Scratch {
        Scratch::new("sealed-atomic-")
    }

    /// sealed with `args` (`FILE` and `RECIPIENT` replaced), `env` added, output discarded.
    fn command_env(&self, args: &[&str], file: &Path, env: &[(&str, &str)]) -> Command {
        let mut cmd = self.command();
        for a in args {
            match *a {
                FILE => cmd.arg(file),
                RECIPIENT => cmd.arg(&self.recipient),
                other => cmd.arg(other),
            };
        }
        cmd.envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Runs to completion (guarded: killed and failed after 60 s). Returns the duration.
    fn run_to_end(&self, args: &[&str], file: &Path) -> Duration {
        self.run_to_end_env(args, file, &[])
    }

    fn run_to_end_env(&self, args: &[&str], file: &Path, env: &[(&str, &str)]) -> Duration {
        let start = Instant::now();
        let mut child = self.command_env(args, file, env).spawn().expect("spawn");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "sealed {args:?} failed uninterrupted");
                return start.elapsed();
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sealed {args:?} still running after 60 s");
            }
            std::hint::spin_loop();
        }
    }

    /// Spawns the command and kills it with SIGKILL after `delay` (busy wait), unless it
    /// ended before. Returns whether it was killed, and its process id.
    fn run_and_kill(
        &self,
        args: &[&str],
        file: &Path,
        env: &[(&str, &str)],
        delay: Duration,
    ) -> (bool, u32) {
        let mut child = self.command_env(args, file, env).spawn().expect("spawn");
        let pid = child.id();
        let start = Instant::now();
        while start.elapsed() < delay {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "sealed {args:?} failed uninterrupted");
                return (false, pid);
            }
            std::hint::spin_loop();
        }
        let killed = child.kill().is_ok();
        let status = child.wait().expect("reap");
        (killed && status.code().is_none(), pid)
    }

    /// Whether `bytes` decrypt (a complete ciphertext, MAC verified) to `plain`, or to
    /// anything else when `plain` is `None`.
    fn decrypts_to(&self, name: &str, bytes: &[u8], plain: Option<&[u8]>) -> bool {
        let probe_dir = self.p("probe");
        std::fs::create_dir_all(&probe_dir).expect("probe dir");
        let probe = probe_dir.join(name);
        std::fs::write(&probe, bytes).expect("write probe");
        let out = self
            .command_env(&["decrypt", FILE], &probe, &[])
            .stdout(Stdio::piped())
            .output()
            .expect("decrypt probe");
        out.status.success() && plain.is_none_or(|p| out.stdout == p)
    }
}

/// What the iterations of one case saw.
#[derive(Default, Debug)]
struct Tally {
    old: usize,
    new: usize,
    temp_left: usize,
    /// Private plaintext workspaces of `edit` left in TMPDIR by a kill.
    workspaces_left: usize,
    /// Files or workspaces left by a killed run and removed by a later one.
    cleaned: usize,
    finished_before_kill: usize,
}

/// The prefix of the temporary files of in-place writes, and of `edit`'s workspaces.
const TEMP: &str = ".sealed-";
const WORKSPACE: &str = "sealed-edit-";

/// The process id in the name of a temporary file or workspace (`{prefix}{pid}-…`).
fn owner_pid(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// Checks what is left in `dir` beside `keep` after an iteration: only names with
/// `prefix`, owned by a run that was killed (this one, or an earlier one when this one
/// was killed too: it may have died before cleaning up); nothing at all after a run that
/// completed. Updates `seen` (what is left now) and returns how many names are new and
/// how many of those seen before are gone.
fn check_leftovers(
    case: &Case,
    dir: &Path,
    prefix: &str,
    killed: &[u32],
    this_run: (bool, u32),
    seen: &mut Vec<String>,
) -> (usize, usize) {
    let mut now = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name == case.file {
            continue;
        }
        let pid = owner_pid(&name, prefix);
        assert!(
            pid.is_some_and(|p| killed.contains(&p)),
            "{}: {name:?} left in {}, not by a killed run",
            case.label,
            dir.display()
        );
        assert!(
            this_run.0,
            "{}: a completed run left {name:?} (or did not remove it)",
            case.label
        );
        now.push(name);
    }
    let new = now.iter().filter(|n| !seen.contains(n)).count();
    let gone = seen.iter().filter(|n| !now.contains(n)).count();
    *seen = now;
    (new, gone)
}

fn check_case(case: &Case, seed: u64) {
    let s = Scratch::new_atomic();
    let file = s.work(case.file);
    let plain = plaintext(case.file);
    // The ciphertext every "before: Cipher" run starts from.
    std::fs::write(&file, &plain).expect("write");
    s.run_to_end(&["encrypt", "-i", "--age", RECIPIENT, FILE], &file);
    let cipher = std::fs::read(&file).expect("read ciphertext");
    let before: Vec<u8> = match case.before {
        Before::Plain => plain.clone().into_bytes(),
        Before::Cipher => cipher,
    };
    let reset = || {
        std::fs::write(&file, &before).expect("reset the file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(MODE)).expect("chmod");
    };

    // How long an uninterrupted run takes (the median of three).
    let mut durations: Vec<Duration> = (0..3)
        .map(|_| {
            reset();
            s.run_to_end_env(case.args, &file, case.env)
        })
        .collect();
    durations.sort();
    let full = durations[1];

    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    // Process ids of the runs killed so far, and the leftovers of the last iteration.
    let mut killed: Vec<u32> = Vec::new();
    let mut temps: Vec<String> = Vec::new();
    let mut workspaces: Vec<String> = Vec::new();
    for i in 0..MAX_ITERATIONS {
        if i >= MIN_ITERATIONS && tally.old >= 3 && tally.new >= 3 {
            break;
        }
        reset();
        // Uniform over 0..130 % of a full run: before, during and after the write.
        let micros = rng.next() % (full.as_micros() as u64 * 13 / 10 + 1);
        let run = s.run_and_kill(case.args, &file, case.env, Duration::from_micros(micros));
        if run.0 {
            killed.push(run.1);
        } else {
            tally.finished_before_kill += 1;
        }

        let now = std::fs::read(&file).unwrap_or_else(|e| {
            panic!(
                "{}: iteration {i}: the file is gone after SIGKILL: {e}",
                case.label
            )
        });
        let is_old = now == before;
        let is_new = !is_old
            && match case.after {
                After::Plain => now == plain.as_bytes(),
                After::DecryptsToPlain => s.decrypts_to(case.file, &now, Some(plain.as_bytes())),
                After::DecryptsToOther => {
                    now != plain.as_bytes() && s.decrypts_to(case.file, &now, None)
                }
            };
        assert!(
            is_old || is_new,
            "{}: iteration {i} (killed after {micros} µs of ~{} µs): the file is neither old nor new ({} bytes, old {})",
            case.label,
            full.as_micros(),
            now.len(),
            before.len()
        );
        if is_old {
            tally.old += 1;
        } else {
            tally.new += 1;
        }
        let mode = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o7777;
        assert_eq!(
            mode, MODE,
            "{}: iteration {i}: mode {mode:o} instead of {MODE:o}",
            case.label
        );

        // Leftovers stay where they are: the next run that writes must remove them.
        let (new, gone) = check_leftovers(case, &s.p("work"), TEMP, &killed, run, &mut temps);
        tally.temp_left += new;
        tally.cleaned += gone;
        let (new, gone) =
            check_leftovers(case, &s.p("tmp"), WORKSPACE, &killed, run, &mut workspaces);
        tally.workspaces_left += new;
        tally.cleaned += gone;
    }
    // One more complete run removes whatever the last kills left.
    reset();
    s.run_to_end_env(case.args, &file, case.env);
    let done = (false, 0);
    tally.cleaned += check_leftovers(case, &s.p("work"), TEMP, &killed, done, &mut temps).1;
    tally.cleaned +=
        check_leftovers(case, &s.p("tmp"), WORKSPACE, &killed, done, &mut workspaces).1;
    eprintln!(
        "{}: full run {} µs, {tally:?}",
        case.label,
        full.as_micros()
    );
    assert!(
        tally.old > 0 && tally.new > 0,
        "{}: the kills never landed on both sides of the write: {tally:?}",
        case.label
    );
}

#[test]
fn in_place_commands_survive_sigkill() {
    // Two commands at a time (this is a 2-core CI machine); each calibrates under that load.
    let cases = cases();
    for (n, pair) in cases.chunks(2).enumerate() {
        std::thread::scope(|scope| {
            for (i, case) in pair.iter().enumerate() {
                let seed = 0x2545_f491_4f6c_dd1d ^ (2 * n + i + 1) as u64;
                scope.spawn(move || check_case(case, seed));
            }
        });
    }
}

#[test]
fn in_place_write_keeps_permissions_and_leaves_nothing() {
    let s = Scratch::new_atomic();
    for (name, mode) in [("a.yaml", 0o600), ("b.env", 0o644), ("c.json", 0o400)] {
        let file = s.work(name);
        std::fs::write(&file, plaintext(name)).expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        s.run_to_end(&["encrypt", "-i", "--age", RECIPIENT, FILE], &file);
        s.run_to_end(&["decrypt", "-i", FILE], &file);
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            plaintext(name)
        );
        let got = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o7777;
        assert_eq!(got, mode, "{name}");
    }
    let mut names: Vec<String> = std::fs::read_dir(s.p("work"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.yaml", "b.env", "c.json"]);
}

#[test]

fn in_place_through_a_symlink_writes_the_target() {
    let s = Scratch::new_atomic();
    let real = s.work("real.yaml");
    let link = s.work("link.yaml");
    std::fs::write(&real, plaintext("real.yaml")).expect("write");
    std::os::unix::fs::symlink("real.yaml", &link).expect("symlink");
    s.run_to_end(&["encrypt", "-i", "--age", RECIPIENT, FILE], &link);
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("stat")
            .file_type()
            .is_symlink(),
        "the link was replaced by a regular file"
    );
    let now = std::fs::read(&real).expect("read the target");
    assert!(
        now != plaintext("real.yaml").as_bytes(),
        "the link's target still holds the plaintext"
    );
}

/// `edit` killed while its editor runs (a real SIGKILL at a known moment) leaves its
/// plaintext workspace; the next `edit` removes it, and the next in-place write removes
/// temporary files of dead owners (a fake one named like a real one) but not those of a
/// live process or of another machine.
#[test]
fn what_a_killed_run_leaves_is_removed_by_the_next_one() {
    let s = Scratch::new_atomic();
    let file = s.work("s.yaml");
    std::fs::write(&file, plaintext("s.yaml")).expect("write");
    s.run_to_end(&["encrypt", "-i", "--age", RECIPIENT, FILE], &file);
    let cipher = std::fs::read(&file).expect("read");

    // An editor that says it has started, then waits until the test lets it go.
    let ready = s.p("ready");
    let gate = s.p("gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let script = s.p("editor.sh");
    std::fs::write(&script, "touch \"$READY\"; read x < \"$GATE\"\n").expect("write script");
    let editor = format!("sh {}", script.display());
    let env = [
        ("SOPS_EDITOR", editor.as_str()),
        ("READY", ready.to_str().expect("utf-8")),
        ("GATE", gate.to_str().expect("utf-8")),
    ];
    let mut child = s
        .command_env(&["edit", FILE], &file, &env)
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "edit ended before its editor started"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the editor never started"
        );
        std::hint::spin_loop();
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // Let the editor go: it reads end-of-file from the gate and exits.
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .open(&gate)
            .expect("open the gate"),
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        cipher,
        "killed before writing"
    );

    // The workspace is left, named after its dead owner: `sealed-edit-PID-SCOPE-…`.
    let left: Vec<String> = std::fs::read_dir(s.p("tmp"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 1, "one workspace left: {left:?}");
    assert_eq!(owner_pid(&left[0], WORKSPACE), Some(pid), "{left:?}");
    let scope = left[0].split('-').nth(3).expect("a scope").to_string();

    // Temporary files beside the target: a dead owner's (removed), a live process's (this
    // test), another machine's or PID namespace's (other scope), both kept.
    let me = std::process::id();
    let dead = format!(".sealed-{pid}-{scope}-aaaaaa.tmp");
    let live = format!(".sealed-{me}-{scope}-bbbbbb.tmp");
    let other = format!(".sealed-{pid}-zzzzzzzz-cccccc.tmp");
    for name in [&dead, &live, &other] {
        std::fs::write(s.work(name), "left over").expect("write");
    }

    s.run_to_end_env(&["edit", FILE], &file, EDITOR);
    assert!(
        s.decrypts_to("s.yaml", &std::fs::read(&file).expect("read"), None),
        "the edit was written"
    );
    let left: Vec<String> = std::fs::read_dir(s.p("tmp"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "workspaces left: {left:?}");
    let mut names: Vec<String> = std::fs::read_dir(s.p("work"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![live, other, "s.yaml".to_string()];
    expected.sort();
    assert_eq!(names, expected);
}
