//! `sealed groups add|delete` (sops's `groups`): the data key split anew, the values kept,
//! sops opening sealed's result and sealed opening sops's, Shamir thresholds, and
//! recipients named only in a tampered file never getting a share.

mod common;
use common::*;
use std::path::Path;

// Four-space indentation: what sops re-emits, so that its output compares equal.
const PLAIN: &str = "db:\n    password: hunter2-groups\nport: 5432\n";

struct Team {
    s: Sandbox,
    b: Key,
    /// A and B's identities in one file.
    both: std::path::PathBuf,
}

fn team() -> Team {
    let s = Sandbox::new();
    let b = keygen_in(s.dir.path(), "b.txt");
    let both = s.path("both.txt");
    let text = std::fs::read_to_string(s.path("key.txt")).unwrap()
        + &std::fs::read_to_string(&b.path).unwrap();
    write_private(&both, text.as_bytes());
    // The rule names A and B (B in a second group is what `groups add` makes).
    std::fs::write(
        s.path(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: app\\.yaml$\n    key_groups:\n      - age:\n          - {}\n",
            s.recipient
        ),
    )
    .unwrap();
    std::fs::write(s.path("app.yaml"), PLAIN).unwrap();
    s.run(&["encrypt", "-i", "app.yaml"]).ok();
    Team { s, b, both }
}

/// `sealed decrypt FILE` with the given identity file: (exit code, stdout).
fn sealed_decrypt(s: &Sandbox, file: &str, key: &Path) -> (Option<i32>, String) {
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_FILE", key)
        .args(["decrypt", file])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn sops_decrypt(sops: &Path, s: &Sandbox, file: &str, key: &Path) -> (bool, String) {
    let out = std::process::Command::new(sops)
        .current_dir(s.dir.path())
        .env("HOME", s.dir.path())
        .env("SOPS_AGE_KEY_FILE", key)
        .args(["decrypt", file])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn values_of(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("ENC[AES256_GCM"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn groups_add_and_delete_resplit_the_same_key_for_sealed_and_sops() {
    let t = team();
    let s = &t.s;
    let before = std::fs::read_to_string(s.path("app.yaml")).unwrap();

    // Without -i the result goes to stdout and the file stays as it was.
    let out = s
        .sealed()
        .args(["groups", "add", "--file", "app.yaml", "--age", &t.b.public])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains(&t.b.public));
    assert_eq!(std::fs::read_to_string(s.path("app.yaml")).unwrap(), before);

    // In place: two groups, both needed (no threshold given).
    let out = s
        .sealed()
        .args([
            "groups",
            "add",
            "--file",
            "app.yaml",
            "-i",
            "--age",
            &t.b.public,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    assert_eq!(values_of(&after), values_of(&before), "value tokens kept");
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &t.both),
        (Some(0), PLAIN.into())
    );
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &s.path("key.txt")).0,
        Some(128)
    );
    assert_eq!(sealed_decrypt(s, "app.yaml", &t.b.path).0, Some(128));
    let sops = peer("sops");
    if let Some(sops) = &sops {
        assert_eq!(
            sops_decrypt(sops, s, "app.yaml", &t.both),
            (true, PLAIN.into())
        );
        assert!(!sops_decrypt(sops, s, "app.yaml", &t.b.path).0);
    }

    // Delete group 0 (A's). B is named by the command line that added it, not by
    // .sops.yaml: the file alone cannot say B is genuine, so sealed refuses to keep B's
    // group without --keep-file-recipients, and says so.
    let now = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &t.both)
        .args(["groups", "delete", "--file", "app.yaml", "-i", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(111), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--keep-file-recipients") && err.contains(&t.b.public),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(s.path("app.yaml")).unwrap(), now);
    // The fix, as suggested: B alone opens it, A no longer.
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &t.both)
        .args(["groups", "delete", "--file", "app.yaml", "-i", "0"])
        .arg("--keep-file-recipients")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &t.b.path),
        (Some(0), PLAIN.into())
    );
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &s.path("key.txt")).0,
        Some(128)
    );
    if let Some(sops) = &sops {
        assert_eq!(
            sops_decrypt(sops, s, "app.yaml", &t.b.path),
            (true, PLAIN.into())
        );
        assert!(!sops_decrypt(sops, s, "app.yaml", &s.path("key.txt")).0);
    }

    // A group index that does not exist: one line, nothing written.
    let now = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &t.both)
        .args(["groups", "delete", "--file", "app.yaml", "-i", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert_eq!(std::fs::read_to_string(s.path("app.yaml")).unwrap(), now);
}

#[test]
fn two_of_three_groups_and_a_threshold_a_delete_cannot_reach() {
    let t = team();
    let s = &t.s;
    let c = keygen_in(s.dir.path(), "c.txt");
    for who in [&t.b.public, &c.public] {
        let out = s
            .sealed()
            .env("SOPS_AGE_KEY_FILE", &t.both)
            .args(["groups", "add", "--file", "app.yaml", "-i", "--age", who])
            .args(["--shamir-secret-sharing-threshold", "2"])
            // B, added by the first run, is named only in the file.
            .arg("--keep-file-recipients")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // 2 of 3: A and B, or B and C, open it; any one alone does not.
    let text = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    assert!(text.contains("shamir_threshold: 2"), "{text}");
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &t.both),
        (Some(0), PLAIN.into())
    );
    assert_eq!(sealed_decrypt(s, "app.yaml", &c.path).0, Some(128));
    if let Some(sops) = peer("sops") {
        assert_eq!(
            sops_decrypt(&sops, s, "app.yaml", &t.both),
            (true, PLAIN.into())
        );
        assert!(!sops_decrypt(&sops, s, "app.yaml", &c.path).0);
    }
    // Deleting a group to 2 with threshold 3 is refused as sops refuses it.
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &t.both)
        .args(["groups", "delete", "--file", "app.yaml", "-i", "2"])
        .args(["--shamir-secret-sharing-threshold", "3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Shamir threshold impossible to satisfy"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(s.path("app.yaml")).unwrap(), text);
}

