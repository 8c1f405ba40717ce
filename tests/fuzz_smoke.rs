//! Fuzz smoke: the properties of every cargo-fuzz target (`fuzz/src/lib.rs`, included here
//! as a module, so both check exactly the same thing) run on the seed corpora and on a few
//! thousand deterministic mutations of them, in the ordinary `cargo test` build: no
//! sanitizer, no nightly flags, a few seconds per target in a debug build.
//!
//! Seeds: `fixtures/`, and `../shared/corpus` and `../shared/sops-fixtures` when present
//! (skipped with a notice when absent), chosen per target as `fuzz/seed.sh` does; every
//! document the document targets can encrypt is added encrypted under the fuzzers' fixed
//! key, so the decrypt paths start from valid ciphertext. Mutations flip ASCII bits, insert
//! bytes that parsers treat specially (CR, NUL, BOM, quotes, brackets, `#`, `&`, `: `…),
//! delete, duplicate and truncate; they keep UTF-8 valid, since every property but
//! `pktline` drops other input. The sequence is fixed (xorshift seeded per target): a
//! failure names its seed and mutation number and saves the input under the target's
//! temporary directory. Each target runs its seeds and [`MUTATIONS`] mutations, the same
//! ones on every machine ([`BUDGET`] only stops a machine far slower than expected).
//!
//! A failure (a panic: a property's assertion or a bug) fails the test. Every finding of
//! docs/security.md is fixed; their repros are checked here too
//! (`former_findings_pass_every_property`).
//!
//! `pktline` needs a clean process environment (no identity of the user, no repository, no
//! `.sops.yaml`): its test runs itself again as a child process with a cleared environment
//! in an empty directory.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod properties;

mod common;

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use common::Rng;
use sealed::format::{Syntax, yaml_value};

/// Mutations per target: fixed, so that every run checks the same inputs.
const MUTATIONS: usize = 1000;

/// A safety stop for a machine far slower than this one (where the slowest target, YAML,
/// needs ~4 s in a debug build); reaching it is reported.
const BUDGET: Duration = Duration::from_secs(60);

/// New failures reported (and inputs saved) per target at most; the rest are counted.
const MAX_REPORTED: usize = 20;

/// The largest seed (libFuzzer's `-max_len` in `fuzz/smoke.sh`).
const MAX_LEN: usize = 16 * 1024;

/// Set in the child process that runs the `pktline` property.
const CHILD: &str = "SEALED_FUZZ_SMOKE_CHILD";

// ---------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------

/// One input, with where it came from (for messages; never its content).
#[derive(Clone)]
struct Seed {
    name: String,
    data: Vec<u8>,
}

/// Which target a corpus file seeds, by its name (as `fuzz/seed.sh` sorts them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Yaml,
    Json,
    Dotenv,
    Ini,
    SopsConfig,
}

fn kinds_of(path: &Path) -> Vec<Kind> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let mut kinds = Vec::new();
    if name == ".sops.yaml"
        || name == "sops.yaml"
        || name.ends_with(".sops.yaml")
        || (name.starts_with("sops.") && name.ends_with(".yaml"))
    {
        kinds.push(Kind::SopsConfig);
    }
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        kinds.push(Kind::Yaml);
    } else if name.ends_with(".json") {
        kinds.push(Kind::Json);
    } else if name.ends_with(".env") || name == ".env" || name.contains(".env.") {
        kinds.push(Kind::Dotenv);
    } else if name.ends_with(".ini") {
        kinds.push(Kind::Ini);
    }
    kinds
}

/// Regular files under `dir` (links are not followed: the YAML test suite links its
/// directories by tag), at most [`MAX_LEN`] bytes.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&e.path(), out);
        } else if t.is_file() && e.metadata().is_ok_and(|m| m.len() as usize <= MAX_LEN) {
            out.push(e.path());
        }
    }
}

/// Every corpus file, sorted, with the targets it seeds.
fn corpus() -> &'static [(PathBuf, Vec<Kind>)] {
    static CORPUS: OnceLock<Vec<(PathBuf, Vec<Kind>)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut dirs = vec![common::fixtures()];
        match common::shared() {
            Some(shared) => dirs.extend([shared.join("corpus"), shared.join("sops-fixtures")]),
            None => eprintln!("fuzz smoke: seeding from fixtures/ only"),
        }
        let mut files = Vec::new();
        for d in &dirs {
            walk(d, &mut files);
        }
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let k = kinds_of(&f);
                (f, k)
            })
            .filter(|(_, k)| !k.is_empty())
            .collect()
    })
}

