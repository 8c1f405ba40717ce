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

fn comments<'a>(src: &'a str, doc: &Document) -> Vec<&'a str> {
    doc.items
        .iter()
        .filter_map(|i| match i {
            Item::Comment(c) => Some(&src[c.span.clone()]),
            _ => None,
        })
        .collect()
}

#[test]
fn leaves_in_byte_order_with_key_paths_and_types() {
    let src = "# a \"quoted\" # comment\n[b]\nx.y = 'lit' # after\n[a]\nn = 0x10\n[b.z]\nt = 1979-05-27T07:32:00-07:00\nf = [1.5, { g = \"h#i\" }]\n";
    let o = Toml.parse(src).unwrap();
    let doc = &o.docs[0];
    let ls = leaves(doc);
    let paths: Vec<String> = ls.iter().map(|l| l.path.join(":")).collect();
    assert_eq!(paths, ["b:x:y", "a:n", "b:z:t", "b:z:f", "b:z:f:g"]);
    assert_eq!(&src[ls[0].span.clone()], "'lit'");
    assert!(matches!(&ls[0].value, Scalar::Str(Cow::Borrowed("lit"))));
    assert_eq!(ls[1].value, Scalar::Int(16));
    assert_eq!(
        ls[2].value,
        Scalar::Time("1979-05-27T07:32:00-07:00".into())
    );
    assert_eq!(ls[3].value, Scalar::Float(1.5));
    assert!(ls[3].in_flow && !ls[0].in_flow);
    assert_eq!(ls[4].style, Style::TomlString);
    assert_eq!(ls[1].style, Style::TomlBare);
    assert_eq!(comments(src, doc), [" a \"quoted\" # comment", " after"]);
    assert_eq!(doc.insertion, Insertion::Block { at: src.len() - 1 });
}

#[test]
fn strings_with_escapes_or_several_lines_are_owned_and_decoded() {
    let src = "a = \"x\\ty\"\nb = \"\"\"\nl1\nl2\"\"\"\nc = '''\n'q'\n'''\nd = \"\"\n";
    let o = Toml.parse(src).unwrap();
    let ls = leaves(&o.docs[0]);
    let values: Vec<&Scalar> = ls.iter().map(|l| &l.value).collect();
    assert_eq!(
        values,
        [
            &Scalar::Str("x\ty".into()),
            &Scalar::Str("l1\nl2".into()),
            &Scalar::Str("'q'\n".into()),
            &Scalar::Str("".into()),
        ]
    );
}

#[test]
fn render_spells_values_as_toml_reads_them() {
    let r = |v: Scalar| Toml.render(&Style::TomlString, false, &v);
    assert_eq!(
        r(Scalar::Str("a\"b\\\n\u{7f}\u{1}".into())),
        r#""a\"b\\\n\u007F\u0001""#
    );
    assert_eq!(r(Scalar::Float(1.0)), "1.0");
    assert_eq!(r(Scalar::Float(f64::NEG_INFINITY)), "-inf");
    assert_eq!(r(Scalar::Float(f64::NAN)), "nan");
    assert_eq!(r(Scalar::Int(-3)), "-3");
    assert_eq!(r(Scalar::Bool(false)), "false");
    // Every rendering parses back to the same value.
    for v in [
        Scalar::Str("\u{0}\t\"é".into()),
        Scalar::Float(1e300),
        Scalar::Float(0.1),
    ] {
        let src = format!("k = {}\n", r(v.clone()));
        let o = Toml.parse(&src).unwrap();
        assert_eq!(leaves(&o.docs[0])[0].value, v);
    }
}

