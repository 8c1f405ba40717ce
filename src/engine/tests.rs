//! Unit tests of the engine's parts (the CLI suites test it end to end).

use super::check::push_cut_token;
use super::select::CommentStack;
use super::*;
use crate::codec::metadata::default_selection;
use crate::format::{Document, Item, Leaf, Outline, Scalar, Style, Syntax, SyntaxError};

/// YAML with a bug: tokens are written bare wherever they go, and said to be read
/// back in `claimed` style.
struct BareTokens {
    claimed: Style,
}

impl Format for BareTokens {
    fn parse_detail<'s>(
        &self,
        src: &'s str,
        detail: crate::format::Detail,
    ) -> Result<Outline<'s>, SyntaxError> {
        crate::format::yaml::Yaml.parse_detail(src, detail)
    }
    fn load_tree(
        &self,
        src: &str,
    ) -> Result<crate::format::tree::Node, crate::format::tree::DataError> {
        crate::format::yaml::Yaml.load_tree(src)
    }
    fn token_affixes<'l>(&self, _leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style) {
        ("", "", self.claimed.clone())
    }
    fn render(&self, style: &Style, in_flow: bool, value: &Scalar) -> String {
        crate::format::yaml::Yaml.render(style, in_flow, value)
    }
    fn metadata_text(&self, meta: &serde_json::Value, o: &Outline, d: &Document) -> String {
        crate::format::yaml::Yaml.metadata_text(meta, o, d)
    }
}

#[test]
fn the_check_refuses_a_token_that_breaks_the_structure() {
    let key = DataKey::generate();
    let seal = |format: &dyn Format, src: &str| {
        encrypt_with_key(src, format, &key, vec![vec![]], None, &default_selection())
    };
    let plain = BareTokens {
        claimed: Style::Plain,
    };
    // Bare tokens are fine in block context...
    let (out, _) = seal(&plain, "a: x\nb:\n  c: y\n").expect("block values take bare tokens");
    assert!(out.contains("a: ENC[AES256_GCM,data:"));
    // ...but their commas end a value inside a flow collection.
    for src in ["a: {b: x, c: y}\n", "a: [x, y]\n"] {
        assert!(
            matches!(seal(&plain, src), Err(EngineError::Unsupported)),
            "{src:?}"
        );
    }
    // A token read back in another style than the one its spelling was checked against.
    let quoted = BareTokens {
        claimed: Style::DoubleQuoted,
    };
    assert!(matches!(
        seal(&quoted, "a: x\n"),
        Err(EngineError::Unsupported)
    ));
}

#[test]
fn cut_tokens_keep_one_character_of_each_base64_field() {
    let mut out = String::new();
    push_cut_token(
        "ENC[AES256_GCM,data:QUJD+/==,iv:aXZ2,tag:dGFn,type:str]",
        &mut out,
    );
    assert_eq!(out, "ENC[AES256_GCM,data:Q,iv:a,tag:d,type:str]");
    out.clear();
    push_cut_token("ENC[AES256_GCM,data:a b,iv:,tag:x,type:str]", &mut out);
    assert_eq!(
        out, "ENC[AES256_GCM,data:a b,iv:,tag:x,type:str]",
        "not base64: whole"
    );
    out.clear();
    push_cut_token("not a token", &mut out);
    assert_eq!(out, "not a token");
}

