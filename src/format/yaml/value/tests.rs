use super::*;
use crate::format::tree::{DataError, Node};
use crate::format::yaml::typing::resolve_plain;
use serde_json::json;

fn one(src: &str) -> Value {
    let mut docs = load(src).expect("valid YAML");
    assert_eq!(docs.len(), 1, "one document in {src:?}");
    docs.remove(0)
}

fn scalar(src: &str) -> Value {
    one(&format!("k: {src}\n"))["k"].clone()
}

#[test]
fn plain_scalar_typing() {
    assert_eq!(scalar(""), Value::Null);
    assert_eq!(scalar("~"), Value::Null);
    assert_eq!(scalar("null"), Value::Null);
    assert_eq!(scalar("NULL"), Value::Null);
    assert_eq!(scalar("true"), json!(true));
    assert_eq!(scalar("True"), json!(true));
    assert_eq!(scalar("FALSE"), json!(false));
    assert_eq!(scalar("yes"), json!("yes"));
    assert_eq!(scalar("off"), json!("off"));
    assert_eq!(scalar("42"), json!(42));
    assert_eq!(scalar("-42"), json!(-42));
    assert_eq!(scalar("+7"), json!(7));
    assert_eq!(scalar("1_000"), json!(1000));
    assert_eq!(scalar("0x10"), json!(16));
    assert_eq!(scalar("0o17"), json!(15));
    assert_eq!(scalar("0b101"), json!(5));
    assert_eq!(scalar("007"), json!(7));
    assert_eq!(scalar("010"), json!(8));
    assert_eq!(scalar("09"), json!(9.0));
    assert_eq!(scalar("18446744073709551615"), json!(u64::MAX));
    assert_eq!(scalar("-9223372036854775808"), json!(i64::MIN));
    assert_eq!(scalar("1e3"), json!(1000.0));
    assert_eq!(scalar("0.75"), json!(0.75));
    assert_eq!(scalar(".5"), json!(0.5));
    assert_eq!(scalar("1."), json!(1.0));
    assert_eq!(scalar("1e400"), json!("1e400"));
    assert_eq!(scalar(".inf"), json!(".inf"));
    assert_eq!(scalar("-.Inf"), json!("-.Inf"));
    assert_eq!(scalar(".NaN"), json!(".NaN"));
    assert_eq!(scalar("2024-01-01"), json!("2024-01-01"));
    assert_eq!(
        scalar("2024-01-01T10:00:00Z"),
        json!("2024-01-01T10:00:00Z")
    );
    assert_eq!(scalar("0x"), json!("0x"));
    assert_eq!(resolve_plain("-"), Kind::Str);
    assert_eq!(resolve_plain("+"), Kind::Str);
    assert_eq!(scalar("1.2.3"), json!("1.2.3"));
    assert_eq!(scalar("hello world"), json!("hello world"));
    assert_eq!(scalar("'42'"), json!("42"));
    assert_eq!(scalar("\"true\""), json!("true"));
    assert_eq!(scalar("''"), json!(""));
    assert_eq!(scalar("|\n  x\n"), json!("x\n"));
}

#[test]
fn tags() {
    assert_eq!(scalar("!!str 42"), json!("42"));
    assert_eq!(scalar("!!str true"), json!("true"));
    assert_eq!(scalar("!!int \"42\""), json!(42));
    assert_eq!(scalar("!!float 1"), json!(1.0));
    assert_eq!(scalar("!!bool 'true'"), json!(true));
    assert_eq!(scalar("!!null ''"), Value::Null);
    assert_eq!(scalar("!custom 42"), json!("42"));
    assert_eq!(scalar("! 42"), json!("42"));
    assert_eq!(scalar("!<tag:yaml.org,2002:str> 42"), json!("42"));
    assert!(load("k: !!int abc\n").is_err());
    assert!(load("k: !!bool 1\n").is_err());
    assert_eq!(one("k: !!map {a: 1}\n"), json!({"k": {"a": 1}}));
}

#[test]
fn structure_and_documents() {
    assert_eq!(load("").unwrap(), Vec::<Value>::new());
    assert_eq!(load("---\n").unwrap(), vec![Value::Null]);
    let docs = load("a: 1\n---\n- x\n- {b: [1, 2]}\n...\n---\nplain\n").unwrap();
    assert_eq!(
        docs,
        vec![json!({"a": 1}), json!(["x", {"b": [1, 2]}]), json!("plain")]
    );
    // Keys become their text, order is kept.
    assert_eq!(
        one("z: 1\n1: a\ntrue: b\n~: c\n0x10: d\n"),
        json!({"z": 1, "1": "a", "true": "b", "~": "c", "0x10": "d"})
    );
    let v = one("z: 1\na: 2\nm: 3\n");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a", "m"]);
    // BOM.
    assert_eq!(one("\u{feff}a: b\n"), json!({"a": "b"}));
}

