use super::*;

fn leaves<'a>(doc: &'a Document<'a>) -> Vec<&'a Leaf<'a>> {
    doc.items
        .iter()
        .filter_map(|i| match i {
            Item::Leaf(l) => Some(l),
            _ => None,
        })
        .collect()
}

fn parse(src: &str) -> Outline<'_> {
    Json.parse_tree(src).expect("parses")
}

fn err(src: &str) -> SyntaxError {
    Json.parse(src).expect_err("rejected")
}

#[test]
fn nested_spans_paths_values_and_entry_ends() {
    let src =
        "{\n  \"a\": {\"b\": \"x\\ny\", \"c\": [1, {\"d\": true}, null]},\n  \"e\": -2.5\n}\n";
    let o = parse(src);
    assert_eq!(o.eol, "\n");
    let doc = &o.docs[0];
    let ls = leaves(doc);
    assert_eq!(ls.len(), 5);
    assert_eq!(ls[0].path, vec!["a", "b"]);
    assert_eq!(&src[ls[0].span.clone()], "\"x\\ny\"");
    assert_eq!(ls[0].value, Scalar::Str("x\ny".into()));
    assert_eq!(ls[0].style, Style::JsonString);
    assert_eq!(ls[0].depth, 1);
    assert_eq!(ls[1].path, vec!["a", "c"]);
    assert_eq!(ls[1].value, Scalar::Int(1));
    assert_eq!(ls[1].depth, 2);
    assert_eq!(ls[2].path, vec!["a", "c", "d"]);
    assert_eq!(ls[2].value, Scalar::Bool(true));
    assert_eq!(ls[2].depth, 3);
    assert_eq!(&src[ls[2].span.clone()], "true");
    assert_eq!(ls[3].value, Scalar::Null);
    assert_eq!(ls[3].depth, 2);
    assert_eq!(ls[4].path, vec!["e"]);
    assert_eq!(ls[4].value, Scalar::Float(-2.5));
    assert_eq!(ls[4].depth, 0);
    assert!(!ls[4].in_flow);
    // Walk order with entry ends.
    let shape: Vec<String> = doc
        .items
        .iter()
        .map(|i| match i {
            Item::Leaf(l) => format!("L{}", l.path.join(".")),
            Item::EntryEnd(d) => format!("E{d}"),
            Item::Comment(_) => "C".into(),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "La.b", "E1", "La.c", "E2", "La.c.d", "E3", "E2", "La.c", "E2", "E1", "E0", "Le", "E0"
        ]
    );
    assert!(doc.sops.is_none());
    assert_eq!(
        doc.insertion,
        Insertion::Flow {
            at: src.find("-2.5").unwrap() + 4,
            empty: false
        }
    );
    assert_eq!(doc.indent_unit, "  ");
    assert_eq!(doc.member_indent, "  ");
}

#[test]
fn tree_nodes() {
    let src = "{\n  \"a\": [1, {\"b\": null}],\n  \"sops\": {\"mac\": \"m\"},\n  \"c\" : \"x\"\n}";
    let o = parse(src);
    let got: Vec<(Vec<Step>, NodeKind, &str, &str)> = o.docs[0]
        .nodes
        .iter()
        .map(|n| {
            (
                n.steps.clone(),
                n.kind,
                &src[n.span.clone()],
                n.key.clone().map_or("", |k| &src[k]),
            )
        })
        .collect();
    let k = |s: &str| Step::Key(s.into());
    assert_eq!(
        got,
        vec![
            (vec![], NodeKind::Map, src, ""),
            (vec![k("a")], NodeKind::Seq, "[1, {\"b\": null}]", "\"a\""),
            (vec![k("a"), Step::Index(0)], NodeKind::Scalar, "1", ""),
            (
                vec![k("a"), Step::Index(1)],
                NodeKind::Map,
                "{\"b\": null}",
                ""
            ),
            (
                vec![k("a"), Step::Index(1), k("b")],
                NodeKind::Scalar,
                "null",
                "\"b\""
            ),
            (vec![k("c")], NodeKind::Scalar, "\"x\"", "\"c\""),
        ]
    );
    let n = &o.docs[0].nodes;
    assert!(n.iter().all(|n| n.flow));
    assert_eq!(n[5].entry_start, src.find("\"c\"").unwrap());
    assert!(
        matches!(&o.docs[0].items[n[4].leaf.unwrap()], Item::Leaf(l) if l.value == Scalar::Null)
    );
}

