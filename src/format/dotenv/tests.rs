use super::*;

fn parse(src: &str) -> Outline<'_> {
    Dotenv.parse_tree(src).expect("parses")
}

fn leaves<'a>(doc: &'a Document<'a>) -> Vec<&'a Leaf<'a>> {
    doc.items
        .iter()
        .filter_map(|i| match i {
            Item::Leaf(l) => Some(l),
            _ => None,
        })
        .collect()
}

#[test]
fn keys_values_comments_like_sops() {
    let src =
        "# top\n\nA=1\nexport B = two # not a comment\n  # indented\nC=\nD=x\\ny=z\n   \nE=\"q\"\n";
    let o = parse(src);
    let doc = &o.docs[0];
    let ls = leaves(doc);
    let paths: Vec<&str> = ls.iter().map(|l| &l.path[0]).collect();
    assert_eq!(paths, ["A", "export B ", "C", "D", "E"]);
    assert_eq!(&src[ls[1].span.clone()], " two # not a comment");
    assert_eq!(ls[2].value, Scalar::Str("".into()));
    assert_eq!(ls[3].value, Scalar::Str("x\ny=z".into()));
    assert_eq!(&src[ls[4].span.clone()], "\"q\"");
    assert!(
        ls.iter()
            .all(|l| l.style == Style::DotenvRaw && l.depth == 0)
    );
    let comments: Vec<&str> = doc
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Comment(c) => Some(&src[c.span.clone()]),
            _ => None,
        })
        .collect();
    assert_eq!(comments, [" top", " indented"]);
    assert!(matches!(doc.items[2], Item::EntryEnd(0)));
    assert_eq!(doc.insertion, Insertion::Block { at: src.len() - 1 });
    assert!(doc.sops.is_none());
}

#[test]
fn tree_nodes() {
    let src = "# c\nA=1\nexport B=\"x\ny\"\n";
    let o = parse(src);
    let n = &o.docs[0].nodes;
    assert_eq!(n.len(), 3);
    assert!(n[0].steps.is_empty() && n[0].kind == NodeKind::Map);
    assert_eq!(&src[n[0].span.clone()], "A=1\nexport B=\"x\ny\"");
    assert_eq!(n[2].steps, vec![Step::Key("export B".into())]);
    assert_eq!(&src[n[2].span.clone()], "\"x\ny\"");
    assert_eq!(&src[n[2].key.clone().unwrap()], "export B");
    assert_eq!(n[2].entry_start, src.find("export").unwrap());
    assert!(n.iter().all(|n| !n.flow));
}

#[test]
fn crlf_and_bom() {
    let src = "\u{feff}A=1\r\nB=two\r\n";
    let o = parse(src);
    assert_eq!(o.eol, "\r\n");
    let ls = leaves(&o.docs[0]);
    // SOPS keeps the BOM in the first key (its additional data).
    assert_eq!(ls[0].path, ["\u{feff}A"]);
    assert_eq!(ls[0].span, 5..6);
    assert_eq!(&src[ls[1].span.clone()], "two");
    assert_eq!(o.docs[0].insertion, Insertion::Block { at: src.len() - 2 });
}

#[test]
fn multiline_quoted_values() {
    let src = "A=\"one\ntwo\\n\nthree\" # c\nB='x'\nC=`a\r\nb`\nD=\"open\nE=5\n";
    let o = parse(src);
    let ls = leaves(&o.docs[0]);
    let paths: Vec<&str> = ls.iter().map(|l| &l.path[0]).collect();
    assert_eq!(paths, ["A", "B", "C", "D", "E"]);
    assert_eq!(&src[ls[0].span.clone()], "\"one\ntwo\\n\nthree\" # c");
    assert_eq!(ls[0].value, Scalar::Str("\"one\ntwo\n\nthree\" # c".into()));
    assert_eq!(&src[ls[2].span.clone()], "`a\r\nb`");
    // Unclosed quote: a single-line value.
    assert_eq!(&src[ls[3].span.clone()], "\"open");
    // Escaped quote does not close.
    let src = "A=\"x\\\"\ny\"\nB=1";
    let ls = leaves(&parse(src).docs[0])
        .iter()
        .map(|l| l.span.clone())
        .collect::<Vec<_>>();
    assert_eq!(&src[ls[0].clone()], "\"x\\\"\ny\"");
    assert_eq!(ls.len(), 2);
}

