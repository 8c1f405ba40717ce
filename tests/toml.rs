//! TOML files through the real binary: encrypt/decrypt byte for byte, `exec`, `--extract`,
//! `--output-type`, `set`/`unset`, tampering refused, both storage modes in a git
//! repository (`encrypt -i` and `sealed git init`'s filter), and the real `sops` refusing
//! sealed's TOML layout rather than misreading it.

mod common;

use common::git::GitRepo;
use common::{SANDBOX_SECRET, Sandbox, peer};

/// Every kind of TOML value, comment and table; the secret is in `[database]`.
fn doc() -> String {
    format!(
        r#"# Service configuration
title = "demo"
port = 8_080
ratio = 1.50
debug = true
started = 1979-05-27 07:32:00Z
day = 1979-05-27
at = 07:32:00

[database]
password = '{SANDBOX_SECRET}'
note = """
two
lines"""
raw = '''C:\path'''
ports = [ 8000, 8001 ] # inline comment
limits = {{ cpu = 2, "mem gb" = 1.5 }}
pool.size = 5

[[servers]]
name = "alpha"

[[servers]]
name = "beta"
"#
    )
}

#[test]
fn toml_files_encrypt_decrypt_exec_extract_and_convert() {
    let sb = Sandbox::new();
    let enc = sb.encrypt("config.toml", &doc());
    let cipher = std::fs::read_to_string(&enc).unwrap();
    assert!(!cipher.contains(SANDBOX_SECRET), "secret in the ciphertext");
    assert!(!cipher.contains("alpha") && !cipher.contains("8_080"));
    assert!(cipher.contains("\n\n[sops]\n") && cipher.contains("type:time]"));
    assert!(cipher.contains("type:int]") && cipher.contains("type:float]"));
    assert!(cipher.contains("type:bool]") && cipher.contains("type:comment]"));
    assert_eq!(sb.run(&["decrypt", "config.toml"]).ok(), doc());

    let env = sb.run(&["exec", "-f", "config.toml", "--", "env"]).ok();
    for line in [
        format!("DATABASE_PASSWORD={SANDBOX_SECRET}"),
        "PORT=8_080".into(),
        "DEBUG=true".into(),
        "DATABASE_PORTS_1=8001".into(),
        "DATABASE_LIMITS_MEM_GB=1.5".into(),
        "DATABASE_POOL_SIZE=5".into(),
        "SERVERS_1_NAME=beta".into(),
        "DAY=1979-05-27".into(),
    ] {
        assert!(env.lines().any(|l| l == line), "exec lacks {line}");
    }
    let one = sb
        .run(&[
            "decrypt",
            "--extract",
            "[\"servers\"][0][\"name\"]",
            "config.toml",
        ])
        .ok();
    assert_eq!(one, "alpha");
    let json = sb
        .run(&["decrypt", "--output-type", "json", "config.toml"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["port"], 8080);
    assert_eq!(v["database"]["note"], "two\nlines");
    assert_eq!(v["database"]["raw"], "C:\\path");
}

#[test]
fn set_and_unset_edit_a_toml_file_in_place() {
    let sb = Sandbox::new();
    sb.encrypt("config.toml", &doc());
    sb.run(&[
        "set",
        "config.toml",
        "[\"database\"][\"password\"]",
        "\"fresh-1\"",
    ])
    .ok();
    sb.run(&["set", "config.toml", "[\"servers\"][1][\"port\"]", "9000"])
        .ok();
    sb.run(&["unset", "config.toml", "[\"debug\"]"]).ok();
    let plain = sb.run(&["decrypt", "config.toml"]).ok();
    let want = doc()
        .replace(&format!("'{SANDBOX_SECRET}'"), "\"fresh-1\"")
        .replace("debug = true\n", "")
        .replace("name = \"beta\"\n", "name = \"beta\"\nport = 9000\n");
    assert_eq!(plain, want);
    sb.run(&["unset", "config.toml", "[\"nothing\"]"])
        .fails(1, "no value at");
}

#[test]
fn mac_only_encrypted_is_refused_for_toml() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("plain.toml"), doc()).unwrap();
    let out = sb.run(&[
        "encrypt",
        "--age",
        &sb.recipient,
        "--mac-only-encrypted",
        "plain.toml",
    ]);
    assert_ne!(out.code, Some(0));
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("plain.toml")
            && out.stderr.contains("mac_only_encrypted cannot be used"),
        "{}",
        out.stderr
    );
}

