//! Issue 13, reproduction 9 and part of item 10: concurrent writers of one file serialize
//! (no lost update, no stale lock after a crash); in-place writes keep the file's owner and
//! group; an endless input is cut at a documented limit with one clear line.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Sandbox;

const PLAIN: &str = "base: kept\n";

fn decrypted(sb: &Sandbox, name: &str) -> String {
    let run = sb.run(&["decrypt", name]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.stdout
}

/// `sealed set` of `count` distinct keys named `{prefix}{i}`, one process after another.
fn set_many(sb: &Sandbox, name: &str, prefix: &str, count: usize) -> Vec<String> {
    let mut failures = Vec::new();
    for i in 0..count {
        let path = format!("[\"{prefix}{i}\"]");
        let value = format!("\"v{prefix}{i}\"");
        let out = sb
            .sealed()
            .args(["set", name, &path, &value])
            .output()
            .unwrap();
        if !out.status.success() {
            failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    failures
}

#[test]
fn concurrent_sets_on_one_file_all_land() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", PLAIN);
    let writers = ["a", "b", "c", "d"];
    let per = 6;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = writers
            .iter()
            .map(|w| s.spawn(|| set_many(&sb, "s.yaml", w, per)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{failures:?}");
    let plain = decrypted(&sb, "s.yaml");
    assert!(plain.contains("base: kept"), "{plain}");
    let mut lost = Vec::new();
    for w in writers {
        for i in 0..per {
            if !plain.contains(&format!("{w}{i}: v{w}{i}")) {
                lost.push(format!("{w}{i}"));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "lost updates: {lost:?} of {}",
        writers.len() * per
    );
}

#[test]
fn sets_racing_rotate_all_land() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", PLAIN);
    let r = sb.recipient.clone();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles = [
            s.spawn(|| set_many(&sb, "s.yaml", "a", 5)),
            s.spawn(|| set_many(&sb, "s.yaml", "b", 5)),
            s.spawn(|| {
                let mut failures = Vec::new();
                for _ in 0..4 {
                    let out = sb
                        .sealed()
                        .args(["rotate", "--age", r.as_str(), "s.yaml"])
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                    }
                }
                failures
            }),
        ];
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{failures:?}");
    let plain = decrypted(&sb, "s.yaml");
    for w in ["a", "b"] {
        for i in 0..5 {
            assert!(plain.contains(&format!("{w}{i}: v{w}{i}")), "{w}{i} lost");
        }
    }
}

/// `sealed edit` holds the lock while the editor runs; a killed `sealed edit` leaves no
/// lock behind (the kernel drops a dead process's `flock`).
#[test]
fn a_killed_writer_leaves_no_lock_behind() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", PLAIN);
    let fifo = sb.path("ready");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // The editor says it runs (with its pid), then waits for as long as it is left.
    let editor = sb.path("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\necho $$ > '{}'\nexec sleep 600\n",
            fifo.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut edit = sb
        .sealed()
        .env("SOPS_EDITOR", &editor)
        .args(["edit", "s.yaml"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    std::fs::File::open(&fifo)
        .unwrap()
        .read_to_string(&mut pid)
        .unwrap();
    // A `set` now waits, and says so.
    let mut set = sb
        .sealed()
        .args(["set", "s.yaml", "[\"later\"]", "\"done\""])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(set.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("s.yaml: another sealed process is changing it"),
        "{line}"
    );
    // Crash the holder (and its editor): the waiting `set` goes on.
    edit.kill().unwrap();
    edit.wait().unwrap();
    let _ = Command::new("kill").arg(pid.trim()).status();
    let status = set.wait().unwrap();
    assert!(status.success());
    assert!(decrypted(&sb, "s.yaml").contains("later: done"));
    // And a fresh writer does not wait at all.
    let out = common::sealed()
        .current_dir(sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", sb.path("key.txt"))
        .args(["set", "s.yaml", "[\"again\"]", "1"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn in_place_writes_keep_owner_and_group() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: only root can give a file to another user (CI runs as root)");
        return;
    }
    let sb = Sandbox::new();
    let (uid, gid) = (4242, 4343);
    let file = sb.path("s.yaml");
    std::fs::write(&file, "password: fake-owned-1\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&file, Some(uid), Some(gid)).unwrap();
    let r = sb.recipient.clone();
    for args in [
        &["encrypt", "-i", "--age", r.as_str(), "s.yaml"][..],
        &["set", "s.yaml", "[\"b\"]", "2"][..],
        &["rotate", "--age", r.as_str(), "s.yaml"][..],
        &["decrypt", "-i", "s.yaml"][..],
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{args:?}");
        assert_eq!(meta.mode() & 0o7777, 0o640, "{args:?}");
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "password: fake-owned-1\nb: 2\n"
    );
}

/// Runs `sealed encrypt --input-type yaml -` on about `len` bytes of `  y` lines (a bounded
/// `yes`) under one key.
fn encrypt_stream(sb: &Sandbox, limit: Option<&str>, len: usize) -> std::process::Output {
    let mut cmd = sb.sealed();
    cmd.args([
        "encrypt",
        "--input-type",
        "yaml",
        "--age",
        &sb.recipient,
        "-",
    ]);
    if let Some(l) = limit {
        cmd.env("SEALED_MAX_INPUT", l);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // One mapping whose value is a block of `y` lines.
        let _ = stdin.write_all(b"k: |\n");
        let chunk = "  y\n".repeat(16 * 1024);
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            // sealed stops reading at the limit: a broken pipe is expected then.
            if stdin.write_all(&chunk.as_bytes()[..n]).is_err() {
                break;
            }
            left -= n;
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn an_endless_input_is_cut_at_the_limit_with_one_line() {
    let sb = Sandbox::new();
    let out = encrypt_stream(&sb, Some("1M"), 3 << 20);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("<stdin>: the input is larger than 1 MiB")
            && err.contains("SEALED_MAX_INPUT=4M"),
        "{err}"
    );
    // The suggested fix works.
    let out = encrypt_stream(&sb, Some("4M"), 3 << 20);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ENC[AES256_GCM"));
    // A named file (a FIFO, /dev/zero…) is bounded the same way.
    std::fs::write(sb.path("big.yaml"), "y\n".repeat(600 * 1024)).unwrap();
    let run = sb
        .sealed()
        .env("SEALED_MAX_INPUT", "1M")
        .args(["encrypt", "--age", &sb.recipient, "big.yaml"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("big.yaml: the input is larger"));
    // A limit that is not a size is refused, not ignored.
    let run = sb
        .sealed()
        .env("SEALED_MAX_INPUT", "lots")
        .args(["encrypt", "--age", &sb.recipient, "big.yaml"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("SEALED_MAX_INPUT must be a size"));
}

#[test]
fn the_default_limit_lets_ordinary_inputs_through() {
    let sb = Sandbox::new();
    let out = encrypt_stream(&sb, None, 5 << 20);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
