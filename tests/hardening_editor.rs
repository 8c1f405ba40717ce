//! What an *editor* (someone who can change the committed ciphertext, without a key) must
//! never steer: the metadata block, YAML aliases, merge keys and tags, and values the MAC
//! does not cover (nulls, empty strings, clear values' names). Issue 13, reproductions 1–3.
//!
//! Each attack is tried on a file sealed wrote (its layout digest authenticates the whole
//! document: any change outside the values is refused) and on a file the real `sops` wrote
//! (no digest: aliases, merge keys and tags are refused; null, empty and clear values are
//! *weak* and never replace a variable or set one that steers how a program is loaded).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{SANDBOX_SECRET, Sandbox, peer};

const PLAIN_YAML: &str = "db:\n    user: admin\n    password: s3cr3t-Value-4217\nport: 5432\n";
const PLAIN_ENV: &str = "DB_USER=admin\nDB_PASSWORD=s3cr3t-Value-4217\n";

/// Who wrote the encrypted file.
#[derive(Clone, Copy, Debug)]
enum Writer {
    Sealed,
    Sops,
}

const WRITERS: [Writer; 2] = [Writer::Sealed, Writer::Sops];

/// Encrypts `plain` as `name` in the sandbox with `writer`; `None` (test skipped) when the
/// writer is sops and sops is not installed.
fn encrypted(sb: &Sandbox, writer: Writer, name: &str, plain: &str) -> Option<PathBuf> {
    match writer {
        Writer::Sealed => Some(sb.encrypt(name, plain)),
        Writer::Sops => {
            let sops = peer("sops")?;
            let src = sb.path(&format!("plain-{name}"));
            std::fs::write(&src, plain).unwrap();
            let ty = if name.ends_with(".env") {
                "dotenv"
            } else {
                "yaml"
            };
            let out = Command::new(sops)
                .current_dir(sb.path(""))
                .env("SOPS_AGE_RECIPIENTS", &sb.recipient)
                .args(["encrypt", "--input-type", ty, "--output-type", ty])
                .arg(&src)
                .output()
                .expect("run sops");
            assert!(out.status.success(), "sops encrypt failed");
            let path = sb.path(name);
            std::fs::write(&path, out.stdout).unwrap();
            Some(path)
        }
    }
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

/// `sealed exec -f FILE -- sh -c SCRIPT` in the sandbox; (exit code, stdout, stderr).
fn exec(sb: &Sandbox, file: &str, script: &str, env: &[(&str, &str)]) -> common::Run {
    let out = sb
        .sealed()
        .args(["exec", "-f", file, "--", "/bin/sh", "-c", script])
        .envs(env.iter().copied())
        .output()
        .expect("run sealed exec");
    common::Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The top-level lines of the `sops:` block of a YAML file.
fn sops_block(text: &str) -> String {
    let at = text.find("\nsops:").expect("a sops block") + 1;
    text[at..].to_string()
}

#[test]
fn a_second_sops_block_is_refused_everywhere() {
    for writer in WRITERS {
        let sb = Sandbox::new();
        let Some(file) = encrypted(&sb, writer, "enc.yaml", PLAIN_YAML) else {
            return;
        };
        let marker = sb.path("pwned");
        let original = std::fs::read_to_string(&file).unwrap();
        // A block before the real one (the reproduction), and the real one twice.
        let before = format!(
            "sops:\n    age_key_cmd: touch {}\n{original}",
            marker.display()
        );
        let twice = format!("{original}{}", sops_block(&original));
        for (what, text) in [("before", before), ("twice", twice)] {
            std::fs::write(&file, &text).unwrap();
            let run = sb.run(&["decrypt", "enc.yaml"]);
            assert_ne!(run.code, Some(0), "{writer:?} {what}: decrypt accepted it");
            let code = run.code.expect("an exit code");
            run.fails(code, "sops");
            let run = exec(&sb, "enc.yaml", "env", &[]);
            assert_ne!(run.code, Some(0), "{writer:?} {what}: exec ran");
            assert!(
                !run.stdout.contains("SOPS_AGE_KEY_CMD"),
                "{writer:?} {what}"
            );
            assert!(!marker.exists());
        }
    }
}

#[test]
fn aliases_and_merge_keys_added_by_an_editor_are_refused() {
    for writer in WRITERS {
        for (what, change) in [
            ("alias", "leak: *x\n"),
            ("merge key", "mirror:\n    <<: *m\n"),
            ("whole-mapping alias", "next_public: *m\n"),
        ] {
            let sb = Sandbox::new();
            let Some(file) = encrypted(&sb, writer, "enc.yaml", PLAIN_YAML) else {
                return;
            };
            edit(&file, |t| {
                let t =
                    t.replacen("db:\n", "db: &m\n", 1)
                        .replacen("password: ", "password: &x ", 1);
                let at = t.find("\nsops:").unwrap() + 1;
                format!("{}{change}{}", &t[..at], &t[at..])
            });
            let run = sb.run(&["decrypt", "enc.yaml"]);
            assert_eq!(run.code, Some(51), "{writer:?} {what}: {}", run.stderr);
            run.fails(51, "SEALED_ALLOW_UNAUTHENTICATED=1 sealed rotate enc.yaml");
            for extra in [&["--extract", "[\"leak\"]"][..], &["--output-type", "json"]] {
                let mut args = vec!["decrypt"];
                args.extend_from_slice(extra);
                args.push("enc.yaml");
                sb.run(&args).fails(51, "enc.yaml");
            }
            let run = exec(&sb, "enc.yaml", "env", &[]);
            assert_eq!(run.code, Some(51), "{writer:?} {what}: exec ran");
            assert!(!run.stdout.contains(SANDBOX_SECRET));
        }
    }
}

#[test]
fn aliases_merge_keys_and_tags_that_sealed_wrote_are_authenticated() {
    let sb = Sandbox::new();
    let plain = "base: &b\n    host: h\n    password: s3cr3t-Value-4217\nprod:\n    <<: *b\n    \
                 port: !!str 5432\ncopy: *b\n";
    sb.encrypt("enc.yaml", plain);
    assert_eq!(sb.run(&["decrypt", "enc.yaml"]).ok(), plain);
    let run = exec(&sb, "enc.yaml", "printf %s \"$PROD_PORT\"", &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "5432");
}

#[test]
fn a_tag_added_before_a_token_is_refused() {
    for writer in WRITERS {
        for tag in ["!!str ", "!custom ", "!!binary "] {
            let sb = Sandbox::new();
            let Some(file) = encrypted(&sb, writer, "enc.yaml", PLAIN_YAML) else {
                return;
            };
            edit(&file, |t| t.replacen("port: ", &format!("port: {tag}"), 1));
            // Refused, or (a standard tag that decrypting replaces with the value) the
            // very document that was encrypted.
            let run = sb.run(&["decrypt", "enc.yaml"]);
            if run.code != Some(51) {
                assert_eq!(run.code, Some(0), "{writer:?} {tag}: {}", run.stderr);
                assert_eq!(run.stdout, PLAIN_YAML, "{writer:?} {tag}");
            }
            let run = exec(&sb, "enc.yaml", "printf %s \"$PORT\"", &[]);
            if run.code != Some(51) {
                assert_eq!(run.stdout, "5432", "{writer:?} {tag}");
            }
            if matches!(writer, Writer::Sops) || tag == "!custom " {
                assert_eq!(run.code, Some(51), "{writer:?} {tag}: {}", run.stderr);
            }
        }
    }
}

#[test]
fn a_null_added_by_an_editor_never_changes_how_the_command_is_found() {
    for writer in WRITERS {
        let sb = Sandbox::new();
        let Some(file) = encrypted(&sb, writer, "enc.yaml", PLAIN_YAML) else {
            return;
        };
        edit(&file, |t| {
            let at = t.find("\nsops:").unwrap() + 1;
            format!("{}path: ~\nld_preload: \"\"\n{}", &t[..at], &t[at..])
        });
        let run = exec(&sb, "enc.yaml", "printf %s \"$PATH\"", &[]);
        match writer {
            // The layout digest no longer matches: nothing runs.
            Writer::Sealed => run.fails(51, "changed outside its encrypted values"),
            // sops's format cannot tell: the weak values are not set, with a warning each.
            Writer::Sops => {
                assert_eq!(run.code, Some(0), "{}", run.stderr);
                assert_eq!(run.stdout, common::path_var());
                assert!(run.stderr.contains("PATH is not set"), "{}", run.stderr);
                assert!(
                    run.stderr.contains("LD_PRELOAD is not set"),
                    "{}",
                    run.stderr
                );
                // `eval "$(sealed decrypt --output-type export …)"` is steered no more.
                let out = sb.run(&["decrypt", "--output-type", "export", "enc.yaml"]);
                assert_eq!(out.code, Some(0), "{}", out.stderr);
                assert!(!out.stdout.contains("PATH"), "{}", out.stdout);
                assert!(out.stdout.contains("export DB_USER='admin'"));
            }
        }
    }
}

#[test]
fn a_weak_value_never_replaces_a_variable_already_set() {
    let sb = Sandbox::new();
    let Some(file) = encrypted(&sb, Writer::Sops, "enc.yaml", PLAIN_YAML) else {
        return;
    };
    edit(&file, |t| {
        let at = t.find("\nsops:").unwrap() + 1;
        format!("{}api_token: ~\n{}", &t[..at], &t[at..])
    });
    let run = exec(
        &sb,
        "enc.yaml",
        "printf '%s|%s' \"$API_TOKEN\" \"$DB_PASSWORD\"",
        &[("API_TOKEN", "from-env")],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, format!("from-env|{SANDBOX_SECRET}"));
    assert!(run.stderr.contains("API_TOKEN is not set"));
    // Without a variable to keep, the null sets an empty one, as before.
    let run = exec(&sb, "enc.yaml", "printf '%s' \"${API_TOKEN-unset}\"", &[]);
    assert_eq!(run.stdout, "");
}

#[test]
fn an_empty_line_appended_to_a_dotenv_never_blanks_a_secret() {
    for writer in WRITERS {
        let sb = Sandbox::new();
        let Some(file) = encrypted(&sb, writer, "app.env", PLAIN_ENV) else {
            return;
        };
        edit(&file, |t| format!("{t}DB_PASSWORD=\n"));
        let run = exec(&sb, "app.env", "printf '[%s]' \"$DB_PASSWORD\"", &[]);
        assert_ne!(run.code, Some(0), "{writer:?}: exec ran: {}", run.stdout);
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("app.env"), "{}", run.stderr);
    }
}

#[test]
fn the_suggested_fix_reseals_a_change_the_user_made() {
    let sb = Sandbox::new();
    let file = sb.encrypt("enc.yaml", PLAIN_YAML);
    std::fs::write(
        sb.path(".sops.yaml"),
        format!("creation_rules:\n  - age: {}\n", sb.recipient),
    )
    .unwrap();
    // The user adds a comment by hand to the encrypted file.
    edit(&file, |t| {
        t.replacen("port:", "# the public port\nport:", 1)
    });
    let run = sb.run(&["decrypt", "enc.yaml"]);
    let line = run.stderr.clone();
    run.fails(51, "changed outside its encrypted values");
    // The fix, as printed, pasted into a shell.
    let fix = line.split("seal it again: ").nth(1).expect("a fix").trim();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(fix.replacen("sealed", common::bin().to_str().unwrap(), 1))
        .current_dir(sb.path(""))
        .envs(
            sb.sealed()
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .status()
        .unwrap();
    assert!(status.success(), "the printed fix failed: {fix}");
    let plain = sb.run(&["decrypt", "enc.yaml"]).ok();
    assert!(plain.contains("# the public port\nport: 5432"), "{plain}");
}

#[test]
fn the_metadata_is_the_first_documents_and_every_copy_agrees() {
    for writer in WRITERS {
        let sb = Sandbox::new();
        let Some(file) = encrypted(&sb, writer, "enc.yaml", PLAIN_YAML) else {
            return;
        };
        let original = std::fs::read_to_string(&file).unwrap();
        // A document put before the one with the metadata: sops reads the first
        // document's metadata only, and refuses this file.
        std::fs::write(&file, format!("path:\n---\n{original}")).unwrap();
        let run = sb.run(&["decrypt", "enc.yaml"]);
        run.fails(1, "first document");
        // A second document whose metadata differs (a recipient of the editor's).
        let other = original.replacen("recipient: age1", "recipient: age1x", 1);
        std::fs::write(&file, format!("{original}---\n{other}")).unwrap();
        let run = sb.run(&["decrypt", "enc.yaml"]);
        run.fails(1, "different sops metadata blocks");
    }
}

#[test]
fn sealing_a_sops_file_again_says_its_layout_is_now_authenticated() {
    let sb = Sandbox::new();
    let Some(file) = encrypted(&sb, Writer::Sops, "enc.yaml", PLAIN_YAML) else {
        return;
    };
    // An editor's null, in a file sops wrote: weak until the file is sealed again.
    edit(&file, |t| {
        let at = t.find("\nsops:").unwrap() + 1;
        format!("{}api_token: ~\n{}", &t[..at], &t[at..])
    });
    let run = sb.run(&["set", "enc.yaml", "[\"port\"]", "5433"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("now authenticated as they stand"),
        "{}",
        run.stderr
    );
    // Sealed again: a second change says nothing.
    let run = sb.run(&["set", "enc.yaml", "[\"port\"]", "5434"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
}
