//! `sealed exec` through the real binary and real child processes: the environment a child
//! sees, precedence, exit statuses, signals delivered to the child, the argv of every
//! process checked for secrets, `--file-arg` files and their cleanup, and the errors that
//! keep the command from starting. Handshakes go through pipes and marker files; no test
//! waits for time to pass.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;

use common::{Run, SANDBOX_SECRET as SECRET, Sandbox, bin};

impl Sandbox {
    /// Runs `sealed exec ARGS` to the end.
    fn exec(&self, args: &[&str]) -> Run {
        let mut all = vec!["exec"];
        all.extend(args);
        self.run(&all)
    }
}

const YAML: &str = "\
db:
  user: admin
  password: s3cr3t-Value-4217
  port: 5432
  mode: 0755
  ssl: true
  none: ~
hosts: [alpha, beta]
api-key: \"it's \\\"q\\\" $HOME \\\\ end\"
cert: |
  line one
  line two
";

/// A child that prints the variables it sees, one `[value]` per line.
fn printer(names: &[&str]) -> String {
    let vars: Vec<String> = names
        .iter()
        .map(|n| format!("\"${{{n}-unset}}\""))
        .collect();
    format!("printf '[%s]\\n' {}", vars.join(" "))
}

#[test]
fn child_sees_flattened_values_with_their_text() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let names = [
        "DB_USER",
        "DB_PASSWORD",
        "DB_PORT",
        "DB_MODE",
        "DB_SSL",
        "DB_NONE",
        "HOSTS_0",
        "HOSTS_1",
        "API_KEY",
        "CERT",
    ];
    let out = sb
        .exec(&["-f", "app.yaml", "--", "sh", "-c", &printer(&names)])
        .ok();
    assert_eq!(
        out,
        "[admin]\n[s3cr3t-Value-4217]\n[5432]\n[0755]\n[true]\n[]\n[alpha]\n[beta]\n\
         [it's \"q\" $HOME \\ end]\n[line one\nline two\n]\n"
    );
}

#[test]
fn json_files_and_typed_values() {
    let sb = Sandbox::new();
    sb.encrypt(
        "app.json",
        "{\"db\": {\"password\": \"s3cr3t-Value-4217\", \"ratio\": 1.50, \"ids\": [1, 2]}}\n",
    );
    let out = sb
        .exec(&[
            "-f",
            "app.json",
            "--",
            "sh",
            "-c",
            &printer(&["DB_PASSWORD", "DB_RATIO", "DB_IDS_1"]),
        ])
        .ok();
    assert_eq!(out, "[s3cr3t-Value-4217]\n[1.50]\n[2]\n");
}

#[test]
fn default_file_is_dotenv_read_as_dotenv_users_expect() {
    let sb = Sandbox::new();
    sb.encrypt(
        ".env",
        "# comment\nexport TOKEN=s3cr3t-Value-4217\nQUOTED=\"a \\\"b\\\" \\$c\" # note\nSINGLE='x #y $z'\nBARE=v # comment\nMULTI=\"l1\nl2\"\nESCAPED=one\\ntwo\nlowerCase=kept\n",
    );
    let out = sb
        .exec(&[
            "--",
            "sh",
            "-c",
            &printer(&[
                "TOKEN",
                "QUOTED",
                "SINGLE",
                "BARE",
                "MULTI",
                "ESCAPED",
                "lowerCase",
            ]),
        ])
        .ok();
    assert_eq!(
        out,
        "[s3cr3t-Value-4217]\n[a \"b\" $c]\n[x #y $z]\n[v]\n[l1\nl2]\n[one\ntwo]\n[kept]\n"
    );
}

