//! `SOPS_AGE_KEY_CMD` and `SOPS_AGE_SSH_PRIVATE_KEY_CMD` as sops 3.12+ runs them: the
//! entry's recipient in `SOPS_AGE_RECIPIENT`, run only when an entry needs them, a failure
//! in one line with sops's exit code (128), and the same files opened by the real sops.

mod common;
use common::*;
use std::path::Path;

const PLAIN: &str = "api_key: s3cr3t-value-42\n";

/// A script that records `SOPS_AGE_RECIPIENT` (or `unset`) in `log`, one line per run,
/// then prints `key`.
fn recording_cmd(dir: &Path, log: &Path, key: &Path) -> String {
    let script = dir.join("keycmd.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"${{SOPS_AGE_RECIPIENT-unset}}\" >> '{}'\ncat '{}'\n",
            log.display(),
            key.display()
        ),
    )
    .unwrap();
    format!("sh '{}'", script.display())
}

/// Whether this sops knows `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (3.12 and later).
fn sops_has_ssh_key_cmd(sops: &Path) -> bool {
    let out = std::process::Command::new(sops)
        .args(["--version", "--disable-version-check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let version: Vec<u32> = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    version.as_slice() >= [3, 12].as_slice()
}

fn runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_key_command_gets_the_entrys_recipient_and_runs_only_when_needed() {
    let s = Sandbox::new();
    let other = keygen_in(s.dir.path(), "other.txt");
    // Two entries: a stranger's first, then ours.
    std::fs::write(s.path("plain.yaml"), PLAIN).unwrap();
    let both = format!("{},{}", other.public, s.recipient);
    s.run(&["encrypt", "--age", &both, "plain.yaml", "-o", "enc.yaml"])
        .ok();
    let log = s.path("runs.log");
    let cmd = recording_cmd(s.dir.path(), &log, &s.path("key.txt"));

    // With the key already found in SOPS_AGE_KEY_FILE, the command never runs.
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), PLAIN);
    assert!(runs(&log).is_empty(), "ran: {:?}", runs(&log));

    // Encrypting never needs it either.
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["encrypt", "--age", &s.recipient, "plain.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(runs(&log).is_empty());

    // Only the command: it runs once per entry tried, told whose key is wanted.
    let out = s
        .sealed()
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), PLAIN);
    let seen = runs(&log);
    assert!(seen.contains(&s.recipient), "{seen:?}");
    assert!(
        seen.len() <= 2 && seen.iter().all(|r| r.starts_with("age1")),
        "{seen:?}"
    );

    // An editor's label that is not a public key is never passed on (the variable is unset).
    let text = std::fs::read_to_string(s.path("enc.yaml")).unwrap();
    let forged = text.replace(&s.recipient, "$(touch pwned)");
    assert_ne!(forged, text);
    std::fs::write(s.path("forged.yaml"), forged).unwrap();
    std::fs::remove_file(&log).unwrap();
    let out = s
        .sealed()
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["decrypt", "forged.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(runs(&log).contains(&"unset".to_owned()), "{:?}", runs(&log));
    assert!(!s.path("pwned").exists());

    // sops passes the same variable: the same script opens the file sealed wrote.
    let Some(sops) = peer("sops") else { return };
    std::fs::remove_file(&log).unwrap();
    let out = std::process::Command::new(sops)
        .current_dir(s.dir.path())
        .env("HOME", s.dir.path())
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY")
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), PLAIN);
    assert!(runs(&log).contains(&s.recipient), "{:?}", runs(&log));
}

#[test]
fn a_failing_key_command_is_one_line_with_sops_exit_code() {
    let s = Sandbox::new();
    let enc = s.encrypt("enc.yaml", PLAIN);
    let enc = enc.to_str().unwrap();
    for (var, cmd) in [
        ("SOPS_AGE_KEY_CMD", "echo AGE-SECRET-KEY-1NOTAKEY; exit 3"),
        ("SOPS_AGE_KEY_CMD", "echo not-a-key"),
        ("SOPS_AGE_SSH_PRIVATE_KEY_CMD", "exit 4"),
    ] {
        let run = |c: &mut std::process::Command| {
            let out = c.output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        // The ssh command runs only for an entry with an ssh stanza: for this age file it
        // is never needed, so there is nothing to fail.
        let (code, stdout, stderr) = run(s
            .sealed()
            .env_remove("SOPS_AGE_KEY_FILE")
            .env(var, cmd)
            .args(["decrypt", enc]));
        assert_eq!(code, Some(128), "{var}={cmd}: {stderr}");
        assert_eq!(stdout, "");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("NOTAKEY"), "{stderr}");
        if var == "SOPS_AGE_KEY_CMD" {
            assert!(stderr.contains("SOPS_AGE_KEY_CMD"), "{stderr}");
        } else {
            assert!(!stderr.contains("the command failed"), "{stderr}");
        }
    }
}

#[test]
fn the_ssh_key_command_opens_files_of_sealed_and_sops() {
    let s = Sandbox::new();
    let key = s.path("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "t", "-f"])
        .arg(&key)
        .status();
    if !matches!(status, Ok(st) if st.success()) {
        assert!(!peers_required(), "ssh-keygen required");
        eprintln!("skipping: ssh-keygen is not available");
        return;
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let public = public.trim();
    std::fs::write(s.path("plain.yaml"), PLAIN).unwrap();
    s.run(&["encrypt", "--age", public, "plain.yaml", "-o", "enc.yaml"])
        .ok();
    let log = s.path("runs.log");
    let cmd = recording_cmd(s.dir.path(), &log, &key);
    let out = s
        .sealed()
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_SSH_PRIVATE_KEY_CMD", &cmd)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), PLAIN);
    assert_eq!(runs(&log), [public.to_owned()]);

    // A passphrase-protected key from the command: refused in one line, as sops does.
    let locked = s.path("locked");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", "pw", "-f"])
        .arg(&key)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    std::fs::copy(&key, &locked).unwrap();
    let out = s
        .sealed()
        .env_remove("SOPS_AGE_KEY_FILE")
        .env(
            "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
            format!("cat '{}'", locked.display()),
        )
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("SOPS_AGE_SSH_PRIVATE_KEY_CMD") && err.contains("passphrase-protected"),
        "{err}"
    );

    // sops encrypts to the same ssh key; sealed's command opens it, and sops opens sealed's.
    let Some(sops) = peer("sops") else { return };
    let plain_key = s.path("plain_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "pw", "-N", "", "-f"])
        .arg(&key)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    std::fs::copy(&key, &plain_key).unwrap();
    let cmd = format!("cat '{}'", plain_key.display());
    let out = std::process::Command::new(&sops)
        .current_dir(s.dir.path())
        .env("HOME", s.dir.path())
        .args(["encrypt", "--age", public, "plain.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(s.path("sops.yaml"), &out.stdout).unwrap();
    let out = s
        .sealed()
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_SSH_PRIVATE_KEY_CMD", &cmd)
        .args(["decrypt", "sops.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), PLAIN);
    if !sops_has_ssh_key_cmd(&sops) {
        eprintln!("skipping sops decrypting with SOPS_AGE_SSH_PRIVATE_KEY_CMD: sops before 3.12");
        return;
    }
    let out = std::process::Command::new(&sops)
        .current_dir(s.dir.path())
        .env("HOME", s.dir.path())
        .env("SOPS_AGE_SSH_PRIVATE_KEY_CMD", &cmd)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), PLAIN);
}
