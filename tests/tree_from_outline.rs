//! The typed tree that `exec` and `decrypt --extract`/`--output-type` read, built by the
//! decrypt pass from the ciphertext's outline (docs/architecture.md, "One parse per
//! syntax"), is the tree the data reader builds from the plaintext: over the shared
//! corpus's YAML files (yaml-test-suite, Helm values, Compose files), the fixtures and
//! hand-written edge cases, with every value encrypted and with most left in clear text.
//! Where the fast path gives up, the plaintext parse is used; the test also checks that
//! it applies to most files, so that it is not silently never taken.
//!
//! Failures are reported by file name and key path only (never with values).

mod common;

use std::path::{Path, PathBuf};

use common::{assert_no_failures, files_in, par_check, shared};
use sealed::codec::selection::Selection;
use sealed::codec::token::DataKey;
use sealed::engine::{Sealed, encrypt_with_key};
use sealed::format::Syntax;
use sealed::format::tree::Node;

/// Where two trees first differ (a key path), or `None` when they are the same.
fn difference(a: &Node, b: &Node, at: &str) -> Option<String> {
    match (a, b) {
        (Node::Map(x), Node::Map(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} entries against {}", x.len(), y.len()));
            }
            x.iter().zip(y).find_map(|((ka, va), (kb, vb))| {
                if ka != kb {
                    Some(format!("{at}: keys differ"))
                } else {
                    difference(va, vb, &format!("{at}.{ka}"))
                }
            })
        }
        (Node::List(x), Node::List(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} items against {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (va, vb))| difference(va, vb, &format!("{at}[{i}]")))
        }
        (Node::Scalar(x), Node::Scalar(y)) => {
            if x.kind != y.kind {
                Some(format!("{at}: types differ"))
            } else if *x.text != *y.text {
                Some(format!("{at}: texts differ"))
            } else {
                None
            }
        }
        _ => Some(format!("{at}: shapes differ")),
    }
}

/// Encrypts `src` under a fresh data key with `selection`, decrypts it with the tree built
/// from the outline, and compares that tree with the plaintext parse. `Ok(true)`: the fast
/// path applied and agrees; `Ok(false)`: it gave up (or the file is not one sealed
/// encrypts); `Err`: they differ.
fn agrees(src: &str, selection: &Selection) -> Result<bool, String> {
    let format = Syntax::Yaml.format();
    let key = DataKey::generate();
    let Ok((enc, _)) = encrypt_with_key(src, format, &key, Vec::new(), None, selection) else {
        return Ok(false);
    };
    let sealed = Sealed::parse_for_tree(&enc, format).map_err(|_| "cannot parse its encryption")?;
    let (plain, tree) = sealed
        .decrypt_to_tree(&key)
        .map_err(|_| "cannot decrypt its encryption")?;
    if *plain != *src {
        return Err("decrypt(encrypt(x)) differs from x".into());
    }
    let Some(tree) = tree else {
        return Ok(false);
    };
    let parsed = sealed::data::load(&plain, Syntax::Yaml)
        .map_err(|e| format!("the fast path built a tree where the parse fails: {e}"))?;
    match difference(&tree, &parsed.root, "(root)") {
        None => Ok(true),
        Some(d) => Err(format!("trees differ at {d}")),
    }
}

/// Every value encrypted, sops's default suffix, and only keys starting with a–f (most
/// values in clear text).
fn selections() -> [Selection; 3] {
    [
        Selection::default(),
        Selection {
            unencrypted_suffix: Some("_unencrypted".into()),
            ..Selection::default()
        },
        Selection {
            encrypted_regex: Some("^[a-f]".into()),
            ..Selection::default()
        },
    ]
}