fn label(path: &Path) -> String {
    let root = common::root();
    let shared = root.join("..");
    path.strip_prefix(&root)
        .or_else(|_| path.strip_prefix(&shared))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The seeds of one kind, read and deduplicated by content.
fn files_of(kind: Kind) -> Vec<Seed> {
    let mut seen = std::collections::HashSet::new();
    corpus()
        .iter()
        .filter(|(_, k)| k.contains(&kind))
        .filter_map(|(p, _)| {
            let data = std::fs::read(p).ok()?;
            seen.insert(data.clone()).then(|| Seed {
                name: label(p),
                data,
            })
        })
        .collect()
}

/// Plain documents of one syntax, then those of them encrypt accepts, encrypted under the
/// fuzzers' fixed key.
fn document_seeds(syntax: Syntax) -> Vec<Seed> {
    let kind = match syntax {
        Syntax::Yaml => Kind::Yaml,
        Syntax::Json => Kind::Json,
        Syntax::Dotenv => Kind::Dotenv,
        // No TOML fuzz target yet: the corpus tests (tests/corpus_toml.rs) cover TOML.
        Syntax::Toml => return Vec::new(),
        Syntax::Ini => Kind::Ini,
        // Binary is JSON once encrypted: doc_json covers it.
        Syntax::Binary => return Vec::new(),
    };
    let plain = files_of(kind);
    let encrypted: Vec<Seed> = plain
        .iter()
        .filter_map(|s| {
            // A seed encrypt refuses (or a bug that panics) has no encrypted twin.
            let enc = quietly(|| properties::encrypt_seed(syntax, &s.data)).ok()??;
            Some(Seed {
                name: format!("{} (encrypted)", s.name),
                data: enc.into_bytes(),
            })
        })
        .collect();
    plain.into_iter().chain(encrypted).collect()
}

/// Encrypted documents of every syntax (for tokens and metadata blocks).
fn encrypted_documents() -> &'static [Seed] {
    static DOCS: OnceLock<Vec<Seed>> = OnceLock::new();
    DOCS.get_or_init(|| {
        [Syntax::Yaml, Syntax::Json, Syntax::Dotenv]
            .into_iter()
            .flat_map(document_seeds)
            .filter(|s| s.name.ends_with("(encrypted)"))
            .chain(
                common::files_in(&common::fixtures().join("encrypted"))
                    .into_iter()
                    .filter_map(|p| {
                        Some(Seed {
                            name: label(&p),
                            data: std::fs::read(&p).ok()?,
                        })
                    }),
            )
            .collect()
    })
}

fn token_seeds() -> Vec<Seed> {
    let re = regex::Regex::new(r"ENC\[AES256_GCM,data:[^\]]*\]").unwrap();
    let mut tokens: Vec<String> = encrypted_documents()
        .iter()
        .flat_map(|s| {
            re.find_iter(&String::from_utf8_lossy(&s.data))
                .map(|m| m.as_str().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens.truncate(200);
    let mut seeds: Vec<Seed> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| Seed {
            name: format!("token {i}"),
            data: t.into_bytes(),
        })
        .collect();
    for (name, data) in [
        ("synthetic token", &b"ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]"[..]),
        ("int value", b"int\0-42"),
        ("float value", b"float\0+Inf"),
    ] {
        seeds.push(Seed {
            name: name.into(),
            data: data.to_vec(),
        });
    }
    seeds
}

/// The `sops` blocks of the encrypted documents and of real SOPS files, as JSON.
fn metadata_seeds() -> Vec<Seed> {
    let mut sources: Vec<Seed> = encrypted_documents().to_vec();
    if let Some(shared) = common::shared() {
        let mut files = Vec::new();
        walk(&shared.join("sops-fixtures"), &mut files);
        files.sort();
        sources.extend(files.iter().filter_map(|p| {
            Some(Seed {
                name: label(p),
                data: std::fs::read(p).ok()?,
            })
        }));
    }
    let mut blocks: Vec<Vec<u8>> = sources
        .iter()
        .filter_map(|s| {
            let text = std::str::from_utf8(&s.data).ok()?;
            let doc = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .or_else(|| yaml_value::load(text).ok()?.into_iter().next())?;
            serde_json::to_vec(doc.get("sops")?).ok()
        })
        .collect();
    blocks.sort();
    blocks.dedup();
    blocks.truncate(200);
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, data)| Seed {
            name: format!("sops block {i}"),
            data,
        })
        .collect()
}

