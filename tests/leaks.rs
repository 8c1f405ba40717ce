//! No leaks: a secret value never appears in an error message (tampered file, wrong key,
//! invalid syntax on the secret's own line, MAC mismatch…), in the argv or environment of
//! sealed or of a process it starts, or in any file other than the one asked for; broken
//! identities are never echoed; identity files readable by group or others get a warning.
//!
//! Every secret below is fake and distinctive (`demo-leak-…`), so a search for it cannot
//! match anything else. Assertion messages never print the secrets or file contents.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::Scratch;

/// The secret values of the documents below.
const SECRETS: &[&str] = &[
    "demo-leak-7Qx9Zr",
    "demo-leak-comment-4Kp2",
    "demo-leak-escaped-A",
    "demo-leak-multi-8Wn",
];

/// A document per syntax holding every kind of secret (values, a comment, an escaped
/// spelling that goes to the `sealed` field, a multi-line value).
fn documents() -> [(&'static str, String); 3] {
    [
        (
            "s.yaml",
            "db:\n  user: admin # demo-leak-comment-4Kp2\n  password: demo-leak-7Qx9Zr\n  \
             escaped: \"demo-leak-escaped-\\x41\"\n  multi: |\n    demo-leak-multi-8Wn\n    line two\n\
             port: 5432\n"
                .to_string(),
        ),
        (
            "s.json",
            "{\n  \"user\": \"admin\",\n  \"password\": \"demo-leak-7Qx9Zr\",\n  \
             \"escaped\": \"demo-leak-escaped-\\u0041\",\n  \"multi\": \"demo-leak-multi-8Wn\\nline two\"\n}\n"
                .to_string(),
        ),
        (
            "s.env",
            "# demo-leak-comment-4Kp2\nUSER=admin\nPASSWORD=demo-leak-7Qx9Zr\n\
             ESCAPED=\"demo-leak-escaped-\\x41\"\nMULTI=\"demo-leak-multi-8Wn\nline two\"\n"
                .to_string(),
        ),
    ]
}

/// The secrets as they are spelled in a document (escapes included), and as decoded.
fn needles() -> Vec<String> {
    let mut v: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    // Distinctive pieces, in case a message shows part of a value.
    v.extend(SECRETS.iter().map(|s| s[s.len() - 5..].to_string()));
    v.push("demo-leak".to_string());
    v
}

/// Which needle `haystack` contains, if any (the needle itself is fake, safe to show).
fn leaked(haystack: &[u8]) -> Option<String> {
    needles()
        .into_iter()
        .find(|n| haystack.windows(n.len()).any(|w| w == n.as_bytes()))
}

/// The runs of this file, in a scratch area (`work/`, empty `home/` and `tmp/`).
impl Scratch {
    fn new_leaks() -> Scratch {
        Scratch::new("sealed-leaks-")
    }

    /// sealed with a clean environment: empty HOME, private TMPDIR, the scratch identity,
    /// and every debugging knob turned on (none may make it print a secret).
    fn cmd(&self) -> Command {
        let mut c = self.command();
        c.env("RUST_BACKTRACE", "full").env("RUST_LOG", "trace");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run sealed")
    }

    fn encrypt_to(&self, name: &str, out: &str) {
        let o = self.run(&["encrypt", "--age", &self.recipient, "-o", out, name]);
        assert!(o.status.success(), "encrypt {name} failed");
    }

    /// Every file under the scratch root except `allowed` (and the identity), as paths.
    fn files_except(&self, allowed: &[&Path]) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).expect("list") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut all = Vec::new();
        walk(self.root.path(), &mut all);
        all.retain(|p| !allowed.contains(&p.as_path()) && *p != self.p("key/keys.txt"));
        all
    }

    /// No file but `allowed` holds a secret, and TMPDIR and HOME stay empty.
    fn assert_no_secret_in_files(&self, allowed: &[&Path], what: &str) {
        for f in self.files_except(allowed) {
            let data = std::fs::read(&f).expect("read");
            if let Some(n) = leaked(&data) {
                panic!("{what}: {} holds secret text {n:?}", f.display());
            }
        }
        for d in ["tmp", "home"] {
            let n = std::fs::read_dir(self.p(d)).expect("list").count();
            assert_eq!(n, 0, "{what}: sealed left {n} file(s) in {d}");
        }
    }
}