#[test]
fn metadata_table_goes_last_and_comes_out_exactly() {
    let meta = serde_json::json!({
        "age": [{"recipient": "age1x", "enc": "-----BEGIN\nabc\n-----END\n"}],
        "lastmodified": "2026-01-01T00:00:00Z",
        "mac": "ENC[x]",
        "shamir_threshold": 2,
        "sealed": "ENC[y]",
        "my key": {},
    });
    for (src, eol) in [
        ("a = 1\n", "\n"),
        ("a = 1\r\n\r\n", "\r\n"),
        ("a = 1", "\n"),
        ("", "\n"),
        ("[[t]]\nx = 2 # c\n", "\n"),
    ] {
        let text = meta::text(&meta, eol);
        let at = content_end(src);
        let out = format!("{}{eol}{text}{}", &src[..at], &src[at..]);
        let o = Toml.parse(&out).unwrap();
        let doc = &o.docs[0];
        let sops = doc.sops.as_ref().expect("metadata found");
        assert_eq!(sops.value, meta, "{src:?}");
        let mut back = out.clone();
        back.replace_range(sops.removal.clone(), sops.restore);
        assert_eq!(back, src);
        assert!(comments(&out, doc).len() <= 1);
    }
}

#[test]
fn a_sops_key_that_is_not_the_last_table_is_refused() {
    for src in [
        "sops = 1\n",
        "sops.x = 1\n",
        "[sops]\nx = 1\n[a]\ny = 2\n",
        "[sops.x]\ny = 1\n",
        "[sops]\n[sops.x]\ny = 1\n",
        "[a]\n[sops]\nx = 1\n[a.b]\n",
        "[sops]\nx = 1\n[[t]]\n",
    ] {
        assert!(Toml.parse(src).is_err(), "{src:?}");
    }
}

#[test]
fn errors_carry_an_offset_and_no_source_text() {
    let e = Toml.parse("a = 1\nsecret-value-9 = = 2\n").unwrap_err();
    assert!(e.offset >= 6, "{e:?}");
    assert!(!e.msg.contains("secret"), "{}", e.msg);
    let e = Toml.parse("a = \"\\q-secret\"\n").unwrap_err();
    assert!(
        !e.msg.contains("secret") && e.msg.starts_with("invalid TOML"),
        "{}",
        e.msg
    );
    let e = Toml.parse("\u{feff}\u{feff}a = 1\n").unwrap_err();
    assert_eq!(e.offset, 3);
}

#[test]
fn the_data_reader_keeps_spellings_and_types() {
    let node = Toml
        .load_tree("p = 8_080\nf = 1.50\nb = true\nd = 1979-05-27\ns = 'x'\ni = inf\n")
        .unwrap();
    let tree::Node::Map(m) = node else { panic!() };
    let get = |k: &str| match &m.iter().find(|(n, _)| n == k).unwrap().1 {
        tree::Node::Scalar(s) => (s.kind.clone(), s.text.to_string()),
        _ => panic!(),
    };
    assert_eq!(get("p"), (tree::Kind::Number(8080.into()), "8_080".into()));
    assert_eq!(get("f").1, "1.50");
    assert_eq!(get("b"), (tree::Kind::Bool(true), "true".into()));
    assert_eq!(get("d"), (tree::Kind::Str, "1979-05-27".into()));
    assert_eq!(get("s"), (tree::Kind::Str, "x".into()));
    assert_eq!(get("i"), (tree::Kind::Str, "inf".into()));
}

#[test]
fn tree_nodes_name_every_value_for_the_editor() {
    let src = "[a]\nb = [1, {c = 2}]\n[[t]]\nx = 1\n";
    let o = Toml.parse_tree(src).unwrap();
    let doc = &o.docs[0];
    let steps: Vec<String> = doc
        .nodes
        .iter()
        .map(|n| tree::dotted_path(&n.steps))
        .collect();
    assert_eq!(
        steps,
        [
            "", "a", "a.b", "a.b[0]", "a.b[1]", "a.b[1].c", "t", "t[0]", "t[0].x"
        ]
    );
    for n in &doc.nodes {
        if let Some(i) = n.leaf {
            assert!(matches!(doc.items[i], Item::Leaf(_)));
        }
    }
}
