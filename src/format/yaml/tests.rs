//! The YAML outline's tree nodes: steps with indexes, spans, entry starts, keys.

use super::*;

/// (steps, kind, span text, entry text up to the span, key text) of every node.
fn nodes(src: &str) -> Vec<(String, NodeKind, String, String, Option<String>)> {
    let o = parse(src, true).expect("parses");
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
    let o = parse(src, true).unwrap();
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
    let o = parse(src, true).unwrap();
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