fn sops_config_seeds() -> Vec<Seed> {
    let mut seeds = files_of(Kind::SopsConfig);
    for (name, text) in [
        (
            "rules",
            "creation_rules:\n  - path_regex: prod/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    \
             age: age1dyfakjfehtk2evrs0uvpfyed65hd4k0ker0ynzjuqwslnd3quy2q5e4tet\n  - path_regex: \\.env$\n    \
             unencrypted_suffix: _plain\n    mac_only_encrypted: true\n    key_groups:\n      - age: \
             [age1dyfakjfehtk2evrs0uvpfyed65hd4k0ker0ynzjuqwslnd3quy2q5e4tet]\n    shamir_threshold: 1\n  - age: &k \
             ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN\n    \
             unencrypted_comment_regex: !!str sops:nocrypt\n",
        ),
        (
            "values",
            "a: &a [x, y]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\nn: 0x1F\no: 0o17\nf: .inf\nt: !!int \"12\"\n",
        ),
    ] {
        seeds.push(Seed {
            name: name.into(),
            data: text.as_bytes().to_vec(),
        });
    }
    seeds
}

/// A git filter session: handshake, then one request per document (pkt-line framing).
fn session(requests: &[(&str, &str, &[u8])]) -> Vec<u8> {
    fn pkt(out: &mut Vec<u8>, b: &[u8]) {
        out.extend(format!("{:04x}", b.len() + 4).as_bytes());
        out.extend(b);
    }
    let text = |out: &mut Vec<u8>, s: &str| pkt(out, format!("{s}\n").as_bytes());
    let mut out = Vec::new();
    text(&mut out, "git-filter-client");
    text(&mut out, "version=2");
    out.extend(b"0000");
    for c in ["capability=clean", "capability=smudge", "capability=delay"] {
        text(&mut out, c);
    }
    out.extend(b"0000");
    for (command, path, content) in requests {
        text(&mut out, &format!("command={command}"));
        text(&mut out, &format!("pathname={path}"));
        out.extend(b"0000");
        for chunk in content.chunks(65516) {
            pkt(&mut out, chunk);
        }
        out.extend(b"0000");
    }
    out
}

fn pktline_seeds() -> Vec<Seed> {
    let mut docs: Vec<(&str, Seed)> = Vec::new();
    for (kind, name) in [
        (Kind::Yaml, "s.yaml"),
        (Kind::Json, "s.json"),
        (Kind::Dotenv, ".env"),
    ] {
        docs.extend(
            files_of(kind)
                .into_iter()
                .filter(|s| s.data.len() < 8192)
                .take(40)
                .map(|s| (name, s)),
        );
    }
    for p in common::files_in(&common::fixtures().join("encrypted")) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let name: &'static str = Box::leak(name.into_boxed_str());
        if let Ok(data) = std::fs::read(&p) {
            docs.push((
                name,
                Seed {
                    name: label(&p),
                    data,
                },
            ));
        }
    }
    let mut seeds = vec![Seed {
        name: "handshake".into(),
        data: session(&[]),
    }];
    for (path, doc) in &docs {
        for command in ["clean", "smudge"] {
            seeds.push(Seed {
                name: format!("{command} {}", doc.name),
                data: session(&[(command, path, &doc.data)]),
            });
        }
    }
    seeds
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

/// What parsers treat specially.
const SPECIALS: &[&str] = &[
    "\r",
    "\n",
    "\r\n",
    "\0",
    "\u{feff}",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "#",
    " #",
    "&a",
    "*a",
    "&C[M]",
    "- ",
    "? ",
    "|",
    ">",
    "\\",
    "=",
    "export ",
    ",",
    "\t",
    "~",
    "!!str ",
    "---\n",
    "...\n",
    "ENC[AES256_GCM,",
    "\u{e9}",
    "\u{2028}",
    "  ",
    "{a}",
];