/// A failing command: non-zero, nothing on stdout, and no secret on stderr.
fn assert_fails_quietly(out: &Output, what: &str) {
    assert!(!out.status.success(), "{what}: expected a failure");
    assert_ne!(out.status.code(), Some(101), "{what}: panicked");
    assert!(
        out.stdout.is_empty(),
        "{what}: printed {} bytes",
        out.stdout.len()
    );
    if let Some(n) = leaked(&out.stderr) {
        panic!("{what}: stderr shows secret text {n:?}");
    }
}

/// Replaces the first occurrence of `from` after `after` in `text`.
fn replace_after(text: &str, after: &str, from: &str, to: &str) -> String {
    let start = text.find(after).expect("anchor present") + after.len();
    let at = start + text[start..].find(from).expect("pattern present");
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

/// Where the MAC token starts in each syntax's metadata.
fn mac_anchor(name: &str) -> &'static str {
    if name.ends_with(".json") {
        "\"mac\": "
    } else if name.ends_with(".env") {
        "sops_mac="
    } else {
        "    mac: "
    }
}

/// Flips one base64 character of the `data:` of the token that follows `anchor`.
fn flip_data(text: &str, anchor: &str) -> String {
    let start = text.find(anchor).expect("anchor") + anchor.len();
    let at = start + text[start..].find("data:").expect("a token") + "data:".len();
    let c = text.as_bytes()[at];
    let repl = if c == b'A' { "B" } else { "A" };
    format!("{}{repl}{}", &text[..at], &text[at + 1..])
}

#[test]
fn ciphertext_holds_no_secret() {
    let s = Scratch::new_leaks();
    for (name, doc) in documents() {
        std::fs::write(s.work(name), &doc).expect("write");
        let enc = format!("enc.{name}");
        s.encrypt_to(name, &enc);
        let data = std::fs::read(s.work(&enc)).expect("read");
        assert!(
            leaked(&data).is_none(),
            "{name}: the ciphertext shows a secret"
        );
        let out = s.run(&["decrypt", &enc]);
        assert!(out.status.success());
        assert!(out.stdout == doc.as_bytes(), "{name}: roundtrip");
        assert!(leaked(&out.stderr).is_none());
    }
}