#[test]
fn tampered_toml_files_are_refused() {
    let sb = Sandbox::new();
    let enc = sb.encrypt("config.toml", &doc());
    let cipher = std::fs::read_to_string(&enc).unwrap();
    let cases = [
        // A clear key added: no token where the layout has a value.
        (
            "added.toml",
            format!("LD_PRELOAD = \"/tmp/x.so\"\n{cipher}"),
        ),
        // The key of an encrypted value renamed: its additional data no longer matches.
        ("renamed.toml", cipher.replacen("\ntitle =", "\ntitel =", 1)),
        // A comment removed: only the layout digest covers it.
        (
            "comment.toml",
            cipher.split_once('\n').unwrap().1.to_string(),
        ),
        // An empty table added after the values.
        (
            "table.toml",
            cipher.replacen("\n[sops]", "[extra]\n\n[sops]", 1),
        ),
        // The layout digest removed (sops writes no TOML, so every TOML file sealed
        // reads has one) and an empty value added.
        ("stripped.toml", {
            let kept: Vec<&str> = cipher
                .lines()
                .filter(|l| !l.starts_with("sealed = "))
                .collect();
            format!("EXTRA = \"\"\n{}\n", kept.join("\n"))
        }),
        // The digest removed and `mac_only_encrypted` turned on, which would make a
        // digest-less file look legitimate (sealed never writes that for TOML).
        ("maconly.toml", {
            let kept: Vec<&str> = cipher
                .lines()
                .filter(|l| !l.starts_with("sealed = "))
                .collect();
            format!("EXTRA = \"\"\n{}\n", kept.join("\n")).replacen(
                "[sops]\n",
                "[sops]\nmac_only_encrypted = true\n",
                1,
            )
        }),
    ];
    for (name, text) in cases {
        std::fs::write(sb.path(name), &text).unwrap();
        let dec = sb.run(&["decrypt", name]);
        assert_ne!(dec.code, Some(0), "{name} decrypted");
        assert!(dec.stdout.is_empty(), "{name}: output written");
        assert!(dec.stderr.contains(name), "{name}: {}", dec.stderr);
        let exec = sb.run(&["exec", "-f", name, "--", "true"]);
        assert_ne!(exec.code, Some(0), "{name}: exec ran");
    }
    // The fix the message suggests, pasted where a rule names the recipients, seals the
    // file again as it now is.
    let rule = format!(
        "creation_rules:\n  - path_regex: \\.toml$\n    age: {}\n",
        sb.recipient
    );
    std::fs::write(sb.path(".sops.yaml"), rule).unwrap();
    let dec = sb.run(&["decrypt", "stripped.toml"]);
    let fix = dec
        .stderr
        .split("yourself seal it again: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no fix in {:?}", dec.stderr));
    let mut sh = std::process::Command::new("sh");
    sh.current_dir(sb.dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                common::bin().parent().unwrap().display(),
                common::path_var()
            ),
        )
        .env("HOME", sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", sb.path("key.txt"))
        .args(["-c", fix.trim()]);
    let out = sh.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = sb.run(&["decrypt", "stripped.toml"]).ok();
    assert!(plain.starts_with("EXTRA = \"\"\n"));
}

#[test]
fn toml_syntax_errors_name_the_line_and_column() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("bad.toml"), "a = 1\nb = [1,\nc = 'x\n").unwrap();
    let run = sb.run(&["encrypt", "--age", &sb.recipient.clone(), "bad.toml"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.starts_with("sealed: bad.toml:3:"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);
    // A user table named sops is refused: that key is the metadata table.
    std::fs::write(sb.path("sops.toml"), "[sops]\nx = 1\n\n[app]\ny = 2\n").unwrap();
    let run = sb.run(&["decrypt", "sops.toml"]);
    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("sops.toml:"), "{}", run.stderr);
}

const APP: &str = "[db]\nuser = \"admin\" # owner\npassword = \"fake-pass-1\"\nport = 5432\n";