#[test]
fn sops_groups_output_opens_in_sealed_and_sealed_groups_works_on_sops_files() {
    let Some(sops) = peer("sops") else { return };
    let t = team();
    let s = &t.s;
    // sops adds B's group to sealed's file: sealed opens it with both keys.
    let out = std::process::Command::new(&sops)
        .current_dir(s.dir.path())
        .env("HOME", s.dir.path())
        .env("SOPS_AGE_KEY_FILE", s.path("key.txt"))
        .args([
            "groups",
            "add",
            "--file",
            "app.yaml",
            "--in-place",
            "--age",
            &t.b.public,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &t.both),
        (Some(0), PLAIN.into())
    );
    // sealed deletes group 1 of sops's file (B is named only in the file, not by the rule:
    // dropping its group is fine), and sops opens the result with A alone.
    let out = s
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &t.both)
        .args(["groups", "delete", "--file", "app.yaml", "-i", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sops_decrypt(&sops, s, "app.yaml", &s.path("key.txt")),
        (true, PLAIN.into())
    );
}

#[test]
fn a_recipient_added_to_the_file_by_an_editor_never_gets_a_share() {
    let t = team();
    let s = &t.s;
    let mallory = keygen_in(s.dir.path(), "mallory.txt");
    // The editor appends their own recipient to group 0 (labels are not authenticated).
    let text = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    // A's whole entry (label and enc), copied with Mallory's label.
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.contains(&s.recipient)).unwrap();
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.contains("END AGE ENCRYPTED FILE"))
            .unwrap();
    let entry = lines[start..=end].join("\n");
    let forged = text.replacen(
        &entry,
        &format!("{entry}\n{}", entry.replace(&s.recipient, &mallory.public)),
        1,
    );
    assert_ne!(forged, text);
    std::fs::write(s.path("app.yaml"), &forged).unwrap();
    let out = s
        .sealed()
        .args([
            "groups",
            "add",
            "--file",
            "app.yaml",
            "-i",
            "--age",
            &t.b.public,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("dropped") && err.contains(&mallory.public),
        "{err}"
    );
    let after = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    assert!(!after.contains(&mallory.public), "mallory kept a share");
    // Neither Mallory alone nor Mallory with B can open it.
    let mb = s.path("mb.txt");
    let text = std::fs::read_to_string(&mallory.path).unwrap()
        + &std::fs::read_to_string(&t.b.path).unwrap();
    write_private(&mb, text.as_bytes());
    assert_eq!(sealed_decrypt(s, "app.yaml", &mb).0, Some(128));
    assert_eq!(
        sealed_decrypt(s, "app.yaml", &t.both),
        (Some(0), PLAIN.into())
    );

    // A tampered value: groups add keeps the value tokens as they are (as sops does), so
    // the change is still found by decrypt afterwards: never laundered into a valid file.
    let line = after
        .lines()
        .find(|l| l.contains("password: ENC["))
        .unwrap()
        .to_owned();
    let tampered = after.replace(
        &line,
        &line.replacen("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA", 1),
    );
    std::fs::write(s.path("app.yaml"), &tampered).unwrap();
    let c = keygen_in(s.dir.path(), "c.txt");
    let add_c = |s: &Sandbox, key: &Path| {
        s.sealed()
            .env("SOPS_AGE_KEY_FILE", key)
            .args([
                "groups", "add", "--file", "app.yaml", "-i", "--age", &c.public,
            ])
            .arg("--keep-file-recipients")
            .output()
            .unwrap()
    };
    let out = add_c(s, &t.both);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, stdout) = sealed_decrypt(s, "app.yaml", &t.both);
    assert_ne!(code, Some(0));
    assert_eq!(stdout, "");

    // A tampered MAC: the unwrapped key does not match it; one line, nothing written.
    let text = std::fs::read_to_string(s.path("app.yaml")).unwrap();
    let mac = text
        .lines()
        .find(|l| l.contains("mac: ENC["))
        .unwrap()
        .to_owned();
    let tampered = text.replace(
        &mac,
        &mac.replacen("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA", 1),
    );
    std::fs::write(s.path("app.yaml"), &tampered).unwrap();
    let all = s.path("all.txt");
    let keys =
        std::fs::read_to_string(&t.both).unwrap() + &std::fs::read_to_string(&c.path).unwrap();
    write_private(&all, keys.as_bytes());
    let out = add_c(s, &all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(51), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("hunter2"));
    assert_eq!(
        std::fs::read_to_string(s.path("app.yaml")).unwrap(),
        tampered
    );
}