#[test]
fn failing_decrypts_never_show_a_secret() {
    let s = Scratch::new_leaks();
    for (name, doc) in documents() {
        std::fs::write(s.work(name), &doc).expect("write");
        let enc_name = format!("enc.{name}");
        s.encrypt_to(name, &enc_name);
        let enc = std::fs::read_to_string(s.work(&enc_name)).expect("read");
        let (pw, user) = if name.ends_with(".env") {
            ("PASSWORD=", "USER=")
        } else {
            ("password", "user")
        };
        let token = |key: &str| {
            let at = enc.find(key).expect("key");
            let start = at + enc[at..].find("ENC[").expect("token");
            let end = start + enc[start..].find(']').expect("end") + 1;
            enc[start..end].to_string()
        };
        let (pw_token, user_token) = (token(pw), token(user));
        let mut cases: Vec<(&str, String)> = vec![
            ("a flipped ciphertext byte", flip_data(&enc, pw)),
            (
                "two values swapped",
                enc.replacen(&pw_token, "@@PW@@", 1)
                    .replacen(&user_token, &pw_token, 1)
                    .replacen("@@PW@@", &user_token, 1),
            ),
            ("an altered MAC", flip_data(&enc, mac_anchor(name))),
            (
                "a secret put back in clear text",
                enc.replacen(&pw_token, "demo-leak-7Qx9Zr", 1),
            ),
            (
                "a token of another type",
                enc.replacen(&pw_token, &pw_token.replace("type:str", "type:int"), 1),
            ),
        ];
        if !name.ends_with(".json") {
            cases.push(("an altered comment", flip_data(&enc, "#ENC[AES256_GCM,")));
        }
        if name.ends_with(".yaml") {
            cases.push((
                "a changed clear-text value",
                enc.replacen("port: ", "port_unencrypted: 1\nport: ", 1),
            ));
            cases.push((
                "a removed MAC",
                replace_after(&enc, "    mac: ", "ENC[", "XENC["),
            ));
        }
        for (what, bad) in &cases {
            let f = format!("bad.{name}");
            std::fs::write(s.work(&f), bad).expect("write");
            let out = s.run(&["decrypt", &f]);
            assert_fails_quietly(&out, &format!("{name}: {what}"));
            let out = s.run(&["decrypt", "-i", &f]);
            assert_fails_quietly(&out, &format!("{name}: {what} (-i)"));
            assert!(std::fs::read_to_string(s.work(&f)).expect("read") == *bad);
        }
        // The right syntax but nobody's key: an identity that is not a recipient.
        let other = s.p("key/other.txt");
        let _ = std::fs::remove_file(&other);
        assert!(
            s.cmd()
                .args(["keygen", "-o"])
                .arg(&other)
                .output()
                .unwrap()
                .status
                .success()
        );
        let out = s
            .cmd()
            .env("SOPS_AGE_KEY_FILE", &other)
            .args(["decrypt", &enc_name])
            .output()
            .expect("run");
        assert_fails_quietly(&out, &format!("{name}: wrong key"));
        assert_eq!(out.status.code(), Some(128), "{name}: SOPS's no-key code");
        let allowed: Vec<PathBuf> = [
            "s.yaml", "s.json", "s.env", "bad.yaml", "bad.json", "bad.env",
        ]
        .iter()
        .map(|n| s.work(n))
        .collect();
        let allowed: Vec<&Path> = allowed.iter().map(PathBuf::as_path).collect();
        s.assert_no_secret_in_files(&allowed, &format!("{name}: after failing decrypts"));
        for f in ["bad.yaml", "bad.json", "bad.env"] {
            let _ = std::fs::remove_file(s.work(f));
        }
    }
}

#[test]
fn syntax_errors_on_the_secret_line_never_show_it() {
    let s = Scratch::new_leaks();
    let cases: &[(&str, &str)] = &[
        ("a.yaml", "user: admin\npassword: \"demo-leak-7Qx9Zr\n"),
        ("b.yaml", "user: admin\npassword: demo-leak-7Qx9Zr: [\n"),
        (
            "c.yaml",
            "user: admin\n  password: demo-leak-7Qx9Zr\n bad\n",
        ),
        ("d.yaml", "user: admin\npassword: 'demo-leak-7Qx9Zr\n"),
        ("e.yaml", "password: \"demo-leak-7Qx9Zr\\q\"\n"),
        ("f.yaml", "password: demo-leak-7Qx9Zr\n\u{0}\n"),
        (
            "g.yaml",
            "a:\n  - demo-leak-7Qx9Zr\n  b: demo-leak-7Qx9Zr\n",
        ),
        (
            "a.json",
            "{\"user\": \"admin\",\n \"password\": \"demo-leak-7Qx9Zr}\n",
        ),
        ("b.json", "{\"password\": demo-leak-7Qx9Zr}\n"),
        ("c.json", "{\"password\": \"demo-leak-7Qx9Zr\\x\"}\n"),
        ("d.json", "{\"password\": \"demo-leak-7Qx9Zr\" \"x\": 1}\n"),
        (
            "e.json",
            "{\"password\": \"demo-leak-7Qx9Zr\"}\n{\"demo-leak-7Qx9Zr\": 1}\n",
        ),
        ("b.env", "USER=admin\ndemo-leak-7Qx9Zr\n"),
        // (`=value` is a key "" for sops, and so for sealed: not an error any more.)
        ("c.env", "\u{feff}# demo-leak-7Qx9Zr\nUSER=admin\n"),
    ];
    for (name, doc) in cases {
        std::fs::write(s.work(name), doc).expect("write");
        for verb in ["encrypt", "decrypt"] {
            let out = if verb == "encrypt" {
                s.run(&[verb, "--age", &s.recipient, name])
            } else {
                s.run(&[verb, name])
            };
            assert_fails_quietly(&out, &format!("{verb} {name}"));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(name),
                "{verb} {name}: the error names the file"
            );
        }
    }
    // Invalid UTF-8 right inside a secret.
    std::fs::write(s.work("u.yaml"), b"password: demo-leak-7Qx9Zr\xff\n").expect("write");
    let out = s.run(&["encrypt", "--age", &s.recipient, "u.yaml"]);
    assert_fails_quietly(&out, "invalid UTF-8 in a secret");
    let inputs: Vec<PathBuf> = cases
        .iter()
        .map(|(n, _)| s.work(n))
        .chain([s.work("u.yaml")])
        .collect();
    let allowed: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    s.assert_no_secret_in_files(&allowed, "after syntax errors");
}