/// Checks every file; returns how many took the fast path (over both selections).
fn check_files(what: &str, files: &[PathBuf], base: &Path) -> usize {
    let fast = std::sync::atomic::AtomicUsize::new(0);
    let failures = par_check(files, |file| {
        let name = file
            .strip_prefix(base)
            .unwrap_or(file)
            .display()
            .to_string();
        let Ok(src) = std::fs::read_to_string(file) else {
            return Ok(());
        };
        for selection in &selections() {
            if agrees(&src, selection).map_err(|e| format!("{name}: {e}"))? {
                fast.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    });
    assert_no_failures(what, files.len(), &failures);
    fast.into_inner()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    files_in(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect()
}

#[test]
fn fixtures_tree_from_outline_is_the_parsed_tree() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let files = yaml_files(&base.join("plain"));
    assert!(files.len() >= 5, "only {} fixtures", files.len());
    let fast = check_files("fixtures", &files, &base);
    // multidoc.yaml (documents) and styles.yaml (aliases, a tag) fall back; the others
    // take the fast path with every selection.
    let runs = selections().len();
    assert!(
        fast >= runs * (files.len() - 2),
        "the fast path applied {fast} times"
    );
    // styles.yaml without its anchors, tag and later documents: every style of value.
    let styles = std::fs::read_to_string(base.join("plain/styles.yaml")).unwrap();
    let (first, _) = styles.split_once("\n---").unwrap();
    let (head, rest) = first.split_once("anchors:\n").unwrap();
    let (_, tail) = rest.split_once("region_unencrypted").unwrap();
    let text = format!("{head}region_unencrypted{tail}\n").replace("tagged: !!str", "tagged:");
    for selection in &selections() {
        assert_eq!(agrees(&text, selection), Ok(true), "styles.yaml, cut");
    }
}

#[test]
fn corpus_tree_from_outline_is_the_parsed_tree() {
    let Some(shared) = shared() else {
        return;
    };
    let corpus = shared.join("corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("yaml-test-suite"))
        .unwrap()
        .map(|e| e.unwrap().path().join("in.yaml"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let suite = files.len();
    let mut real = yaml_files(&corpus.join("helm-values"));
    real.extend(yaml_files(&corpus.join("compose")));
    let fast_real = check_files("helm values and compose files", &real, &corpus);
    let fast_suite = check_files("yaml-test-suite", &files, &corpus);
    assert!(
        fast_real >= real.len(),
        "the fast path applied {fast_real} times over {} real files",
        real.len()
    );
    assert!(
        fast_suite >= suite / 2,
        "the fast path applied {fast_suite} times over {suite} suite cases"
    );
}

#[test]
fn edge_cases_fall_back_or_agree() {
    let cases: &[(&str, bool)] = &[
        (
            "a: 1\nb: 0x10\nc: 1.50\nd: True\ne: ~\nf:\ng: .inf\nh: 0755\ni: y\nj: no\n",
            true,
        ),
        // An empty block scalar (the outline records it as a plain empty string).
        ("x: |\n\ny: 1\n", false),
        (
            "a: 'x'\nb: \"y\\tz\"\nc: |\n  line\n  two\nd: >-\n  folded\n  text\n",
            true,
        ),
        (
            "\"q\\u00e9\": 1\n'k''s': 2\n1: one\ntrue: yes\nnull: x\n",
            true,
        ),
        ("a: {b: [1, {c: d}], e: []}\nf: [[], {}]\n", true),
        ("a:\n- b: 1\n  c: [x, y]\n- - nested\n  - 2\n", true),
        ("a: plain\n  continued\n  lines\nb: 2001-12-14\n", true),
        // A block scalar at the end of a file without a final line break.
        ("a: 1\nb: |\n  last", false),
        // Several documents, an alias, a tag, a complex key: the plaintext is parsed.
        ("a: 1\n---\nb: 2\n", false),
        ("a: &x 1\nb: *x\n", false),
        ("a: !!str 1\n", false),
        ("? [x, y]\n: 1\nb: 2\n", false),
        ("a:\n  ? - x\n  : 1\n", false),
        ("&k [x]: 1\n", false),
        ("?\n- a\n: x\n", false),
        ("?\n  a: 1\n: x\n", false),
        ("a: [b: c, {d: e}]\nf: {[g]: h}\n", false),
        ("a: [b: c, {d: e}]\n", true),
    ];
    let mut failures = Vec::new();
    for (i, (src, fast)) in cases.iter().enumerate() {
        for (j, selection) in selections().iter().enumerate() {
            match agrees(src, selection) {
                Err(e) => failures.push(format!("case {i}/{j}: {e}")),
                Ok(took) if took != *fast && j == 0 => {
                    failures.push(format!("case {i}/{j}: fast path {took}, expected {fast}"))
                }
                Ok(_) => {}
            }
        }
    }
    assert_no_failures("edge cases", cases.len(), &failures);
}