#[test]
fn later_files_win_and_file_values_win_over_the_environment() {
    let sb = Sandbox::new();
    sb.encrypt("a.env", "A=from-a\nB=from-a\nC=from-a\n");
    sb.encrypt("b.env", "B=from-b\n");
    let script = printer(&["A", "B", "C"]);
    let out = sb
        .sealed()
        .env("C", "from-environment")
        .args([
            "exec", "-f", "a.env", "-f", "b.env", "--", "sh", "-c", &script,
        ])
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[from-a]\n[from-b]\n[from-a]\n"
    );
    for flag in ["--preserve-env", "--no-override"] {
        let out = sb
            .sealed()
            .env("C", "from-environment")
            .env("B", "")
            .args([
                "exec", flag, "-f", "a.env", "-f", "b.env", "--", "sh", "-c", &script,
            ])
            .output()
            .expect("run");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "[from-a]\n[]\n[from-environment]\n",
            "{flag}"
        );
    }
}

#[test]
fn exit_status_is_the_commands() {
    let sb = Sandbox::new();
    sb.encrypt(".env", "A=1\n");
    for code in [0, 1, 42, 255] {
        let run = sb.exec(&["--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(run.code, Some(code));
        assert_eq!(run.stderr, "");
    }
}

#[test]
fn the_command_replaces_sealed() {
    let sb = Sandbox::new();
    sb.encrypt(".env", "A=1\n");
    let mut child = sb
        .sealed()
        .args(["exec", "--", "sh", "-c", "echo $$"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    assert!(child.wait().expect("wait").success());
    assert_eq!(
        out.trim(),
        child.id().to_string(),
        "the shell has sealed's pid"
    );
}

#[test]
fn child_starts_with_default_signal_dispositions() {
    let sb = Sandbox::new();
    sb.encrypt(".env", "A=1\n");
    let script = "exec grep -E '^Sig(Ign|Blk)' /proc/self/status";
    let direct = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("sh");
    let via = sb.exec(&["--", "sh", "-c", script]).ok();
    assert_eq!(via, String::from_utf8_lossy(&direct.stdout));
    sb.encrypt("f.yaml", "a: 1\n");
    let via = sb
        .exec(&[
            "--file-arg",
            "f.yaml",
            "--",
            "sh",
            "-c",
            &format!("{script} # {{}}"),
        ])
        .ok();
    assert_eq!(via, String::from_utf8_lossy(&direct.stdout));
}

/// Reads lines from `child` until one starts with `ready`; returns its other words.
fn wait_ready(child: &mut Child) -> (Vec<String>, BufReader<std::process::ChildStdout>) {
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read");
        assert!(n > 0, "child ended before it was ready");
        if let Some(rest) = line.strip_prefix("ready") {
            return (
                rest.split_whitespace().map(str::to_string).collect(),
                reader,
            );
        }
    }
}

/// Starts `sealed exec EXTRA… --file-arg app.yaml -- sh` whose shell prints its pid and
/// the value file's path, then waits (see [`trapping_shell`]). Returns sealed, the shell's
/// pid, the path, and the reader of sealed's output (keep it open).
fn start_file_arg_shell(
    mut cmd: Command,
    extra: &[&str],
) -> (Child, u32, PathBuf, BufReader<std::process::ChildStdout>) {
    let shell = trapping_shell("\"$1\"");
    let mut child = cmd
        .arg("exec")
        .args(extra)
        .args([
            "--file-arg",
            "app.yaml",
            "--",
            "sh",
            "-c",
            &shell,
            "sh",
            "{}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (words, reader) = wait_ready(&mut child);
    let shell_pid = words[0].parse::<u32>().expect("pid");
    (child, shell_pid, PathBuf::from(&words[1]), reader)
}

/// The argv of a running process, as `ps` shows it.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// A shell that traps SIGTERM (writing `$DB_PASSWORD` to `$MARK`) and waits, after
/// printing `ready`, its pid and `extra`.
fn trapping_shell(extra: &str) -> String {
    format!(
        "trap 'printf %s \"$DB_PASSWORD\" > \"$MARK\"; kill $! 2>/dev/null; exit 7' TERM; \
         sleep 60 & printf 'ready %s %s\\n' $$ {extra}; wait"
    )
}

#[test]
fn sigterm_reaches_the_child_and_no_argv_holds_a_secret() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let mark = sb.path("mark");
    let mut child = sb
        .sealed()
        .env("MARK", &mark)
        .args([
            "exec",
            "-f",
            "app.yaml",
            "--",
            "sh",
            "-c",
            &trapping_shell(""),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (words, _reader) = wait_ready(&mut child);
    assert_eq!(words[0], child.id().to_string());
    let argv = cmdline(child.id());
    assert!(argv.contains("sh -c"), "{argv}");
    assert!(!argv.contains(SECRET));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(7));
    assert_eq!(std::fs::read_to_string(&mark).expect("marker"), SECRET);
}

#[test]
fn file_arg_gives_a_private_file_removed_after_exit() {
    let sb = Sandbox::new();
    let plain = "# config\ndb:\n  password: s3cr3t-Value-4217   # keep me\n";
    sb.encrypt("config.enc.yaml", plain);
    let script = "p=$1; d=$(dirname \"$p\"); printf '%s\\n%s\\n%s\\n%s\\n' \"$p\" \"$CFG\" \
                  $(stat -c %a \"$p\") $(stat -c %a \"$d\"); cat \"$p\"; exit 3";
    let run = sb.exec(&[
        "--file-arg",
        "config.enc.yaml",
        "--file-arg-var",
        "CFG",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        "{}",
    ]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let mut lines = run.stdout.splitn(5, '\n');
    let path = PathBuf::from(lines.next().expect("path"));
    assert_eq!(lines.next(), Some(path.to_str().expect("utf-8")));
    assert_eq!(lines.next(), Some("600"));
    assert_eq!(lines.next(), Some("700"));
    assert_eq!(lines.next(), Some(plain), "byte for byte");
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("config.yaml")
    );
    assert!(!path.exists(), "file removed");
    assert!(!path.parent().expect("dir").exists(), "directory removed");
}

#[test]
fn file_arg_uses_xdg_runtime_dir_when_set() {
    let sb = Sandbox::new();
    sb.encrypt("c.yaml", "a: 1\n");
    let runtime = sb.path("runtime");
    std::fs::create_dir(&runtime).expect("mkdir");
    let out = sb
        .sealed()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args([
            "exec",
            "--file-arg",
            "c.yaml",
            "--",
            "sh",
            "-c",
            "dirname \"$(dirname \"$1\")\"",
            "sh",
            "{}",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        runtime.to_str().expect("utf-8")
    );
    assert_eq!(
        std::fs::read_dir(&runtime).expect("ls").count(),
        0,
        "cleaned up"
    );
}

#[test]
fn file_arg_fifo_is_read_once_and_never_a_file() {
    let sb = Sandbox::new();
    let plain = "{\"password\": \"s3cr3t-Value-4217\"}\n";
    sb.encrypt("c.json", plain);
    let mut child = sb
        .sealed()
        .args([
            "exec",
            "--file-arg",
            "c.json",
            "--fifo",
            "--",
            "sh",
            "-c",
            "printf 'ready %s\\n' \"$1\"; read line; cat \"$1\"",
            "sh",
            "{}",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (words, mut reader) = wait_ready(&mut child);
    let path = PathBuf::from(&words[0]);
    let meta = std::fs::metadata(&path).expect("pipe exists");
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    drop(child.stdin.take()); // let the child go on
    let mut rest = String::new();
    reader.read_to_string(&mut rest).expect("read");
    assert!(child.wait().expect("wait").success());
    assert_eq!(rest, plain);
    assert!(!path.parent().expect("dir").exists());
}

#[test]
fn file_arg_forwards_sigterm_and_cleans_up() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let mark = sb.path("mark");
    let mut cmd = sb.sealed();
    cmd.env("MARK", &mark);
    let (mut child, shell_pid, path, _reader) = start_file_arg_shell(cmd, &["-f", "app.yaml"]);
    assert_ne!(shell_pid, child.id(), "sealed stays the parent");
    assert!(path.is_file());
    for pid in [child.id(), shell_pid] {
        let argv = cmdline(pid);
        assert!(!argv.is_empty() && !argv.contains(SECRET), "{argv}");
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(7), "the child's status");
    assert_eq!(std::fs::read_to_string(&mark).expect("marker"), SECRET);
    assert!(!path.exists() && !path.parent().expect("dir").exists());
}

/// A SIGKILLed `sealed exec --file-arg` cannot remove its directory (which holds the
/// value file); the next `--file-arg` run in the same runtime directory does.
#[test]
fn file_arg_directory_of_a_killed_run_is_removed_by_the_next_run() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let runtime = sb.path("runtime");
    std::fs::create_dir(&runtime).expect("mkdir");
    let mut cmd = sb.sealed();
    cmd.env("XDG_RUNTIME_DIR", &runtime)
        .env("MARK", sb.path("mark"));
    let (mut child, shell_pid, path, _reader) = start_file_arg_shell(cmd, &[]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("kill sealed");
    child.wait().expect("reap");
    kill(Pid::from_raw(shell_pid as i32), Signal::SIGKILL).expect("kill the orphaned child");
    assert!(path.is_file(), "the killed run left its value file");

    let out = sb
        .sealed()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["exec", "--file-arg", "app.yaml", "--", "true", "{}"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(!path.exists(), "the stale value file is gone");
    assert_eq!(
        std::fs::read_dir(&runtime).expect("ls").count(),
        0,
        "nothing left in the runtime directory"
    );
}

#[test]
fn file_arg_child_killed_by_a_signal_gives_128_plus_n() {
    let sb = Sandbox::new();
    sb.encrypt("c.yaml", "a: 1\n");
    let mut child = sb
        .sealed()
        .args([
            "exec",
            "--file-arg",
            "c.yaml",
            "--",
            "sh",
            "-c",
            "printf 'ready %s\\n' \"$1\"; exec sleep 60",
            "sh",
            "{}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (words, _reader) = wait_ready(&mut child);
    let path = PathBuf::from(&words[0]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(128 + Signal::SIGHUP as i32));
    assert!(!path.parent().expect("dir").exists());
}

/// Runs `sealed exec ARGS -- sh -c 'touch started'` and checks the command never ran.
fn refuses_to_start(sb: &Sandbox, args: &[&str], code: i32, msg: &str) {
    let started = sb.path("started");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "sh", "-c", "touch started"]);
    sb.exec(&all).fails(code, msg);
    assert!(!started.exists(), "the command was started");
}

#[test]
fn collisions_are_errors_naming_both_paths() {
    let sb = Sandbox::new();
    sb.encrypt(
        "c.yaml",
        "db:\n  password: s3cr3t-Value-4217\ndb_password: other\n",
    );
    refuses_to_start(
        &sb,
        &["-f", "c.yaml"],
        1,
        "sealed: c.yaml: 'db.password' and 'db_password' both become the variable DB_PASSWORD",
    );
}

#[test]
fn bad_files_keep_the_command_from_starting() {
    let sb = Sandbox::new();
    sb.encrypt("good.env", "TOKEN=s3cr3t-Value-4217\n");
    refuses_to_start(
        &sb,
        &["-f", "good.env", "-f", "missing.env"],
        2,
        "missing.env: cannot read",
    );
    refuses_to_start(&sb, &[], 2, ".env: cannot read");
    std::fs::write(sb.path("plain.env"), "TOKEN=x\n").expect("write");
    refuses_to_start(
        &sb,
        &["-f", "plain.env"],
        1,
        "plain.env: the file is not encrypted",
    );

    // Encrypted for someone else.
    let other = Sandbox::new();
    let theirs = other.encrypt("theirs.env", "TOKEN=s3cr3t-Value-4217\n");
    std::fs::copy(&theirs, sb.path("theirs.env")).expect("copy");
    refuses_to_start(
        &sb,
        &["-f", "theirs.env"],
        128,
        "theirs.env: no identity opens this file",
    );

    // Tampered: an unencrypted value changed.
    let enc = sb.encrypt("t.yaml", "a: s3cr3t-Value-4217\nnote_unencrypted: hello\n");
    let text = std::fs::read_to_string(&enc).expect("read");
    std::fs::write(&enc, text.replace("hello", "hullo")).expect("write");
    refuses_to_start(&sb, &["-f", "t.yaml"], 51, "t.yaml: MAC mismatch");

    // A file that is fine and a --file-arg that is not.
    refuses_to_start(
        &sb,
        &[
            "-f",
            "good.env",
            "--file-arg",
            "t.yaml",
            "--file-arg-var",
            "P",
        ],
        51,
        "t.yaml: MAC mismatch",
    );
}

#[test]
fn missing_or_unknown_commands() {
    let sb = Sandbox::new();
    sb.encrypt(".env", "A=1\n");
    sb.exec(&["--", "no-such-command-for-sealed"]).fails(
        127,
        "sealed: cannot run no-such-command-for-sealed: command not found",
    );
    std::fs::write(sb.path("not-executable"), "#!/bin/sh\n").expect("write");
    sb.exec(&["--", "./not-executable"])
        .fails(126, "cannot run ./not-executable: permission denied");
    let run = sb.exec(&[]);
    assert_eq!(run.code, Some(2), "clap usage error");
    assert!(run.stderr.contains("COMMAND"));
    sb.exec(&["--file-arg", ".env", "--", "cat"])
        .fails(8, "put {} in the command");
}

#[test]
fn nul_bytes_cannot_be_exported() {
    let sb = Sandbox::new();
    sb.encrypt("n.yaml", "a: \"x\\0y\"\n");
    refuses_to_start(
        &sb,
        &["-f", "n.yaml"],
        1,
        "the value at 'a' contains a NUL byte",
    );
}

/// The `sops` binary, or `None` (with a notice) when it is not installed; with
/// `SEALED_REQUIRE_PEERS=1` a missing peer fails the test.
fn sops() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("sops"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("SEALED_REQUIRE_PEERS").is_none(),
            "sops is required (SEALED_REQUIRE_PEERS is set) but not on PATH"
        );
        eprintln!("skipped: sops not found on PATH");
    }
    found
}

#[test]
fn same_environment_as_sops_exec_env_for_a_sops_written_file() {
    let Some(sops) = sops() else { return };
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sops-fixtures/generated-sops-3.11.0");
    if !fixtures.is_dir() {
        eprintln!("skipped: {} not found", fixtures.display());
        return;
    }
    let names = [
        "DB_USER",
        "DB_PASSWORD",
        "MULTI",
        "PORT",
        "PUBLIC_unencrypted",
    ];
    let script = printer(&names);
    let keys = fixtures.join("keys.txt");
    let file = fixtures.join("secrets.enc.env");
    let theirs = Command::new(sops)
        .env("SOPS_AGE_KEY_FILE", &keys)
        .args(["exec-env"])
        .arg(&file)
        .arg(&script)
        .output()
        .expect("run sops");
    assert!(
        theirs.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let ours = Command::new(bin())
        .env("SOPS_AGE_KEY_FILE", &keys)
        .env_remove("CI")
        .args(["exec", "-f"])
        .arg(&file)
        .args(["--", "sh", "-c", &script])
        .output()
        .expect("run sealed");
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
}

#[test]
fn help_documents_names_and_precedence() {
    let out = Command::new(bin())
        .args(["exec", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "DB_PASSWORD",
        "HOSTS_0",
        "later files win",
        "--preserve-env",
        "sops exec-env",
        "128+N",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}");
    }
}