#[test]
fn broken_identities_are_never_echoed() {
    let s = Scratch::new_leaks();
    std::fs::write(s.work("s.yaml"), "password: demo-leak-7Qx9Zr\n").expect("write");
    s.encrypt_to("s.yaml", "enc.yaml");
    let key = std::fs::read_to_string(s.p("key/keys.txt")).expect("read key");
    let secret_line = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity");
    // One character changed: the line is no longer a valid identity.
    let mut broken = secret_line.to_string();
    let at = broken.len() - 3;
    let flipped = if &broken[at..at + 1] == "Q" { "P" } else { "Q" };
    broken.replace_range(at..at + 1, flipped);
    let bad_file = s.p("key/broken.txt");
    std::fs::write(&bad_file, format!("# a comment\n{broken}\n")).expect("write");
    std::fs::set_permissions(&bad_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let runs = [
        s.cmd()
            .env("SOPS_AGE_KEY", &broken)
            .args(["decrypt", "enc.yaml"])
            .output(),
        s.cmd()
            .env("SOPS_AGE_KEY_FILE", &bad_file)
            .args(["decrypt", "enc.yaml"])
            .output(),
        s.cmd()
            .env("SOPS_AGE_KEY_CMD", format!("echo '{broken}'"))
            .env_remove("SOPS_AGE_KEY_FILE")
            .args(["decrypt", "enc.yaml"])
            .output(),
    ];
    for (i, out) in runs.into_iter().enumerate() {
        let out = out.expect("run");
        assert_fails_quietly(&out, &format!("broken identity #{i}"));
        let err = String::from_utf8_lossy(&out.stderr);
        // Neither the broken line nor any long piece of it (nor of the real key).
        for piece in [&broken[15..40], &secret_line[15..40], &broken[40..]] {
            assert!(
                !err.contains(piece),
                "broken identity #{i}: stderr shows key material"
            );
        }
        assert!(!err.contains("AGE-SECRET-KEY-1"), "broken identity #{i}");
    }
}

#[test]
fn no_file_but_the_one_asked_for_holds_plaintext() {
    let s = Scratch::new_leaks();
    for (name, doc) in documents() {
        let plain = s.work(name);
        std::fs::write(&plain, &doc).expect("write");
        // encrypt to stdout, then -o, then -i: afterwards no file holds a secret.
        let out = s.run(&["encrypt", "--age", &s.recipient, name]);
        assert!(out.status.success());
        assert!(leaked(&out.stdout).is_none() && leaked(&out.stderr).is_none());
        s.assert_no_secret_in_files(&[&plain], &format!("encrypt {name} to stdout"));
        s.encrypt_to(name, "out.enc");
        s.assert_no_secret_in_files(&[&plain], &format!("encrypt -o {name}"));
        assert!(
            s.run(&["encrypt", "-i", "--age", &s.recipient, name])
                .status
                .success()
        );
        s.assert_no_secret_in_files(&[], &format!("encrypt -i {name}"));

        // decrypt to stdout leaves no file with plaintext; -o writes only there; -i only
        // the file itself.
        let out = s.run(&["decrypt", name]);
        assert!(out.status.success() && out.stdout == doc.as_bytes());
        s.assert_no_secret_in_files(&[], &format!("decrypt {name} to stdout"));
        let target = s.work("plain.out");
        let out = s.run(&[
            "decrypt",
            "--input-type",
            syntax(name),
            "-o",
            "plain.out",
            name,
        ]);
        assert!(out.status.success());
        s.assert_no_secret_in_files(&[&target], &format!("decrypt -o {name}"));
        std::fs::remove_file(&target).expect("rm");
        assert!(s.run(&["decrypt", "-i", name]).status.success());
        s.assert_no_secret_in_files(&[&plain], &format!("decrypt -i {name}"));
        assert!(std::fs::read(&plain).expect("read") == doc.as_bytes());
        let _ = std::fs::remove_file(s.work("out.enc"));
        std::fs::remove_file(&plain).expect("rm");
    }
}

fn syntax(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("json") => "json",
        Some("env") => "dotenv",
        _ => "yaml",
    }
}