#[test]
fn number_typing() {
    let src = r#"{"a":0,"b":-0,"c":9223372036854775807,"d":9223372036854775808,"e":1e3,"f":1.0,"g":-1E-2,"h":1e-400}"#;
    let o = parse(src);
    let v: Vec<Scalar> = leaves(&o.docs[0]).iter().map(|l| l.value.clone()).collect();
    assert_eq!(v[0], Scalar::Int(0));
    assert_eq!(v[1], Scalar::Int(0));
    assert_eq!(v[2], Scalar::Int(i64::MAX));
    assert_eq!(v[3], Scalar::Float(9223372036854775808.0));
    assert_eq!(v[4], Scalar::Float(1000.0));
    assert_eq!(v[5], Scalar::Float(1.0));
    assert_eq!(v[6], Scalar::Float(-0.01));
    assert_eq!(v[7], Scalar::Float(0.0));
    for big in ["1e400", "-1e400", "1.5e309"] {
        let e = Json.parse(&format!("{{\"a\": {big}}}")).unwrap_err();
        assert_eq!(e.offset, 6, "{big}");
        assert!(e.msg.contains("out of the range"), "{big}: {}", e.msg);
    }
    for bad in [
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.1}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":-}",
    ] {
        err(bad);
    }
}

#[test]
fn render_is_canonical() {
    let j = Json;
    let r = |v: Scalar| j.render(&Style::JsonString, false, &v);
    assert_eq!(
        r(Scalar::Str("a\"b\\c\n\t\u{1}/é".into())),
        "\"a\\\"b\\\\c\\n\\t\\u0001/é\""
    );
    assert_eq!(r(Scalar::Int(-5)), "-5");
    assert_eq!(r(Scalar::Float(1000.0)), "1000");
    assert_eq!(r(Scalar::Float(0.75)), "0.75");
    assert_eq!(r(Scalar::Float(1e21)), "1000000000000000000000");
    assert_eq!(r(Scalar::Float(f64::INFINITY)), "\"+Inf\"");
    assert_eq!(r(Scalar::Float(f64::NEG_INFINITY)), "\"-Inf\"");
    assert_eq!(r(Scalar::Float(f64::NAN)), "\"NaN\"");
    assert_eq!(r(Scalar::Bool(false)), "false");
    assert_eq!(r(Scalar::Null), "null");
    assert_eq!(
        r(Scalar::Time("2020-01-01T00:00:00Z".into())),
        "\"2020-01-01T00:00:00Z\""
    );
}

#[test]
fn token_text_parses_back_as_reported() {
    let src = "{\"a\": 5}";
    let o = parse(src);
    let leaf = leaves(&o.docs[0])[0].clone();
    let tok = "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:int]";
    let (text, style) = Json.token_text(&leaf, tok);
    let mut enc = src.to_string();
    enc.replace_range(leaf.span.clone(), &text);
    let o2 = parse(&enc);
    let l2 = leaves(&o2.docs[0])[0].clone();
    assert_eq!(l2.style, style);
    assert_eq!(l2.value, Scalar::Str(tok.into()));
}

#[test]
fn bom_and_crlf() {
    let src = "\u{feff}{\r\n\t\"k\": \"v\"\r\n}\r\n";
    let o = parse(src);
    assert_eq!(o.eol, "\r\n");
    let l = leaves(&o.docs[0])[0].clone();
    assert_eq!(&src[l.span.clone()], "\"v\"");
    assert_eq!(l.span.start, src.find("\"v\"").unwrap());
    assert_eq!(o.docs[0].member_indent, "\t");
    assert_eq!(o.docs[0].indent_unit, "\t");
}

