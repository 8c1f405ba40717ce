use super::*;

fn leaves(src: &str) -> Vec<(String, String)> {
    let o = Ini.parse(src).unwrap();
    o.docs[0]
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Leaf(l) => Some((
                l.path.join(":"),
                match &l.value {
                    Scalar::Str(s) => s.to_string(),
                    _ => String::new(),
                },
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn values_are_read_as_go_ini_reads_them() {
    let src =
        "top = 1\n[a]\nk1 = \"q v\"\nk2: x ; note\nk3 = `a;b`\nk4 = \"\"\"l1\nl2\"\"\"\nk5 =\n";
    assert_eq!(
        leaves(src),
        [
            ("DEFAULT:top", "1"),
            ("a:k1", "q v"),
            ("a:k2", "x"),
            ("a:k3", "a;b"),
            ("a:k4", "l1\nl2"),
            ("a:k5", ""),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn a_comment_before_a_header_belongs_to_that_section() {
    let o = Ini.parse("[a]\nk = v\n; c\n\n[b]\nx = y\n").unwrap();
    let c = o.docs[0]
        .items
        .iter()
        .find_map(|i| match i {
            Item::Comment(c) => Some(c.path.join(":")),
            _ => None,
        })
        .unwrap();
    assert_eq!(c, "b");
}

#[test]
fn what_go_ini_would_merge_or_continue_is_refused() {
    for bad in [
        "[a]\nk = 1\n[a]\nj = 2\n",
        "[a]\nk = 1\nk = 2\n",
        "[a]\nk = 1 \\\n",
        "[a\nk = 1\n",
        "[a]\nnovalue\n",
        "[a]\nk = \"\"\"open\n",
        "[sops]\nversion = 1\n[a]\n",
        "[a]\nk = 1\n[DEFAULT]\nj = 2\n",
        "top = 1\n[DEFAULT]\nj = 2\n",
    ] {
        let e = Ini.parse(bad).unwrap_err();
        assert!(!e.msg.contains('1'), "{}", e.msg);
    }
}

#[test]
fn the_sops_section_is_read_in_both_spellings_sops_wrote() {
    let src = "[foo]\nbar = x\n\n[sops]\nage__list_0__map_enc = \"\"\"a\nb\"\"\"\nshamir_threshold = 2\nversion     = 3.13.2\n";
    let o = Ini.parse(src).unwrap();
    let s = o.docs[0].sops.as_ref().unwrap();
    assert_eq!(s.value["age"][0]["enc"], "a\nb");
    assert_eq!(s.value["shamir_threshold"], 2);
    let mut rest = src.to_string();
    rest.replace_range(s.removal.clone(), "");
    assert_eq!(rest, "[foo]\nbar = x\n");
}

#[test]
fn values_are_spelled_as_go_ini_writes_them() {
    assert_eq!(spell("plain"), "plain");
    assert_eq!(spell("a;b"), "`a;b`");
    assert_eq!(spell(" x"), "\" x\"");
    assert_eq!(spell("l1\nl2"), "\"\"\"l1\nl2\"\"\"");
}

#[test]
fn load_gives_sections_of_strings() {
    let t = load("[b]\nk = 1\n[e]\n").unwrap();
    let tree::Node::Map(s) = t else { panic!() };
    let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["DEFAULT", "b", "e"]);
    let t = load("[DEFAULT]\nk = 1\n[b]\n").unwrap();
    let tree::Node::Map(s) = t else { panic!() };
    assert_eq!(s.len(), 2);
    assert!(matches!(&s[0].1, tree::Node::Map(e) if e.len() == 1));
}

#[test]
fn encrypted_files_decrypt_to_their_exact_bytes() {
    for src in [
        "",
        "\n",
        "[s]\n",
        "top=1\n; c\n[db]\n  user = admin ; who\npassword: \"two words\"\nempty =\n\n[x]\nk = `a;b`\n",
        "[m]\nv = \"\"\"l1\nl2\"\"\"\nw = after\n",
        "[m]\nv = \"\"\"\nl1\n\"\"\"\n",
        "a = 1\r\n[s]\r\nb = two\r\n",
        "\u{feff}[s]\nb = 2",
        "[DEFAULT]\nk = v\n# trailing comment",
        "[s]\nx_unencrypted = clear\n\n\n",
    ] {
        let key = crate::codec::token::DataKey::generate();
        let selection = crate::codec::metadata::default_selection();
        let (enc, _) =
            crate::engine::encrypt_with_key(src, &Ini, &key, vec![vec![]], None, &selection)
                .unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let sealed = crate::engine::Sealed::parse(&enc, &Ini).unwrap();
        assert_eq!(sealed.decrypt(&key).unwrap().as_str(), src);
    }
}

#[test]
fn a_second_sops_section_is_refused() {
    let e = Ini
        .parse("[a]\nk = v\n\n[sops]\nversion = 1\n\n[sops]\nversion = 2\n")
        .unwrap_err();
    assert!(e.msg.contains("[sops]"), "{}", e.msg);
}

/// Documents made of INI fragments (a small deterministic generator): each one the parser
/// accepts encrypts, and decrypts to its exact bytes; the others are refused cleanly.
#[test]
fn generated_documents_round_trip_or_are_refused() {
    const PARTS: &[&str] = &[
        "[a]",
        "[b]",
        "[ c ]",
        "[sops]",
        "[DEFAULT]",
        "k = v",
        "k: v",
        "k2 =",
        "x = a ; c",
        "y = \"q\"",
        "z = 'q'",
        "w = `a#b`",
        "m = \"\"\"l1",
        "l2\"\"\"",
        "; c",
        "# c",
        "  ;",
        "",
        " ",
        "\t",
        "k = v \\",
        "=",
        "[",
        "v = a=b:c",
        "u_unencrypted = clear",
    ];
    const EOLS: &[&str] = &["\n", "\r\n"];
    let key = crate::codec::token::DataKey::generate();
    let selection = crate::codec::metadata::default_selection();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut accepted = 0;
    for _ in 0..3000 {
        let eol = EOLS[next(2)];
        let lines = next(7);
        let mut src = String::new();
        for i in 0..lines {
            src.push_str(PARTS[next(PARTS.len())]);
            if i + 1 < lines || next(2) == 0 {
                src.push_str(eol);
            }
        }
        if Ini.parse(&src).is_err() {
            continue;
        }
        match crate::engine::encrypt_with_key(&src, &Ini, &key, vec![vec![]], None, &selection) {
            Ok((enc, _)) => {
                accepted += 1;
                let sealed = crate::engine::Sealed::parse(&enc, &Ini)
                    .unwrap_or_else(|e| panic!("{src:?}: {e}"));
                let dec = sealed
                    .decrypt(&key)
                    .unwrap_or_else(|e| panic!("{src:?}: {e}"));
                assert_eq!(dec.as_str(), src);
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains("please report"), "{src:?}: {msg}");
            }
        }
    }
    assert!(accepted > 500, "only {accepted} documents accepted");
}