#[test]
fn no_secret_in_argv_or_environment_of_sealed_or_its_children() {
    // SOPS_AGE_KEY_CMD runs while sealed holds the document; the command records the
    // argv and environment of sealed (its parent) and its own, then prints the identity.
    let s = Scratch::new_leaks();
    for (name, doc) in documents() {
        std::fs::write(s.work(name), &doc).expect("write");
        s.encrypt_to(name, &format!("enc.{name}"));
    }
    let dump = s.p("dump");
    std::fs::create_dir(&dump).expect("mkdir");
    let script = format!(
        "cat /proc/$PPID/cmdline > {d}/parent-argv; cat /proc/$PPID/environ > {d}/parent-env; \
         cat /proc/$$/cmdline > {d}/own-argv; env > {d}/own-env; cat {k}",
        d = dump.display(),
        k = s.p("key/keys.txt").display()
    );
    for (name, _) in documents() {
        let out = s
            .cmd()
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("SOPS_AGE_KEY_CMD", &script)
            .args(["decrypt", &format!("enc.{name}")])
            .output()
            .expect("run");
        assert!(out.status.success(), "decrypt {name} with SOPS_AGE_KEY_CMD");
        let parent = std::fs::read(dump.join("parent-argv")).expect("argv recorded");
        assert!(
            parent.windows(8).any(|w| w == b"decrypt\0"),
            "the command ran under sealed decrypt"
        );
        for f in ["parent-argv", "parent-env", "own-argv", "own-env"] {
            let data = std::fs::read(dump.join(f)).expect("read dump");
            if let Some(n) = leaked(&data) {
                panic!("decrypt {name}: {f} holds secret text {n:?}");
            }
        }
    }
}