/// The git filter's layout (`sealed git init`: plaintext work tree, ciphertext in the
/// index): `groups add -i` re-splits the index's blob and stages it; the work tree stays
/// in clear.
#[test]
fn groups_add_in_place_updates_the_index_blob_when_the_work_tree_is_plaintext() {
    if peer("git").is_none() {
        return;
    }
    let t = team();
    let s = &t.s;
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(s.dir.path())
            .env("HOME", s.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("SOPS_AGE_KEY_FILE", s.path("key.txt"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", ".sops.yaml", "app.yaml"]);
    git(&["commit", "-q", "-m", "init"]);
    let out = s.sealed().args(["git", "init"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(s.path("app.yaml")).unwrap(), PLAIN);

    let out = s
        .sealed()
        .args([
            "groups",
            "add",
            "--file",
            "app.yaml",
            "-i",
            "--age",
            &t.b.public,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(s.path("app.yaml")).unwrap(), PLAIN);
    let staged = git(&["show", ":app.yaml"]);
    assert!(staged.contains(&t.b.public), "{staged}");
    std::fs::write(s.path("probe.yaml"), &staged).unwrap();
    assert_eq!(
        sealed_decrypt(s, "probe.yaml", &t.both),
        (Some(0), PLAIN.into())
    );
    assert_eq!(
        sealed_decrypt(s, "probe.yaml", &s.path("key.txt")).0,
        Some(128)
    );
}