/// The next UTF-8 boundary at or after `p`.
fn boundary(d: &[u8], mut p: usize) -> usize {
    while p < d.len() && d[p] & 0xC0 == 0x80 {
        p += 1;
    }
    p
}

/// One to three mutations of `data`, keeping UTF-8 text valid.
fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = boundary(&d, rng.below(d.len() + 1));
        match rng.below(7) {
            0 => {
                if at < d.len() && d[at] < 0x80 {
                    d[at] ^= 1 << rng.below(7);
                }
            }
            1..=3 => {
                let s = SPECIALS[rng.below(SPECIALS.len())];
                d.splice(at..at, s.bytes());
            }
            4 => {
                let end = boundary(&d, (at + 1 + rng.below(16)).min(d.len()));
                d.drain(at..end);
            }
            5 => {
                let end = boundary(&d, (at + 1 + rng.below(32)).min(d.len()));
                let piece = d[at..end].to_vec();
                let to = boundary(&d, rng.below(d.len() + 1));
                d.splice(to..to, piece);
            }
            _ => d.truncate(at),
        }
    }
    d
}

// ---------------------------------------------------------------------------------------
// Known findings
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

thread_local! {
    /// The last panic's location and message, while [`quietly`] runs.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
    static QUIET: RefCell<bool> = const { RefCell::new(false) };
}

/// Runs `f`, catching a panic without printing it; the error is its location and the start
/// of its message.
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| *q.borrow()) {
                let msg = info
                    .payload()
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| info.payload().downcast_ref::<&str>().copied())
                    .unwrap_or("?");
                // The message may quote the input (a failed slice does): keep its start.
                let msg: String = msg.chars().take(100).collect();
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{at}: {msg}")));
            } else {
                default(info);
            }
        }));
    });
    QUIET.with(|q| *q.borrow_mut() = true);
    let out = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| *q.borrow_mut() = false);
    out.map_err(|_| CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_default())
}

/// What a smoke run of one target saw.
struct Report {
    target: String,
    /// Failures: where, and the panic.
    failures: Vec<String>,
    /// Failures beyond the first [`MAX_REPORTED`].
    more_failures: usize,
}

impl Report {
    /// Fails the test on any new failure.
    fn assert_clean(&self) {
        assert!(
            self.failures.is_empty(),
            "{}: {} failures:\n  {}",
            self.target,
            self.failures.len() + self.more_failures,
            self.failures.join("\n  ")
        );
    }
}

/// Runs `property` on every seed, then on mutations of them, within the budget.
fn smoke(target: &str, seeds: Vec<Seed>, property: impl Fn(&[u8])) -> Report {
    assert!(!seeds.is_empty(), "{target}: no seeds");
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15
        ^ target
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let mut report = Report {
        target: target.to_string(),
        failures: Vec::new(),
        more_failures: 0,
    };
    let mut check = |what: &str, input: &[u8]| {
        if let Err(msg) = quietly(|| property(input)) {
            if report.failures.len() < MAX_REPORTED {
                let saved = save_failure(target, report.failures.len(), input);
                report
                    .failures
                    .push(format!("{what}: {msg} (input saved as {saved})"));
            } else {
                report.more_failures += 1;
            }
        }
    };
    let mut seeds_run = 0;
    for s in &seeds {
        if start.elapsed() > BUDGET {
            break;
        }
        check(&s.name, &s.data);
        seeds_run += 1;
    }
    let mut mutations = 0;
    while mutations < MUTATIONS && start.elapsed() < BUDGET {
        let s = &seeds[mutations % seeds.len()];
        let input = mutate(&s.data, &mut rng);
        check(&format!("{} mutation {mutations}", s.name), &input);
        mutations += 1;
    }
    eprintln!(
        "fuzz smoke: {target}: {seeds_run}/{} seeds, {mutations} mutations in {:.1} s{}",
        seeds.len(),
        start.elapsed().as_secs_f64(),
        if mutations < MUTATIONS {
            " (stopped by the time budget)"
        } else {
            ""
        }
    );
    report
}

