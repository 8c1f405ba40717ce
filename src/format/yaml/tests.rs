//! The YAML outline's tree nodes: steps with indexes, spans, entry starts, keys.

use super::*;

/// (steps, kind, span text, entry text up to the span, key text) of every node.
fn nodes(src: &str) -> Vec<(String, NodeKind, String, String, Option<String>)> {
    let o = parse(src, Detail::Tree).expect("parses");
    o.docs[0]
        .nodes
        .iter()
        .map(|n| {
            let steps: String = n
                .steps
                .iter()
                .map(|s| match s {
                    Step::Key(k) => format!(".{k}"),
                    Step::Index(i) => format!("[{i}]"),
                })
                .collect();
            (
                steps,
                n.kind,
                src[n.span.clone()].to_string(),
                src[n.entry_start..n.span.start].to_string(),
                n.key.clone().map(|k| src[k].to_string()),
            )
        })
        .collect()
}

#[test]
fn block_and_flow_nodes() {
    let src = "# c\na: 1 # x\nb:\n  - x\n  -  k: v\n     l: [2, {m: n}]\nc:\nd: &an 'q'\n";
    let got = nodes(src);
    let want: Vec<(&str, NodeKind, &str, &str, Option<&str>)> = vec![
        (
            "",
            NodeKind::Map,
            "a: 1 # x\nb:\n  - x\n  -  k: v\n     l: [2, {m: n}]\nc:\nd: &an 'q'",
            "",
            None,
        ),
        (".a", NodeKind::Scalar, "1", "a: ", Some("a")),
        (
            ".b",
            NodeKind::Seq,
            "- x\n  -  k: v\n     l: [2, {m: n}]",
            "b:\n  ",
            Some("b"),
        ),
        (".b[0]", NodeKind::Scalar, "x", "- ", None),
        (
            ".b[1]",
            NodeKind::Map,
            "k: v\n     l: [2, {m: n}]",
            "-  ",
            None,
        ),
        (".b[1].k", NodeKind::Scalar, "v", "k: ", Some("k")),
        (".b[1].l", NodeKind::Seq, "[2, {m: n}]", "l: ", Some("l")),
        (".b[1].l[0]", NodeKind::Scalar, "2", "", None),
        (".b[1].l[1]", NodeKind::Map, "{m: n}", "", None),
        (".b[1].l[1].m", NodeKind::Scalar, "n", "m: ", Some("m")),
        (".c", NodeKind::Scalar, "", "c:", Some("c")),
        (".d", NodeKind::Scalar, "'q'", "d: &an ", Some("d")),
    ];
    let got: Vec<(&str, NodeKind, &str, &str, Option<&str>)> = got
        .iter()
        .map(|(a, k, b, c, d)| (a.as_str(), *k, b.as_str(), c.as_str(), d.as_deref()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn block_scalar_headers_and_flags() {
    let src = "k: |-  # note\n  one\n  two\ne: >\nl: [a]\n";
    let o = parse(src, Detail::Tree).unwrap();
    let n = &o.docs[0].nodes;
    assert_eq!(&src[n[1].span.clone()], "|-  # note\n  one\n  two");
    assert_eq!(&src[n[1].header.clone().unwrap()], "|-");
    assert!(matches!(
        &o.docs[0].items[n[1].leaf.unwrap()],
        Item::Leaf(l) if l.value == Scalar::Str("one\ntwo".into())
    ));
    assert_eq!(&src[n[2].header.clone().unwrap()], ">");
    assert!(!n[1].flow && n[3].flow && n[4].flow);
}

#[test]
fn sops_entry_complex_keys_and_documents() {
    let src = "a: 1\n? [x, y]\n: 2\nsops:\n    mac: m\n---\nb: [1]\n";
    let o = parse(src, Detail::Tree).unwrap();
    let steps: Vec<Vec<Step>> = o.docs[0].nodes.iter().map(|n| n.steps.clone()).collect();
    assert_eq!(
        steps,
        vec![
            vec![],
            vec![Step::Key("a".into())],
            vec![Step::Key("[x, y]".into())]
        ]
    );
    assert_eq!(o.docs[1].nodes.len(), 3);
    assert_eq!(
        o.docs[1].nodes[2].steps,
        vec![Step::Key("b".into()), Step::Index(0)]
    );
}

/// Leaves (value and text) and comments (text) with their depth, and entry ends, in walk
/// order.
fn walk(src: &str, doc: &Document) -> Vec<(char, usize, String)> {
    doc.items
        .iter()
        .map(|i| match i {
            Item::Leaf(l) => (
                'v',
                l.depth,
                format!("{:?} {}", l.value, &src[l.span.clone()]),
            ),
            Item::Comment(c) => ('#', c.depth, src[c.span.clone()].to_string()),
            Item::EntryEnd(d) => ('e', *d, String::new()),
        })
        .collect()
}

/// Inserts metadata as the engine does, parses back: the same walk (so the same paths and
/// comment attachment), and the removal gives back exactly `src`.
fn insertion_roundtrip(src: &str) {
    let o = parse(src, Detail::Items).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
    let meta = serde_json::json!({"mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]", "version": "3.11.0"});
    let mut enc = src.to_string();
    for doc in o.docs.iter().rev() {
        let text = Yaml.metadata_text(&meta, &o, doc);
        match doc.insertion {
            Insertion::Block { at } => enc.insert_str(at, &format!("{}{text}", o.eol)),
            Insertion::Flow { at, empty } => {
                enc.insert_str(at, &if empty { text } else { format!(",{text}") })
            }
        }
    }
    let o2 = parse(&enc, Detail::Items).unwrap_or_else(|e| panic!("{src:?} -> {enc:?}: {e:?}"));
    assert_eq!(o2.docs.len(), o.docs.len(), "{enc:?}");
    let mut back = enc.clone();
    for (d, d2) in o.docs.iter().zip(&o2.docs).rev() {
        assert_eq!(walk(src, d), walk(&enc, d2), "{src:?} -> {enc:?}");
        let sops = d2
            .sops
            .as_ref()
            .unwrap_or_else(|| panic!("no sops entry in {enc:?}"));
        assert_eq!(sops.value, meta, "{enc:?}");
        back.replace_range(sops.removal.clone(), "");
    }
    assert_eq!(back, src, "{enc:?}");
}

#[test]
fn a_lone_cr_is_a_line_break() {
    let src = "password: s3cret # c\rb: 2\n";
    let o = parse(src, Detail::Items).unwrap();
    let w = walk(src, &o.docs[0]);
    assert!(w.contains(&('#', 0, " c".into())), "{w:?}");
    assert!(w.contains(&('v', 0, "Int(2) 2".into())), "{w:?}");
    for src in [
        "password: s3cret # c\rb: 2\n",
        "# c\rb: 2\n",
        "a: 1\r# c\rb: 2\n",
        "\r::\n",
        "a: b\r",
        "a: b\r\r",
        "a: b\n\r\r",
        "a: 1\r\n\r\r",
        "&a : *a\r",
        "a:\r  b: |\r    x\r  c: 1 # d\r",
        "a: 1\r---\rb: 2\r",
        "a: |+\r  x\r\r",
        "a: |+\n  x\n\r\r",
        "x: 1\r---\ry: |+\r  z\r\r",
    ] {
        insertion_roundtrip(src);
    }
}

#[test]
fn an_empty_value_in_a_flow_mapping_takes_no_bytes() {
    let o = parse("{b: 1, a}\n", Detail::Tree).unwrap();
    let d = &o.docs[0];
    assert_eq!(
        d.insertion,
        Insertion::Flow {
            at: 8,
            empty: false
        }
    );
    assert_eq!(d.nodes[2].span, 8..8);
    for src in [
        "{a}\n",
        "{a:~}\n",
        "{b: 1, a}\n",
        "{ a }\n",
        "{a,}\n",
        "{a: }\n",
        "x: {a}\n",
    ] {
        insertion_roundtrip(src);
    }
}

#[test]
fn a_trailing_bom_stays_after_the_metadata() {
    assert_eq!(
        parse("a: 1\n\u{feff}", Detail::Items).unwrap().docs[0].insertion,
        Insertion::Block { at: 4 }
    );
    for src in [
        "a: 1\n\u{feff}",
        "a: 1\n\u{feff}\n",
        "foo: |\n x\n\u{feff}",
        "foo: |+\n x\n\n\u{feff}",
        "a: 1\n\u{feff}# c\n",
        "a: 1\n# c\n\u{feff}  # d",
        "a: 1\n\u{feff}---\nb: 2\n",
    ] {
        insertion_roundtrip(src);
    }
}

#[test]
fn an_anchor_or_tag_glued_to_a_flow_collection() {
    let src = "a: &C[M]\nb: &D{c: d}\n";
    let o = parse(src, Detail::Tree).unwrap();
    let flows: Vec<bool> = o.docs[0].nodes.iter().map(|n| n.flow).collect();
    assert_eq!(flows, [false, true, true, true, true]);
    for src in [
        src,
        ": &C[M]",
        "a: [&x[M], !!str [a], !<tag:x,[y]> v]\n",
        "&x{}",
        "&x {}\n",
        "--- !!map {}\n",
    ] {
        insertion_roundtrip(src);
    }
}

#[test]
fn a_comment_on_a_last_line_without_break_keeps_its_collection() {
    let src = "x:\n  b: 1\n  # note";
    let o = parse(src, Detail::Items).unwrap();
    assert!(walk(src, &o.docs[0]).contains(&('#', 1, " note".into())));
    for src in [
        src,
        "x:\n  b: 1\n  # note\n",
        "  x:\n    b: 1\n  # note",
        "  x:\n    b: 1\n  # note\n",
        "  x:\n    b: 1\n    # note\n---\ny: 1\n",
        "x:\n- a\n  # note",
        "x:\n  b: 1\n# note",
    ] {
        insertion_roundtrip(src);
    }
}

#[test]
fn an_explicit_key_is_found_at_its_indicator_only() {
    // The mapping's column is its `?`'s, also when a comment follows it; a `?` at the end
    // of a comment or of an anchor name is not an indicator.
    for src in [
        "?  # c",
        "? \n # c",
        " ?\n",
        "x:\n  ? # c\n  : 1\n",
        "--- !!map # c\n? a\n",
        "---\n?\n- a\n- b\n:\n- c\n- d\n",
        "---\n # c? \n: b",
        " # c? \r: ",
        "#1? #? \r!!str ~: ",
        "&x? \na: ",
    ] {
        insertion_roundtrip(src);
    }
}

/// The text with every SOPS comment item written back as decrypting writes it (`#` + `c`
/// and its position among the comment items).
fn comment_items_restored(src: &str) -> String {
    let o = parse(src, Detail::Items).expect("parses");
    let mut out = src.to_string();
    let items: Vec<&CommentItem> = o.docs[0]
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Leaf(l) => l.comment_item.as_deref(),
            _ => None,
        })
        .collect();
    for (n, item) in items.iter().enumerate().rev() {
        out.replace_range(item.range.clone(), &format!("{}# c{n}", item.lead));
    }
    out
}

const C: &str = "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:comment]";
const S: &str = "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]";

#[test]
fn sops_comment_items_become_comment_lines() {
    // Among other items: the comment takes the item's place, `-` included.
    let src = format!("a:\n    - {C}\n    - {S}\n    - {C}\n    - {S}\nb: 1\n");
    assert_eq!(
        comment_items_restored(&src),
        format!("a:\n    # c0\n    - {S}\n    # c1\n    - {S}\nb: 1\n")
    );
    // First item after `:` or `- ` on the same line (yaml-test-suite 5WE3, as sops writes
    // it): the sequence then starts on the next line, at the same column.
    let src = format!("? |\n    block key\n:   - {C}\n    - {S}\n");
    assert_eq!(
        comment_items_restored(&src),
        format!("? |\n    block key\n:   # c0\n    - {S}\n")
    );
    let src = format!("a:\n    -   - {C}\n        - {S}\n");
    assert_eq!(
        comment_items_restored(&src),
        format!("a:\n    -   # c0\n        - {S}\n")
    );
    // Only values of block sequences are comment items.
    let src = format!("a: {C}\nb: [\"{C}\"]\n");
    assert_eq!(comment_items_restored(&src), src);
}

#[test]
fn a_sequence_of_sops_comment_items_only_stays_an_empty_sequence() {
    // After the key, as it was before sops moved the comment into the sequence.
    let src = format!("a:\n    b:\n        - {C}\n        - {C}\n    c: 1\n");
    let got = comment_items_restored(&src);
    assert_eq!(got, "a:\n    b: [] # c0\n        # c1\n    c: 1\n");
    let v = yaml_value::load(&got).unwrap();
    assert_eq!(v[0]["a"]["b"], serde_json::json!([]));
    // In place of the first `-` when something else follows the key, indented past the
    // key when the sequence was not; in a sequence of sequences.
    for (src, want) in [
        (
            format!("a: &x\n    - {C}\nb: 1\n"),
            "a: &x\n    [] # c0\nb: 1\n",
        ),
        (format!("a: &x\n- {C}\nb: 1\n"), "a: &x\n [] # c0\nb: 1\n"),
        (format!("a:\n- {C}\nb: 1\n"), "a: [] # c0\nb: 1\n"),
        (
            format!("a:\n    -   - {C}\n    - {S}\n"),
            "a:\n    -   [] # c0\n    - ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n",
        ),
    ] {
        let got = comment_items_restored(&src);
        assert_eq!(got, want, "{src}");
        let v = yaml_value::load(&got).unwrap();
        let a = &v[0]["a"];
        assert!(
            *a == serde_json::json!([]) || a[0] == serde_json::json!([]),
            "{got}: {a}"
        );
    }
}

/// (path, depth, text) of every comment.
fn comment_paths(src: &str) -> Vec<(String, usize, String)> {
    let o = parse(src, Detail::Items).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
    o.docs[0]
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Comment(c) => Some((c.path.aad(), c.depth, src[c.span.clone()].to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_flow_closer_at_column_0_after_comments_is_read() {
    // As sops (yaml.v3) writes an empty flow mapping holding a comment; the `}` is not
    // indented past its block mapping, which YAML does not allow and saphyr refuses.
    let src = "t:\n    - n: é\n      labels: {\n        # c1 ü\n}\n      l: [\n        # c2\n]\n      # c3\n      i: 1\nb: 2\n";
    assert!(Parser::new_from_str(src).any(|e| e.is_err()));
    assert_eq!(
        comment_paths(src),
        vec![
            ("t:labels:".into(), 3, " c1 ü".into()),
            ("t:l:".into(), 3, " c2".into()),
            ("t:".into(), 2, " c3".into()),
        ]
    );
    // Spans are the source's.
    let got = nodes(src);
    let labels = got.iter().find(|n| n.0 == ".t[0].labels").unwrap();
    assert_eq!(labels.2, "{\n        # c1 ü\n}");
    let i = got.iter().find(|n| n.0 == ".t[0].i").unwrap();
    assert_eq!((i.2.as_str(), i.3.as_str()), ("1", "i: "));
    insertion_roundtrip(src);
    // Only a bracket alone on its line after an opening one ending a `key: ` or `- `
    // line, with nothing but comments between, is read that way.
    for bad in [
        "a:\n  b: x {\n}\n",
        "a:\n  b: {\n    c: 1\n}\n",
        "a:\n  b: { # c\n}\n",
        "a:\n  b: {\n} # c\n",
    ] {
        assert!(parse(bad, Detail::Items).is_err(), "{bad:?}");
    }
}

#[test]
fn a_comment_after_a_flow_value_belongs_to_it() {
    // yaml.v3 makes it the collection's line comment (sops then stores it inside).
    let src = "a:\n  l: [] # c1\n  m: {x: 1} # c2\n  n: [{}] # c3\n  o: 1 # c4\n";
    assert_eq!(
        comment_paths(src),
        vec![
            ("a:l:".into(), 2, " c1".into()),
            ("a:m:".into(), 2, " c2".into()),
            ("a:n:".into(), 2, " c3".into()),
            ("a:".into(), 1, " c4".into()),
        ]
    );
    insertion_roundtrip(src);
}

#[test]
fn binary_values_are_text_or_refused() {
    let o = parse(
        "a: !!binary aGVsbG8=\nb: !!binary \"aGk=\"\n",
        Detail::Items,
    )
    .unwrap();
    let values: Vec<Scalar> = o.docs[0]
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Leaf(l) => Some(l.value.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        vec![Scalar::Str("hello".into()), Scalar::Str("hi".into())]
    );
    // Bytes that are not UTF-8 text, or a block scalar (the tag would stay on the token).
    for bad in ["a: !!binary /w==\n", "a: !!binary |\n  aGVsbG8=\n"] {
        let e = parse(bad, Detail::Items).unwrap_err();
        assert!(e.msg.contains("!!binary"), "{bad:?}: {e:?}");
        assert!((3..bad.find('\n').unwrap()).contains(&e.offset), "{bad:?}");
    }
    // A token there (written by an earlier sealed) is still read.
    let old = format!("a: !!binary |\n  {S}\n");
    assert!(parse(&old, Detail::Items).is_ok());
}