/// A repository with `secrets/app.toml` committed: encrypted in the work tree, or plain
/// under the filter.
fn repo(filter: bool) -> Option<GitRepo> {
    let r = GitRepo::new()?;
    r.rules(&["(^|/)secrets/.*\\.toml$"]);
    r.write("secrets/app.toml", APP);
    let ok = |out: std::process::Output, what: &str| {
        assert!(
            out.status.success(),
            "{what}: {}",
            common::git::stderr(&out)
        );
    };
    if filter {
        ok(r.run(&["git", "init"]), "sealed git init");
    } else {
        ok(r.run(&["encrypt", "-i", "secrets/app.toml"]), "encrypt -i");
    }
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    let blob = r.git(&["show", "HEAD:secrets/app.toml"]);
    assert!(
        blob.contains("\n[sops]\n") && !blob.contains("fake-pass-1"),
        "blob in clear"
    );
    assert_eq!(r.read("secrets/app.toml") == APP, filter);
    Some(r)
}

#[test]
fn toml_secrets_in_git_in_both_storage_modes() {
    for filter in [false, true] {
        let Some(r) = repo(filter) else { return };
        let out = r.run(&[
            "exec",
            "-f",
            "secrets/app.toml",
            "--",
            "sh",
            "-c",
            "echo $DB_PASSWORD",
        ]);
        assert!(out.status.success(), "{}", common::git::stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "fake-pass-1\n");
        let out = r.run(&["set", "secrets/app.toml", "[\"db\"][\"port\"]", "6543"]);
        assert!(out.status.success(), "{}", common::git::stderr(&out));
        r.git(&["commit", "-q", "-am", "port"]);
        let blob = r.git(&["show", "HEAD:secrets/app.toml"]);
        assert!(
            !blob.contains("fake-pass-1") && !blob.contains("6543"),
            "blob in clear"
        );
        let diff = r.git(&["diff", "HEAD~1", "--stat"]);
        assert!(diff.contains("secrets/app.toml"), "no change committed");
        // The committed blob decrypts to the edited document, comment kept.
        let dec = r
            .sealed()
            .args(["decrypt", "--input-type", "toml", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(blob.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&dec.stdout),
            APP.replace("5432", "6543"),
            "filter={filter}"
        );
        // A new TOML file under the rules is encrypted by the clean filter.
        if filter {
            r.write("secrets/new.toml", "token = \"fake-token-2\"\n");
            r.git(&["add", "secrets/new.toml"]);
            let blob = r.git(&["show", ":secrets/new.toml"]);
            assert!(
                blob.contains("[sops]") && !blob.contains("fake-token-2"),
                "the filter did not encrypt a new file"
            );
        }
    }
}

#[test]
fn sops_refuses_sealed_toml_files() {
    let Some(sops) = peer("sops") else { return };
    let sb = Sandbox::new();
    sb.encrypt("config.toml", &doc());
    for args in [
        &[][..],
        &["--input-type", "ini"],
        &["--input-type", "yaml"],
        &["--input-type", "json"],
        &["--input-type", "dotenv"],
    ] {
        let out = std::process::Command::new(&sops)
            .current_dir(sb.dir.path())
            .env("SOPS_AGE_KEY_FILE", sb.path("key.txt"))
            .arg("decrypt")
            .args(args)
            .arg("config.toml")
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "sops {args:?} decrypted sealed's TOML"
        );
        assert!(out.stdout.is_empty(), "sops {args:?} wrote output");
    }
}