/// What the comment stack holds at every value and comment of `items`.
fn stack_views(src: &str, items: &[Item<'_>]) -> Vec<Vec<Vec<String>>> {
    let mut stack = CommentStack::default();
    let mut views = Vec::new();
    for item in items {
        match item {
            Item::Leaf(l) => views.push(stack.at(l.depth).to_vec()),
            Item::Comment(c) => {
                views.push(stack.push(c.depth, &src[c.span.clone()], true).to_vec())
            }
            Item::EntryEnd(d) => stack.entry_end(*d),
        }
    }
    views
}

#[test]
fn dropping_idle_entry_ends_keeps_every_comment_stack() {
    let yaml = "# top\na:\n  # in a\n  b: 1\n  c:\n    - x # after x\n    # before y\n    - y\n  d: 2\ne: 3\n# before f\nf:\n  g: [1, 2]\nh: 4\n";
    let json = "{\"a\": {\"b\": 1, \"c\": [1, {\"d\": 2}]}, \"e\": 3}";
    let env = "# one\nA=1\nB=2\n# two\nC=3\n";
    for (src, syntax) in [
        (yaml, Syntax::Yaml),
        (json, Syntax::Json),
        (env, Syntax::Dotenv),
    ] {
        let all = syntax.format().parse(src).unwrap();
        let kept = syntax.format().parse_lean(src).unwrap();
        let (all, kept) = (&all.docs[0].items, &kept.docs[0].items);
        assert_eq!(stack_views(src, all), stack_views(src, kept), "{syntax:?}");
        let ends = |items: &[Item<'_>]| {
            items
                .iter()
                .filter(|i| matches!(i, Item::EntryEnd(_)))
                .count()
        };
        assert!(ends(kept) < ends(all), "{syntax:?}: nothing dropped");
        if syntax == Syntax::Json {
            assert_eq!(ends(kept), 0, "no comment, no entry end");
        } else {
            assert!(
                ends(kept) > 0,
                "{syntax:?}: the ends that clear a comment stay"
            );
        }
    }
}

/// Encrypts and decrypts with a bare data key; returns (ciphertext, plaintext).
pub fn roundtrip(src: &str, syntax: Syntax) -> (String, String) {
    let key = DataKey::generate();
    let (enc, _) = encrypt_with_key(
        src,
        syntax.format(),
        &key,
        vec![vec![]],
        None,
        &default_selection(),
    )
    .unwrap_or_else(|e| panic!("encrypt failed: {e}"));
    let sealed = Sealed::parse(&enc, syntax.format())
        .unwrap_or_else(|e| panic!("parse failed: {e}\n{}", &*enc));
    let dec = sealed
        .decrypt(&key)
        .unwrap_or_else(|e| panic!("decrypt failed: {e}\n{}", &*enc));
    (enc.to_string(), dec.to_string())
}

#[test]
fn yaml_roundtrip_is_byte_exact() {
    let cases = [
        "a: 1\n",
        "a: 1",
        "# top\ndb:\n  user: admin   # inline\n  password: hunter2\n\n  port: 5432\nlist:\n  - one\n  - 2\n",
        "a: \"x\\ty\"   # c1\nb: 'it''s'\nc: |-\n  line1\n  line2\n\nd: >\n  folded\ne: [1, {f: g}]\n",
        "k: !!int \"5\"\nan: &x val\nal: *x\nempty:\nq: \"\"\n",
        "---\ndata: foo\n---\ndata: bar\n",
        "{a: 1, b: [x, y]}\n",
        "{}\n",
        "a: 1\r\nb: two\r\n",
        "\u{feff}a: caf\u{e9}\n",
        "t: 2024-01-01\nh: 0x10\nf: 1e3\nb: True\n",
        "multi: |\n  line1\n  line2\nafter: x\n",
    ];
    for src in cases {
        let (enc, dec) = roundtrip(src, Syntax::Yaml);
        assert_eq!(dec, src, "ciphertext was:\n{enc}");
        assert!(enc.contains("ENC[AES256_GCM"));
    }
}

fn tokens(text: &str) -> Vec<String> {
    text.match_indices("ENC[")
        .map(|(i, _)| text[i..i + text[i..].find(']').unwrap() + 1].to_string())
        .collect()
}

#[test]
fn reencrypt_changes_only_what_changed() {
    let src = "# note\ndb:\n  user: admin\n  password: old-pass\nlist: [a, b]\n";
    let key = DataKey::generate();
    let (enc, _) = encrypt_with_key(
        src,
        Syntax::Yaml.format(),
        &key,
        vec![vec![]],
        None,
        &default_selection(),
    )
    .unwrap();
    let old = Sealed::parse(&enc, Syntax::Yaml.format()).unwrap();

    let (same, _) = reencrypt(src, &old, &key).unwrap();
    assert_eq!(
        same.as_str(),
        enc.as_str(),
        "a no-op keeps the file byte-identical"
    );

    let edited = src.replace("old-pass", "new-pass");
    let (next, _) = reencrypt(&edited, &old, &key).unwrap();
    let (before, after) = (tokens(&enc), tokens(&next));
    assert_eq!(before.len(), after.len());
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    // The password, the MAC and sealed's layout digest change; the comment, user, list
    // items keep their tokens.
    assert_eq!(changed.len(), 3, "changed tokens: {changed:?}");
    let again = Sealed::parse(&next, Syntax::Yaml.format()).unwrap();
    assert_eq!(again.decrypt(&key).unwrap().as_str(), edited);
}

#[test]
fn with_metadata_keeps_values() {
    for (src, syntax) in [
        ("a: 1\nb: two\n", Syntax::Yaml),
        ("{\n  \"a\": 1\n}\n", Syntax::Json),
        ("A=1\nB=two\n", Syntax::Dotenv),
        ("[s]\na = 1\nb = two\n", Syntax::Ini),
    ] {
        let key = DataKey::generate();
        let (enc, _) = encrypt_with_key(
            src,
            syntax.format(),
            &key,
            vec![vec![]],
            None,
            &default_selection(),
        )
        .unwrap();
        let sealed = Sealed::parse(&enc, syntax.format()).unwrap();
        let mut meta = sealed.metadata_value();
        meta["version"] = "9.9.9".into();
        let rewritten = sealed.with_metadata(&meta).unwrap();
        assert_eq!(tokens(&rewritten)[..2], tokens(&enc)[..2]);
        let again = Sealed::parse(&rewritten, syntax.format()).unwrap();
        assert_eq!(again.metadata.version, "9.9.9");
        assert_eq!(again.decrypt(&key).unwrap().as_str(), src);
    }
}

#[test]
fn json_and_dotenv_roundtrip() {
    for (src, syntax) in [
        (
            "{\"a\": \"x\", \"n\": 1.50, \"l\": [true, null]}",
            Syntax::Json,
        ),
        ("{\r\n\t\"a\": \"\\u00e9\"\r\n}\r\n", Syntax::Json),
        (
            "# c\nexport A=1\nB=\"two words\" # not a comment for sops\nC='x'\nM=\"l1\nl2\"\nE=",
            Syntax::Dotenv,
        ),
    ] {
        let (_, dec) = roundtrip(src, syntax);
        assert_eq!(dec, src);
    }
}

#[test]
fn apply_splices_applies_in_byte_order_and_refuses_overlaps() {
    let src = "a: 1\nb: 2\n";
    // Given out of order; two insertions at one offset keep the order given.
    let (out, starts) =
        apply_splices(src, &[(8..9, "20"), (5..5, "x"), (5..5, "y"), (3..4, "10")]).unwrap();
    assert_eq!(out.as_str(), "a: 10\nxyb: 20\n");
    assert_eq!(starts, [11, 6, 7, 3]);
    assert_eq!(apply_splices(src, &[]).unwrap().0.as_str(), src);
    // Overlapping, past the end, or inside a character: refused, never sliced.
    assert_eq!(apply_splices(src, &[(0..4, ""), (3..5, "")]), Err(Overlap));
    assert_eq!(apply_splices(src, &[(9..20, "")]), Err(Overlap));
    assert_eq!(apply_splices("é", &[(1..1, "x")]), Err(Overlap));
}