#[test]
fn corpus_files_parse() {
    let Some(dir) = crate::testutil::shared("corpus/dotenv") else {
        return;
    };
    let src = std::fs::read_to_string(dir.join("dotenv-multiline")).unwrap();
    let o = parse(&src);
    let ls = leaves(&o.docs[0]);
    let pem = ls
        .iter()
        .find(|l| &l.path[0] == "MULTI_PEM_DOUBLE_QUOTED")
        .unwrap();
    assert!(src[pem.span.clone()].ends_with("-----END PUBLIC KEY-----\""));
    let bt = ls
        .iter()
        .find(|l| &l.path[0] == "MULTI_BACKTICKED")
        .unwrap();
    assert_eq!(
        &src[bt.span.clone()],
        "`THIS\nIS\nA\n\"MULTILINE'S\"\nSTRING`"
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("dotenv") {
            parse(&std::fs::read_to_string(&p).unwrap());
        }
    }
    let bom = std::fs::read_to_string(dir.join("dotenv.bom")).unwrap();
    assert_eq!(leaves(&parse(&bom).docs[0])[0].path, ["\u{feff}BASIC"]);
}

#[test]
fn errors() {
    assert_eq!(
        Dotenv.parse("A=1\nsecret value\n").unwrap_err(),
        SyntaxError::new(4, "expected KEY=value")
    );
    assert!(Dotenv.parse("A=1\nsops_a=1\nB=2\nsops_b=2\n").is_err());
}

/// sops encrypts (and decrypts) a .env file that is empty, holds only comments or blank
/// lines, or has an empty key (`=x`): each is read as sops reads it.
#[test]
fn files_sops_reads_without_a_variable() {
    for src in ["", "\n", "\n\n", "# only\n\n", "#a\n#b"] {
        let o = parse(src);
        let doc = &o.docs[0];
        assert!(leaves(doc).is_empty(), "{src:?}");
        assert!(doc.sops.is_none());
        roundtrip(src);
    }
    let o = parse("# c\n#d\n");
    assert_eq!(o.docs[0].items.len(), 2);
    // A BOM on a line without `=` is a line sops refuses.
    for src in ["\u{feff}", "\u{feff}\nA=1\n", "\u{feff}# c\nA=1\n"] {
        let e = Dotenv.parse(src).unwrap_err();
        assert!(e.msg.contains("byte order mark"), "{src:?}");
    }
    for (src, key) in [("=x\nA=1\n", ""), (" =y\n", " ")] {
        let o = parse(src);
        let ls = leaves(&o.docs[0]);
        assert_eq!(&ls[0].path[0], key, "{src:?}");
        assert_eq!(
            &src[ls[0].span.clone()],
            if key.is_empty() { "x" } else { "y" }
        );
        roundtrip(src);
    }
}

#[test]
fn token_and_render() {
    let o = parse("A=x\n");
    let leaf = leaves(&o.docs[0])[0].clone();
    let (t, s) = Dotenv.token_text(&leaf, "ENC[AES256_GCM,data:a,iv:b,tag:c,type:str]");
    assert_eq!(t, "ENC[AES256_GCM,data:a,iv:b,tag:c,type:str]");
    assert_eq!(s, Style::DotenvRaw);
    assert_eq!(
        Dotenv.render(&Style::DotenvRaw, false, &Scalar::Str("a\nb".into())),
        "a\\nb"
    );
}

#[test]
fn real_sops_fixtures() {
    let Some(fixtures) = crate::testutil::sops_fixtures() else {
        return;
    };
    for name in ["secrets.enc.env", "secrets.ssh-recipient.enc.env"] {
        let src = std::fs::read_to_string(fixtures.join(name)).unwrap();
        let o = parse(&src);
        let doc = &o.docs[0];
        let sops = doc.sops.clone().expect("sops entry");
        let v = &sops.value;
        assert!(v["age"][0]["recipient"].is_string());
        assert!(
            v["age"][0]["enc"]
                .as_str()
                .unwrap()
                .ends_with("-----END AGE ENCRYPTED FILE-----\n")
        );
        assert!(v["mac"].as_str().unwrap().starts_with("ENC["));
        assert!(v["lastmodified"].is_string());
        // Our flattening reproduces sops's lines byte for byte.
        let text = Dotenv.metadata_text(v, &o, doc);
        let first = src.find("\nsops_").unwrap() + 1;
        assert_eq!(text, src[first..].trim_end_matches('\n'));
        // Removal gives the body with its final line break.
        let mut body = src.clone();
        body.replace_range(sops.removal.clone(), "");
        assert_eq!(body, src[..first]);
        assert_eq!(leaves(doc).len(), 6);
        assert!(leaves(doc).iter().all(|l| !l.path[0].starts_with("sops_")));
    }
}