#[test]
fn toml_converts_to_other_syntaxes_and_not_from_them() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("app.toml"), "# c\n[a]\nb = \"fake-1\"\nn = 5\n").unwrap();
    std::fs::write(sb.path("app.yaml"), "a: 1\n").unwrap();
    let json = sb
        .run(&[
            "encrypt",
            "--age",
            &sb.recipient.clone(),
            "--output-type",
            "json",
            "app.toml",
        ])
        .ok();
    std::fs::write(sb.path("app.json"), json).unwrap();
    let plain = sb.run(&["decrypt", "app.json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(v, serde_json::json!({"a": {"b": "fake-1", "n": 5}}));
    let run = sb.run(&[
        "encrypt",
        "--age",
        &sb.recipient.clone(),
        "--output-type",
        "toml",
        "app.yaml",
    ]);
    run.fails(
        8,
        "app.yaml: --output-type toml: sealed converts from TOML but not to it",
    );
    // set converts the same way: refused, the file unchanged.
    sb.encrypt("app2.yaml", "a: 1\n");
    let before = std::fs::read(sb.path("app2.yaml")).unwrap();
    sb.run(&["set", "--output-type", "toml", "app2.yaml", "[\"b\"]", "2"])
        .fails(8, "sealed converts from TOML but not to it");
    assert_eq!(std::fs::read(sb.path("app2.yaml")).unwrap(), before);
}

#[test]
fn shamir_groups_updatekeys_and_rotate_on_a_toml_file() {
    let sb = Sandbox::new();
    let keys: Vec<common::Key> = (1..=3)
        .map(|i| common::keygen_in(sb.dir.path(), &format!("k{i}.txt")))
        .collect();
    let groups: String = keys
        .iter()
        .map(|k| format!("      - age: [{}]\n", k.public))
        .collect();
    let rules = format!(
        "creation_rules:\n  - path_regex: \\.toml$\n    shamir_threshold: 2\n    key_groups:\n{groups}"
    );
    std::fs::write(sb.path(".sops.yaml"), rules).unwrap();
    std::fs::write(sb.path("s.toml"), APP).unwrap();
    sb.run(&["encrypt", "-i", "s.toml"]).ok();
    assert!(
        std::fs::read_to_string(sb.path("s.toml"))
            .unwrap()
            .contains("\nkey_groups = [{ age = [")
    );
    let with = |files: &[&str]| {
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(sb.path(f)).unwrap())
            .collect();
        common::write_private(&sb.path("both.txt"), text.as_bytes());
        let mut c = sb.sealed();
        c.env("SOPS_AGE_KEY_FILE", sb.path("both.txt"));
        c
    };
    let one = with(&["k1.txt"])
        .args(["decrypt", "s.toml"])
        .output()
        .unwrap();
    assert_eq!(
        one.status.code(),
        Some(128),
        "one share of two opened the file"
    );
    let two = with(&["k1.txt", "k3.txt"])
        .args(["decrypt", "s.toml"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&two.stdout), APP);
    // The rule changes to plain recipients: updatekeys re-wraps, rotate re-keys.
    let rules = format!(
        "creation_rules:\n  - path_regex: \\.toml$\n    age: [{}, {}]\n",
        keys[0].public, keys[1].public
    );
    std::fs::write(sb.path(".sops.yaml"), rules).unwrap();
    let up = with(&["k1.txt", "k2.txt"])
        .args(["updatekeys", "-y", "s.toml"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let rot = with(&["k2.txt"])
        .args(["rotate", "s.toml"])
        .output()
        .unwrap();
    assert!(
        rot.status.success(),
        "{}",
        String::from_utf8_lossy(&rot.stderr)
    );
    let dec = with(&["k1.txt"])
        .args(["decrypt", "s.toml"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&dec.stdout), APP);
    let dec = with(&["k3.txt"])
        .args(["decrypt", "s.toml"])
        .output()
        .unwrap();
    assert_eq!(
        dec.status.code(),
        Some(128),
        "a removed recipient still opens the file"
    );
}

#[test]
fn selection_rules_apply_to_toml_values_and_comments() {
    let sb = Sandbox::new();
    let src = "a = 1\n# sops:enc\nb = \"x\"\nc = \"y\"\n[t]\n# sops:enc\nd = [1, 2]\ne = 3\nf_unencrypted = 4\n";
    std::fs::write(sb.path("c.toml"), src).unwrap();
    let r = sb.recipient.clone();
    let by_comment = sb
        .run(&[
            "encrypt",
            "--age",
            &r,
            "--encrypted-comment-regex",
            "sops:enc",
            "c.toml",
        ])
        .ok();
    let body = by_comment.split("\n\n[sops]").next().unwrap();
    let clear: Vec<&str> = body.lines().filter(|l| !l.contains("ENC[")).collect();
    assert_eq!(
        clear,
        [
            "a = 1",
            "# sops:enc",
            "c = \"y\"",
            "[t]",
            "# sops:enc",
            "e = 3",
            "f_unencrypted = 4"
        ]
    );
    assert!(body.contains("\nb = \"ENC[") && body.contains("\nd = [\"ENC["));
    let default = sb.run(&["encrypt", "--age", &r, "c.toml"]).ok();
    assert!(
        default.contains("\nf_unencrypted = 4\n"),
        "suffix rule ignored"
    );
    assert!(!default.contains("\ne = 3\n") && !default.contains("sops:enc"));
}
