//! `sealed exec --mask` through the real binary and real child processes: values split
//! across writes, lines and prompts that come slowly (handshakes through the child's
//! stdin, no sleeps), standard error, exit statuses, a forwarded signal, the `CI` default
//! and `--no-mask`, in both storage modes (encrypted work tree, git filter plaintext).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;

use common::git::GitRepo;
use common::{SANDBOX_SECRET as SECRET, Sandbox};

const YAML: &str = "\
db:
  password: s3cr3t-Value-4217
  port: 5432
  user: abc
token: \"quote\\\"and\\\\slash-99\"
cert: |
  first-line-of-cert
  second-line-of-cert
";

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    sb
}

/// `sealed exec EXTRA -f app.yaml -- sh -c SCRIPT`, stdin and stdout piped.
fn start(sb: &Sandbox, extra: &[&str], script: &str) -> Child {
    sb.sealed()
        .arg("exec")
        .args(extra)
        .args(["-f", "app.yaml", "--", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sealed")
}

fn run(sb: &Sandbox, extra: &[&str], script: &str) -> Output {
    start(sb, extra, script)
        .wait_with_output()
        .expect("wait for sealed")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Reads exactly `n` bytes of the child's output.
fn read_n(r: &mut impl Read, n: usize) -> String {
    let mut buf = vec![0; n];
    r.read_exact(&mut buf).expect("read");
    text(&buf)
}

#[test]
fn values_on_stdout_and_stderr_are_masked_and_the_rest_is_kept() {
    let sb = sandbox();
    let out = run(
        &sb,
        &["--mask"],
        "printf 'pw=%s port=%s user=%s\\n' \"$DB_PASSWORD\" \"$DB_PORT\" \"$DB_USER\"; \
         printf 'err %s\\n' \"$DB_PASSWORD\" >&2; \
         printf '%s\\n' \"$CERT\"; \
         printf '{\"t\":\"quote\\\\\"and\\\\\\\\slash-99\"} %s\\n' \"$TOKEN\"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // 5432 has four bytes: masked; "abc" is shorter than the default minimum of 4.
    assert_eq!(
        text(&out.stdout),
        "pw=***** port=***** user=abc\n*****\n{\"t\":\"*****\"} *****\n"
    );
    assert_eq!(text(&out.stderr), "err *****\n");
    let out = run(
        &sb,
        &["--mask", "--mask-min-len", "6"],
        "printf '%s %s\\n' \"$DB_PORT\" \"$DB_PASSWORD\"",
    );
    assert_eq!(text(&out.stdout), "5432 *****\n");
}

#[test]
fn a_value_split_across_writes_and_slow_lines_is_masked_and_prompts_are_not_held() {
    let sb = sandbox();
    // The child prints a prompt and half the value, waits for a line on stdin, then
    // prints the rest: sealed must give the prompt at once, and keep the half back.
    let script = "half=${DB_PASSWORD%Value-4217}; rest=${DB_PASSWORD#s3cr3t-}; \
                  printf 'Continue? '; printf '%s' \"$half\"; read a; \
                  printf '%s!\\n' \"$rest\"; printf 'line two\\n'; read b; \
                  printf 'last %s' \"$DB_PASSWORD\"";
    let mut child = start(&sb, &["--mask"], script);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    assert_eq!(read_n(&mut stdout, 10), "Continue? ");
    stdin.write_all(b"y\n").expect("answer");
    let mut line = String::new();
    stdout.read_line(&mut line).expect("line");
    assert_eq!(line, "*****!\n");
    line.clear();
    stdout.read_line(&mut line).expect("line");
    assert_eq!(line, "line two\n");
    stdin.write_all(b"y\n").expect("answer");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest");
    assert_eq!(rest, "last *****");
    assert!(child.wait().expect("wait").success());
}

#[test]
fn exit_status_and_signals_are_the_commands() {
    let sb = sandbox();
    assert_eq!(run(&sb, &["--mask"], "exit 3").status.code(), Some(3));
    assert_eq!(
        run(&sb, &["--mask"], "kill -TERM $$").status.code(),
        Some(128 + 15)
    );
    // SIGUSR1 sent to sealed reaches the command, whose output is still masked.
    let mut child = start(
        &sb,
        &["--mask"],
        "trap 'printf \"got %s\\n\" \"$DB_PASSWORD\"; exit 9' USR1; \
         printf 'ready\\n'; read never",
    );
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("ready");
    assert_eq!(line, "ready\n");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGUSR1).expect("kill");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest");
    // `read` is interrupted only when the trap has run: the shell exits from it.
    drop(child.stdin.take());
    assert_eq!(rest, "got *****\n");
    assert_eq!(child.wait().expect("wait").code(), Some(9));
}

#[test]
fn ci_turns_masking_on_and_no_mask_turns_it_off() {
    let sb = sandbox();
    let script = "printf '%s\\n' \"$DB_PASSWORD\"";
    let with = |env: Option<&str>, extra: &[&str]| {
        let mut c = sb.sealed();
        if let Some(v) = env {
            c.env("CI", v);
        }
        let out = c
            .arg("exec")
            .args(extra)
            .args(["-f", "app.yaml", "--", "sh", "-c", script])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(with(Some("1"), &[]), "*****\n");
    assert_eq!(with(Some("true"), &[]), "*****\n");
    assert_eq!(with(Some("1"), &["--no-mask"]), format!("{SECRET}\n"));
    assert_eq!(with(Some("false"), &[]), format!("{SECRET}\n"));
    assert_eq!(with(None, &[]), format!("{SECRET}\n"));
    assert_eq!(with(None, &["--mask"]), "*****\n");
    let out = sb
        .sealed()
        .args([
            "exec",
            "--mask",
            "--no-mask",
            "-f",
            "app.yaml",
            "--",
            "true",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "clap refuses both");
}

#[test]
fn the_git_filters_plaintext_work_tree_is_masked_too() {
    let Some(r) = GitRepo::new() else { return };
    r.rules(&["^secrets/.*\\.yaml$"]);
    r.write("secrets/app.yaml", YAML);
    let init = r.run(&["git", "init"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    r.write("notes.txt", &format!("copied {SECRET} by mistake\n"));
    assert_eq!(r.read("secrets/app.yaml"), YAML, "plaintext work tree");
    let out = r
        .sealed()
        .env("CI", "1")
        .args([
            "exec",
            "-f",
            "secrets/app.yaml",
            "--",
            "sh",
            "-c",
            "cat notes.txt; printf '%s\\n' \"$DB_PASSWORD\"",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "copied ***** by mistake\n*****\n");
}

#[test]
fn a_large_stream_is_masked_exactly() {
    let sb = sandbox();
    // About 6 MB through `cat`, the value at every alignment of the pipe's buffers (the
    // minimum length keeps the port, 5432, out: the line numbers hold it).
    let mut data = String::new();
    let mut want = String::new();
    for i in 0..200_000 {
        let pad = "x".repeat(i % 7);
        data.push_str(&format!("{pad}{SECRET}{i}\n"));
        want.push_str(&format!("{pad}*****{i}\n"));
    }
    std::fs::write(sb.path("big.txt"), &data).expect("write");
    let out = sb
        .sealed()
        .args([
            "exec",
            "--mask",
            "--mask-min-len",
            "6",
            "-f",
            "app.yaml",
            "--",
            "cat",
            "big.txt",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let got = text(&out.stdout);
    let first = got.bytes().zip(want.bytes()).position(|(a, b)| a != b);
    assert!(
        got == want,
        "masked output differs at {first:?} ({} vs {} bytes)",
        got.len(),
        want.len()
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_command_as_without_mask() {
    let sb = sandbox();
    // `yes` writes forever; `head -n 1` closes the pipe: the command gets SIGPIPE.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' exec --mask -f app.yaml -- sh -c 'yes \"$DB_PASSWORD\"' | head -n 2",
            common::bin().display()
        ))
        .current_dir(sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", sb.path("key.txt"))
        .env("HOME", sb.dir.path())
        .env_remove("CI")
        .output()
        .expect("run");
    assert_eq!(text(&out.stdout), "*****\n*****\n");
}