#[test]
fn errors_have_offsets_and_no_source_text() {
    let e = err("[1]");
    assert_eq!(e, SyntaxError::new(0, "top level must be an object"));
    let e = err("{\"secret\" 1}");
    assert_eq!(e.offset, 10);
    assert_eq!(e.msg, "expected ':' after object key");
    let e = err("{\"a\": 1,}");
    assert_eq!(e.offset, 8);
    let e = err("{\"a\": \"hunter2\ttab\"}");
    assert_eq!(e.offset, 14);
    assert!(!e.msg.contains("hunter2"));
    let e = err("{\"a\": 1} x");
    assert_eq!(e.offset, 9);
    assert_eq!(err("").msg, "unexpected end of input");
    assert_eq!(err("  ").offset, 2);
    err("{\"a\": \"\\ud800\"}");
    err("{\"a\": \"\\x\"}");
    err("{\"a\": tru}");
    err("{\"a\": 1");
    err("{\"a\": [1 2]}");
    err("{\"a\" 1}");
    err("{'a': 1}");
    // Trailing whitespace is fine.
    parse("{} \n\t\r\n");
    // Duplicate keys are kept.
    assert_eq!(leaves(&parse("{\"a\":1,\"a\":2}").docs[0]).len(), 2);
    // Surrogate pairs decode.
    let o = parse("{\"a\": \"\\ud834\\udd1e\"}");
    assert_eq!(leaves(&o.docs[0])[0].value, Scalar::Str("\u{1d11e}".into()));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 100_000;
    let src = format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
    let e = err(&src);
    assert!(e.msg.contains("nesting"));
    let ok = format!("{{\"a\":{}{}}}", "[".repeat(998), "]".repeat(998));
    parse(&ok);
    let bad = format!("{{\"a\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
    err(&bad);
}

/// Splices metadata as the engine does, parses back, removes the removal range.
fn roundtrip(src: &str) {
    let o = parse(src);
    let doc = &o.docs[0];
    let meta = serde_json::json!({
        "age": [{"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nAAA\n-----END AGE ENCRYPTED FILE-----\n"}],
        "lastmodified": "2026-01-01T00:00:00Z",
        "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
        "unencrypted_suffix": "_unencrypted",
        "version": "3.11.0"
    });
    let text = Json.metadata_text(&meta, &o, doc);
    let Insertion::Flow { at, empty } = doc.insertion else {
        panic!("flow insertion expected")
    };
    let mut enc = String::new();
    enc.push_str(&src[..at]);
    if !empty {
        enc.push(',');
    }
    enc.push_str(&text);
    enc.push_str(&src[at..]);
    let o2 = Json
        .parse(&enc)
        .unwrap_or_else(|e| panic!("{e:?} in {enc}"));
    let sops = o2.docs[0].sops.clone().expect("sops entry");
    assert_eq!(sops.value, meta);
    // The leaves are the same.
    assert_eq!(o2.docs[0].items.len(), doc.items.len());
    let mut back = enc.clone();
    back.replace_range(sops.removal.clone(), "");
    assert_eq!(back, src, "encrypted form:\n{enc}");
}

#[test]
fn insertion_then_removal_is_identity() {
    roundtrip("{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"c\": \"d\"\n\t}\n}\n");
    roundtrip("{\n    \"a\": [\n        1\n    ]\n}");
    roundtrip("{\"a\":1,\"b\":[true,null]}");
    roundtrip("{\"a\": 1, \"b\": 2}\n");
    roundtrip("{}");
    roundtrip("{}\n");
    roundtrip("{\n}\n");
    roundtrip("{\r\n  \"a\": \"x\",\r\n  \"b\": {\r\n    \"c\": 2\r\n  }\r\n}\r\n");
    roundtrip("\u{feff}{\n  \"a\": 1\n}\n");
    let o = parse("{\n  \"a\": {\n    \"b\": 1\n  }\n}\n");
    let text = Json.metadata_text(
        &serde_json::json!({"age": [{"r": "x"}], "v": "1"}),
        &o,
        &o.docs[0],
    );
    assert_eq!(
        text,
        "\n  \"sops\": {\n    \"age\": [\n      {\n        \"r\": \"x\"\n      }\n    ],\n    \"v\": \"1\"\n  }"
    );
}

#[test]
fn sops_member_elsewhere_is_removed_cleanly() {
    let src = "{\n\t\"sops\": {\"mac\": \"m\"},\n\t\"a\": 1\n}\n";
    let o = parse(src);
    let sops = o.docs[0].sops.clone().unwrap();
    let mut s = src.to_string();
    s.replace_range(sops.removal, "");
    assert_eq!(s, "{\n\t\"a\": 1\n}\n");
    assert_eq!(leaves(&o.docs[0]).len(), 1);
    let src = "{\"a\": 1, \"sops\": {\"mac\": \"m\"}, \"b\": 2}";
    let o = parse(src);
    let sops = o.docs[0].sops.clone().unwrap();
    let mut s = src.to_string();
    s.replace_range(sops.removal, "");
    assert_eq!(s, "{\"a\": 1, \"b\": 2}");
    // A non-object `sops` is an ordinary member.
    let o = parse("{\"sops\": 1}");
    assert!(o.docs[0].sops.is_none());
    assert_eq!(leaves(&o.docs[0]).len(), 1);
    err("{\"sops\": {}, \"sops\": {}}");
}

#[test]
fn real_sops_fixture() {
    let Some(path) =
        crate::testutil::shared("sops-fixtures/generated-sops-3.11.0/secrets.enc.json")
    else {
        return;
    };
    let src = std::fs::read_to_string(&path).unwrap();
    let o = parse(&src);
    let doc = &o.docs[0];
    let sops = doc.sops.clone().expect("sops entry");
    assert!(
        sops.value["age"][0]["recipient"]
            .as_str()
            .unwrap()
            .starts_with("age1")
    );
    assert!(sops.value["mac"].as_str().unwrap().starts_with("ENC["));
    assert!(sops.value["lastmodified"].is_string());
    assert_eq!(doc.indent_unit, "\t");
    assert_eq!(doc.member_indent, "\t");
    let mut s = src.clone();
    s.replace_range(sops.removal.clone(), "");
    assert!(s.ends_with("type:float]\"\n}\n"));
    // Re-inserting with our writer gives sops's own bytes back.
    let text = Json.metadata_text(&sops.value, &o, doc);
    let at = sops.removal.start;
    let mut again = s.clone();
    again.insert_str(at, &format!(",{text}"));
    assert_eq!(again, src);
    assert!(leaves(doc).iter().all(|l| !l.path.any(|p| p == "sops")));
}

#[test]
fn json_test_suite() {
    let Some(dir) = crate::testutil::shared("corpus/json-test-suite") else {
        return;
    };
    let rd = std::fs::read_dir(&dir).unwrap();
    let (mut y, mut n) = (0, 0);
    for entry in rd {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Ok(text) = String::from_utf8(bytes) else {
            assert!(!name.starts_with("y_"), "{name} is not UTF-8");
            continue; // cannot reach the parser
        };
        let res = Json.parse(&text);
        if name.starts_with("y_") {
            let top_obj = text
                .trim_start_matches([' ', '\t', '\n', '\r'])
                .starts_with('{');
            if top_obj {
                assert!(res.is_ok(), "{name} should parse: {res:?}");
                y += 1;
            } else {
                assert!(
                    res.is_err(),
                    "{name}: non-object top level must be rejected"
                );
            }
        } else if name.starts_with("n_") {
            assert!(res.is_err(), "{name} should be rejected");
            n += 1;
        } else {
            let _ = res; // i_: either, but no panic
        }
    }
    eprintln!("JSONTestSuite: {y} y_ object files parsed, {n} n_ files rejected");
    assert!(y > 0 && n > 0);
}

/// Every y_/n_ file wrapped as the value of a member, so array and scalar top levels
/// exercise the value grammar too.
#[test]
fn json_test_suite_wrapped() {
    let Some(dir) = crate::testutil::shared("corpus/json-test-suite") else {
        return;
    };
    let rd = std::fs::read_dir(&dir).unwrap();
    let mut bad = Vec::new();
    for entry in rd {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let wrapped = format!("{{\"x\": {text}}}");
        let ok = Json.parse(&wrapped).is_ok();
        if (name.starts_with("y_") && !ok) || (name.starts_with("n_") && ok) {
            bad.push(name);
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn the_one_json_string_writer_spells_as_serde_json() {
    let mut all: String = (0u8..0x80).map(char::from).collect();
    all.push_str("é€\u{2028}\u{feff}😀");
    for s in [all.as_str(), "", "plain", "a\"b\\c\u{8}\u{c}\u{1f}"] {
        assert_eq!(
            super::json_string(s),
            serde_json::to_string(s).unwrap(),
            "{s:?}"
        );
    }
}