#[test]
fn anchors_and_aliases() {
    let v = one("base: &b {x: 1, y: [a, b]}\ncopy: *b\nname: &n hello\nagain: *n\n*n : key\n");
    assert_eq!(
        v,
        json!({
            "base": {"x": 1, "y": ["a", "b"]},
            "copy": {"x": 1, "y": ["a", "b"]},
            "name": "hello",
            "again": "hello",
            "hello": "key",
        })
    );
    // Redefined anchors: the latest definition wins.
    assert_eq!(one("- &a 1\n- *a\n- &a 2\n- *a\n"), json!([1, 1, 2, 2]));
    // Typed scalars keep their type through an alias.
    assert_eq!(one("a: &t true\nb: *t\n"), json!({"a": true, "b": true}));
    // Merge keys are left as plain keys.
    assert_eq!(
        one("d: &d {a: 1}\ne:\n  <<: *d\n  b: 2\n"),
        json!({"d": {"a": 1}, "e": {"<<": {"a": 1}, "b": 2}})
    );
}

#[test]
fn unknown_and_recursive_aliases_fail() {
    let err = load("a: 1\nb: *nope\n").unwrap_err();
    assert_eq!(err.offset, 8);
    // The anchor refers to the node that contains the alias.
    let err = load("a: &x [1, *x]\n").unwrap_err();
    assert_eq!(err.msg, "alias refers to an unfinished node");
    assert_eq!(err.offset, 10);
    // Anchors do not cross documents.
    assert!(load("a: &x 1\n---\nb: *x\n").is_err());
}

#[test]
fn collection_keys_fail() {
    assert!(load("? [a, b]\n: 1\n").is_err());
    assert!(load("? {a: 1}\n: 1\n").is_err());
    let err = load("l: &l [1]\n*l : 2\n").unwrap_err();
    assert_eq!(err.msg, "mapping key is not a scalar");
}

#[test]
fn duplicate_keys_fail() {
    let err = load("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(err.msg, "duplicate mapping key");
    assert_eq!(err.offset, 10);
}

#[test]
fn billion_laughs_hits_the_budget() {
    let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let list = [prev.as_str(); 10].join(", ");
        src.push_str(&format!("a{i}: &a{i} [{list}]\n"));
    }
    let err = load(&src).unwrap_err();
    assert_eq!(err.msg, "too many alias expansions");
    assert!(err.offset > 0 && err.offset < src.len());
    // A moderate amount of aliasing is fine.
    let mut ok = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..4 {
        let prev = format!("*a{}", i - 1);
        let list = [prev.as_str(); 10].join(", ");
        ok.push_str(&format!("a{i}: &a{i} [{list}]\n"));
    }
    let v = one(&ok);
    assert_eq!(v["a3"].as_array().unwrap().len(), 10);
    assert_eq!(v["a3"][9][9][9][9], json!("x"));
}

#[test]
fn byte_budget_is_enforced() {
    let big = "y".repeat(1 << 20);
    let mut src = format!("s: &s {big}\nl:\n");
    for _ in 0..20 {
        src.push_str("  - *s\n");
    }
    assert_eq!(load(&src).unwrap_err().msg, "too many alias expansions");
}

#[test]
fn deep_nesting_fails_without_overflow() {
    // Block sequences nest without limit in the parser: `- - - … x`.
    let deep = format!("{}x\n", "- ".repeat(100_000));
    let err = load(&deep).unwrap_err();
    assert_eq!(err.msg, "nesting too deep");
    assert_eq!(err.offset, 2 * MAX_DEPTH);
    let ok = format!("{}x\n", "- ".repeat(MAX_DEPTH));
    let mut v = &one(&ok);
    for _ in 0..MAX_DEPTH {
        v = &v[0];
    }
    assert_eq!(v, &json!("x"));
    // Flow collections: the parser itself stops at 255 levels.
    assert!(load(&"[".repeat(100_000)).is_err());
    // Aliases cannot be used to exceed the limit either.
    let src = format!("a: &a\n  {}x\nb:\n  - *a\n", "- ".repeat(MAX_DEPTH - 1));
    let err = load(&src).unwrap_err();
    assert_eq!(err.msg, "nesting too deep");
    assert_eq!(&src[err.offset..], "*a\n");
    let src = format!("a: &a\n  {}x\nb: *a\n", "- ".repeat(MAX_DEPTH - 1));
    assert!(load(&src).is_ok());
}