#[test]
fn readable_identity_files_get_a_warning() {
    let s = Scratch::new_leaks();
    std::fs::write(s.work("s.yaml"), "password: demo-leak-7Qx9Zr\n").expect("write");
    s.encrypt_to("s.yaml", "enc.yaml");
    let key = s.p("key/keys.txt");
    let default_key = s.p("home/.config/sops/age/keys.txt");
    for (mode, warns) in [
        (0o600, false),
        (0o400, false),
        (0o640, true),
        (0o604, true),
        (0o644, true),
    ] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let out = s.run(&["decrypt", "enc.yaml"]);
        assert!(out.status.success(), "mode {mode:o}: decrypt still works");
        let err = String::from_utf8_lossy(&out.stderr);
        let warned =
            err.contains("warning") && err.contains("keys.txt") && err.contains("chmod 600");
        assert_eq!(warned, warns, "mode {mode:o}: warning shown: {err}");
        if warns {
            assert!(
                err.contains(&format!("{mode:04o}")),
                "mode {mode:o}: the warning gives the mode"
            );
            assert_eq!(err.lines().count(), 1, "one warning line");
        }
        assert!(!err.contains("AGE-SECRET-KEY"));
        assert!(leaked(&out.stderr).is_none());
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // The default location is checked too.
    std::fs::create_dir_all(default_key.parent().unwrap()).expect("mkdir");
    std::fs::copy(&key, &default_key).expect("copy");
    std::fs::set_permissions(&default_key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = s
        .cmd()
        .env_remove("SOPS_AGE_KEY_FILE")
        .args(["decrypt", "enc.yaml"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("0644"),
        "default keys.txt: {err}"
    );
    std::fs::remove_file(&default_key).expect("rm");
    std::fs::remove_dir_all(s.p("home/.config")).expect("rm");
}

#[test]
fn a_panic_never_shows_a_secret() {
    // This input once made encrypt panic (fuzz finding P1: a comment before a lone CR gave
    // overlapping splices) with the document, secret included, in the panic message. It is
    // encrypted now; the panic hook (location only, exit 70) guards any panic to come.
    let s = Scratch::new_leaks();
    std::fs::write(s.work("p.yaml"), "password: demo-leak-7Qx9Zr # c\rb: 2\n").expect("write");
    let out = s.run(&["encrypt", "--age", &s.recipient, "p.yaml"]);
    if let Some(n) = leaked(&out.stderr) {
        panic!("stderr shows secret text {n:?}");
    }
    assert_ne!(out.status.code(), Some(101), "panicked");
    assert!(out.status.success(), "encrypt refused the file");
    if let Some(n) = leaked(&out.stdout) {
        panic!("the ciphertext shows secret text {n:?}");
    }
}

#[test]
fn set_keeps_values_out_of_errors_and_clear_text() {
    let s = Scratch::new_leaks();
    std::fs::write(s.work("s.yaml"), "db:\n  password: old\n").expect("write");
    s.encrypt_to("s.yaml", "enc.yaml");
    std::fs::remove_file(s.work("s.yaml")).expect("rm");
    let set = |path: &str, value: &str| {
        let mut child = s
            .cmd()
            .args(["set", "enc.yaml", path, "--value-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        use std::io::Write;
        // sealed may refuse (a bad path) before it reads stdin: a closed pipe is fine.
        match child
            .stdin
            .take()
            .expect("stdin")
            .write_all(value.as_bytes())
        {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("write stdin"),
        }
        child.wait_with_output().expect("wait")
    };
    // The value comes from stdin (never argv) and is stored encrypted.
    let out = set("[\"db\"][\"password\"]", "\"demo-leak-7Qx9Zr\"");
    assert!(out.status.success(), "set --value-stdin");
    assert!(leaked(&out.stderr).is_none() && leaked(&out.stdout).is_none());
    s.assert_no_secret_in_files(&[], "after set");
    // Invalid values and paths are refused without echoing the value.
    for (path, value) in [
        ("[\"db\"][\"password\"]", "demo-leak-7Qx9Zr"),
        ("[\"db\"][\"password\"]", "{\"x\": \"demo-leak-7Qx9Zr\""),
        ("[\"db\"][\"password\"][\"deeper\"]", "\"demo-leak-7Qx9Zr\""),
        ("not a path demo-leak", "\"demo-leak-7Qx9Zr\""),
    ] {
        let out = set(path, value);
        assert!(!out.status.success(), "set {path}: accepted");
        assert!(out.stdout.is_empty());
        let shown = String::from_utf8_lossy(&out.stderr);
        // (the path itself is the user's argument and may be shown)
        let shown = shown.replace("not a path demo-leak", "");
        if let Some(n) = leaked(shown.as_bytes()) {
            panic!("set {path}: stderr shows secret text {n:?}");
        }
    }
    let out = s.run(&["decrypt", "enc.yaml"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"db:\n  password: demo-leak-7Qx9Zr\n");
}