/// Saves a failing input for replay (`cargo fuzz run TARGET FILE`); returns its path.
fn save_failure(target: &str, n: usize, input: &[u8]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}-{n}", target.replace('/', "-")));
    let _ = std::fs::write(&path, input);
    path.display().to_string()
}

/// The document property of one syntax.
fn document(target: &str, syntax: Syntax) {
    smoke(target, document_seeds(syntax), |d| {
        properties::check_document(syntax, d)
    })
    .assert_clean();
}

#[test]
fn doc_yaml() {
    document("doc_yaml", Syntax::Yaml);
}

#[test]
fn doc_json() {
    document("doc_json", Syntax::Json);
}

#[test]
fn doc_dotenv() {
    document("doc_dotenv", Syntax::Dotenv);
}

#[test]
fn doc_ini() {
    document("doc_ini", Syntax::Ini);
}

#[test]
fn token() {
    smoke("token", token_seeds(), properties::check_token).assert_clean();
}

#[test]
fn metadata() {
    smoke("metadata", metadata_seeds(), properties::check_metadata).assert_clean();
}

#[test]
fn sops_config() {
    let dir = common::tempdir();
    let path = dir.path().join(".sops.yaml");
    smoke("sops_config", sops_config_seeds(), |d| {
        properties::check_sops_config(d, &path)
    })
    .assert_clean();
}

/// In the parent: runs this test again in a child process with a clean environment, in an
/// empty directory, with the (public) demo identity. In the child: the smoke run.
#[test]
fn pktline() {
    if std::env::var_os(CHILD).is_some() {
        smoke("pktline", pktline_seeds(), properties::check_pktline).assert_clean();
        return;
    }
    let dir = common::tempdir();
    let key = common::demo_key(dir.path());
    for d in ["home", "work", "tmp"] {
        std::fs::create_dir(dir.path().join(d)).expect("mkdir");
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["pktline", "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD, "1")
        .env("PATH", common::path_var())
        .env("HOME", dir.path().join("home"))
        .env("TMPDIR", dir.path().join("tmp"))
        .env("SOPS_AGE_KEY_FILE", &key.path)
        .env("SOPS_AGE_RECIPIENTS", &key.public)
        .current_dir(dir.path().join("work"))
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines().filter(|l| l.starts_with("fuzz smoke:")) {
        eprintln!("{line}");
    }
    assert!(
        out.status.success(),
        "the pktline smoke run failed:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The harness itself: a failing property is reported (with where and why, the input saved
/// and not shown), and the panics print nothing.
#[test]
fn the_harness_reports_failures() {
    let seeds = vec![Seed {
        name: "plain".into(),
        data: b"a: 1\n".to_vec(),
    }];
    let report = smoke("harness/doc_yaml", seeds, |d| {
        assert!(!d.starts_with(b"a: 1"), "canary");
    });
    assert!(!report.failures.is_empty());
    assert!(
        report.failures[0].starts_with("plain: "),
        "{}",
        report.failures[0]
    );
    assert!(
        report.failures[0].contains("canary"),
        "{}",
        report.failures[0]
    );
}

/// The repros of the findings of docs/security.md (all fixed) pass every property.
#[test]
fn former_findings_pass_every_property() {
    for (syntax, repro) in [
        (Syntax::Yaml, &b"password: s3cret # c\rb: 2\n"[..]),
        (Syntax::Yaml, b"a: b\r"),
        (Syntax::Yaml, b"\r::\n"),
        (Syntax::Yaml, b"{a}\n"),
        (Syntax::Yaml, b"{a:~}\n"),
        (Syntax::Yaml, b"a: 1\n\xef\xbb\xbf"),
        (Syntax::Yaml, b"a: &C[M]\n"),
        (Syntax::Yaml, b"x:\n  b: 1\n  # note"),
        (Syntax::Yaml, b"key2: fb *a*\xe2\x80\xa8\n"),
        (Syntax::Dotenv, b"A=1\nB_unencrypted=x\r"),
        (Syntax::Dotenv, b"A=1\n\r"),
    ] {
        if let Err(msg) = quietly(|| properties::check_document(syntax, repro)) {
            panic!("{syntax:?} {:?}: {msg}", String::from_utf8_lossy(repro));
        }
    }
}