#[test]
fn syntax_error_offsets_are_bytes() {
    // "é" and "€" are multi-byte: the offset must count bytes, not characters.
    let src = "k: \"é€\"\nbad: [1, 2\n";
    let err = load(src).unwrap_err();
    assert!(err.offset <= src.len());
    assert!(src.is_char_boundary(err.offset));
    let src = "é: x\n  - y: z\n";
    let err = load(src).unwrap_err();
    assert_eq!(err.offset, 11);
    assert_eq!(&src[err.offset..err.offset + 1], ":");
    let src = "\u{feff}é€: x\n  - y: z\n";
    let err = load(src).unwrap_err();
    assert_eq!(&src[err.offset..err.offset + 1], ":");
    let src = "k: \"€\"\nv: *missing\n";
    let err = load(src).unwrap_err();
    assert_eq!(&src[err.offset..], "*missing\n");
    // Messages never quote the source.
    let err = load("a: 1\n@x: 2\n").unwrap_err();
    assert!(!err.msg.contains('@'), "{}", err.msg);
}

fn flat(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Map(m) => m.iter().for_each(|(k, v)| {
            out.push(format!("k:{k}"));
            flat(v, out)
        }),
        Node::List(l) => l.iter().for_each(|v| flat(v, out)),
        Node::Scalar(s) => out.push(format!("{:?}={}", s.kind, &*s.text)),
    }
}

fn walk(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    flat(&tree(src).unwrap_or_else(|e| panic!("{e}")), &mut out);
    out
}

#[test]
fn scalars_keep_their_text_and_type() {
    assert_eq!(
        walk("a: 0755\nb: True\nc: 1.50\nd: ~\ne: '007'\nf: !!str 12\ng:\n"),
        [
            "k:a",
            "Number(Number(493))=0755",
            "k:b",
            "Bool(true)=True",
            "k:c",
            "Number(Number(1.5))=1.50",
            "k:d",
            "Null=~",
            "k:e",
            "Str=007",
            "k:f",
            "Str=12",
            "k:g",
            "Null=",
        ]
    );
}

#[test]
fn aliases_expand_with_their_texts() {
    let src = "base: &b {port: 0x10, host: h}\ncopy: *b\n&k key: v\nalias_of_key: *k\nlist: &l [1, two]\nagain: *l\n";
    assert_eq!(
        walk(src),
        [
            "k:base",
            "k:port",
            "Number(Number(16))=0x10",
            "k:host",
            "Str=h",
            "k:copy",
            "k:port",
            "Number(Number(16))=0x10",
            "k:host",
            "Str=h",
            "k:key",
            "Str=v",
            "k:alias_of_key",
            "Str=key",
            "k:list",
            "Number(Number(1))=1",
            "Str=two",
            "k:again",
            "Number(Number(1))=1",
            "Str=two",
        ]
    );
}

#[test]
fn syntax_errors_carry_an_offset() {
    assert!(matches!(tree("a: [1\n"), Err(DataError::Syntax { .. })));
    assert!(matches!(tree(""), Err(DataError::NotMapping)));
}

/// Every mapping document of the shared YAML corpus loads without the two passes
/// disagreeing.
#[test]
fn corpus_loads_consistently() {
    let Some(root) = crate::testutil::shared("corpus") else {
        return;
    };
    let mut checked = 0;
    for p in crate::testutil::files_below(&root) {
        let yamlish = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
        let Ok(src) = std::fs::read_to_string(&p) else {
            continue;
        };
        if !yamlish {
            continue;
        }
        match tree(&src) {
            Err(DataError::Internal(m)) => panic!("{}: {m}", p.display()),
            Ok(node) => {
                checked += 1;
                // The emitters write the same data back.
                let want = &load(&src).expect("loaded once")[0];
                // An empty document is read as an empty mapping, as SOPS reads it.
                let empty = Value::Object(Default::default());
                let want = if want.is_null() { &empty } else { want };
                let yaml = crate::data::emit::emit(
                    &node,
                    crate::format::Syntax::Yaml,
                    crate::data::emit::OutputType::Yaml,
                )
                .expect("emits");
                let back =
                    load(&yaml).unwrap_or_else(|e| panic!("{}: {e:?}\n{}", p.display(), &*yaml));
                assert_eq!(&back[0], want, "{}\n{}", p.display(), &*yaml);
                let json = crate::data::emit::emit(
                    &node,
                    crate::format::Syntax::Yaml,
                    crate::data::emit::OutputType::Json,
                )
                .expect("emits");
                let back: Value = serde_json::from_str(&json)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), &*json));
                // A timestamp is converted to RFC 3339, as sops writes it (tests/stores.rs
                // `yaml_timestamps_convert_as_sops_writes_them`); the rest is as loaded.
                if !has_time(&node) {
                    assert_eq!(&back, want, "{}", p.display());
                }
            }
            Err(_) => {}
        }
    }
    eprintln!("{checked} corpus documents checked");
    assert!(checked > 100);
}

/// Whether a tree holds a YAML timestamp.
fn has_time(node: &crate::format::tree::Node) -> bool {
    use crate::format::tree::{Kind, Node};
    match node {
        Node::Map(entries) => entries.iter().any(|(_, n)| has_time(n)),
        Node::List(items) => items.iter().any(has_time),
        Node::Scalar(s) => matches!(s.kind, Kind::Time(_)),
    }
}