#[test]
fn metadata_typing_and_order() {
    let src = "A=1\nsops_key_groups__list_0__map_age__list_0__map_recipient=r\nsops_mac_only_encrypted=true\nsops_shamir_threshold=2\n";
    let o = parse(src);
    let v = o.docs[0].sops.clone().unwrap().value;
    assert_eq!(v["key_groups"][0]["age"][0]["recipient"], "r");
    assert_eq!(v["mac_only_encrypted"], true);
    assert_eq!(v["shamir_threshold"], 2);
    let meta = serde_json::json!({"version": "3", "age": [{"recipient": "r", "enc": "a\nb\n"}], "mac_only_encrypted": true, "shamir_threshold": 2, "empty": [], "none": null});
    let mut o2 = o.clone();
    o2.eol = "\r\n";
    assert_eq!(
        Dotenv.metadata_text(&meta, &o2, &o.docs[0]),
        "sops_age__list_0__map_enc=a\\nb\\n\r\nsops_age__list_0__map_recipient=r\r\nsops_mac_only_encrypted=true\r\nsops_shamir_threshold=2\r\nsops_version=3"
    );
    assert!(Dotenv.parse("A=1\nsops_a=1\nsops_a__map_b=2\n").is_err());
}

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
    let text = Dotenv.metadata_text(&meta, &o, doc);
    let Insertion::Block { at } = doc.insertion else {
        panic!("block insertion expected")
    };
    let enc = format!("{}{}{}{}", &src[..at], o.eol, text, &src[at..]);
    let o2 = parse(&enc);
    let sops = o2.docs[0].sops.clone().expect("sops entry");
    assert_eq!(sops.value, meta);
    assert_eq!(o2.docs[0].items.len(), doc.items.len());
    let values = |src: &str, doc: &Document| -> Vec<String> {
        leaves(doc)
            .iter()
            .map(|l| src[l.span.clone()].to_string())
            .collect()
    };
    assert_eq!(values(&enc, &o2.docs[0]), values(src, doc), "{enc:?}");
    let mut back = enc.clone();
    back.replace_range(sops.removal, "");
    assert_eq!(back, src, "encrypted form:\n{enc}");
}

#[test]
fn insertion_then_removal_is_identity() {
    roundtrip("A=1\nB=2\n");
    roundtrip("A=1\nB=2");
    roundtrip("A=1\r\nB=2\r\n");
    roundtrip("A=1\r\nB=2");
    roundtrip("A=1\n\n\n");
    roundtrip("# c\nA=\"x\ny\"\n# trailing comment");
    roundtrip("\u{feff}A=1\n");
    // A CR that ends the file: the last line's break (fuzz findings D1, D2).
    roundtrip("A=1\nB_unencrypted=x\r");
    roundtrip("A_unencrypted=x\r");
    roundtrip("A=1\n\r");
    roundtrip("A=1\r\n\r");
    // A CR that stays in the value or blank line before it needs a CRLF insertion.
    roundtrip("A=1\r\r");
    roundtrip("A=1\n\r\r");
}

#[test]
fn a_cr_ending_the_file_is_not_part_of_the_value() {
    let src = "A=1\nB=x\r";
    let o = parse(src);
    let l = leaves(&o.docs[0]);
    assert_eq!(&src[l[1].span.clone()], "x");
    assert_eq!(o.docs[0].insertion, Insertion::Block { at: 7 });
    let src = "A=x\r\r";
    let o = parse(src);
    assert_eq!(&src[leaves(&o.docs[0])[0].span.clone()], "x\r");
    assert_eq!(o.eol, "\r\n");
}
