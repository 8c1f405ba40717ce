//! dotenv (`KEY=value` lines) as an [`Outline`].
//!
//! SOPS compatibility comes first. SOPS splits the file on `\n`, drops empty lines, treats a
//! line starting with `#` as a comment, takes the text before the first `=` as the key (not
//! trimmed) and the rest as the value (no quote handling), and turns a literal two-character
//! `\n` in the value into a line feed. Sealed reads the same keys and values, and on top:
//!
//! - a CR before the LF (or ending the file) is not part of the value, so CRLF files keep
//!   working;
//! - blank and whitespace-only lines are kept, and a comment may be indented;
//! - a value starting with a quote (`"`, `'` or a backtick) whose closing quote (not escaped
//!   by a backslash) is on a later line is one multi-line value, up to the end of the line
//!   holding the closing quote, as dotenv libraries read it;
//! - inline `# …` after an unquoted value stays part of the value (SOPS has no inline
//!   comments).
//!
//! The metadata is SOPS's flattened `sops_…` lines; they are not items but the document's
//! [`SopsEntry`]. Error messages never quote source text.

use super::*;

use serde_json::{Map, Value};

/// Prefix of the metadata lines.
const SOPS_PREFIX: &str = "sops_";
/// Separator of a map key in a flattened metadata key.
const MAP_SEP: &str = "__map_";
/// Separator of a list index in a flattened metadata key.
const LIST_SEP: &str = "__list_";
/// Largest list index accepted in a flattened metadata key.
const MAX_LIST_INDEX: usize = 10_000;

/// The dotenv syntax.
pub struct Dotenv;

impl Format for Dotenv {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        parse(src, detail)
    }

    fn token_affixes<'l>(&self, _leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style) {
        ("", "", Style::DotenvRaw)
    }

    fn spelled_canonically(&self, _: &Style, _: bool, value: &Scalar, original: &str) -> bool {
        match value {
            Scalar::Str(s) if !s.contains('\n') => s == original,
            _ => renders_as(self, &Style::DotenvRaw, false, value, original),
        }
    }

    fn render_str_into(&self, _: &Style, _: bool, s: &str, out: &mut Zeroizing<String>) {
        let mut rest = s;
        while let Some(i) = rest.find('\n') {
            crate::codec::wipe::push_str(out, &rest[..i]);
            crate::codec::wipe::push_str(out, "\\n");
            rest = &rest[i + 1..];
        }
        crate::codec::wipe::push_str(out, rest);
    }

    fn render(&self, _style: &Style, _in_flow: bool, value: &Scalar) -> String {
        match value {
            Scalar::Str(s) | Scalar::Time(s) => s.replace('\n', "\\n"),
            Scalar::Null => String::new(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => format!("{f}"),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    fn metadata_text(&self, meta: &Value, outline: &Outline, _doc: &Document) -> String {
        let mut flat = Vec::new();
        if let Value::Object(map) = meta {
            for (k, v) in map {
                flatten_into(&mut flat, k.clone(), v);
            }
        }
        flat.sort_by(|a, b| a.0.cmp(&b.0));
        flat.iter()
            .map(|(k, v)| format!("{SOPS_PREFIX}{k}={}", v.replace('\n', "\\n")))
            .collect::<Vec<_>>()
            .join(outline.eol)
    }
}

/// SOPS's `Flatten`: nested maps and lists become `__map_`/`__list_N` key suffixes; empty
/// maps and lists vanish; nulls are skipped; scalars are written as SOPS writes them.
fn flatten_into(out: &mut Vec<(String, String)>, key: String, value: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(out, format!("{key}{MAP_SEP}{k}"), v);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(out, format!("{key}{LIST_SEP}{i}"), v);
            }
        }
        Value::Null => {}
        Value::Bool(b) => out.push((key, b.to_string())),
        Value::Number(n) => {
            let text = if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                n.as_f64().map_or_else(|| n.to_string(), |f| format!("{f}"))
            };
            out.push((key, text));
        }
        Value::String(s) => out.push((key, s.clone())),
    }
}

/// One segment of a flattened metadata key.
enum Token {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// SOPS's `tokenize`: splits a flattened key at `__map_` and `__list_` separators.
fn tokenize(path: &str) -> Option<Vec<Token>> {
    #[derive(Clone, Copy)]
    enum State {
        Normal,
        Map,
        List,
    }
    let mut tokens = Vec::new();
    let mut state = State::Normal;
    let mut last = 0;
    let mut i = 0;
    let finish = |state: State, last: usize, i: usize, tokens: &mut Vec<Token>| -> Option<()> {
        tokens.push(match state {
            State::Normal => Token::Key(path[last..i].to_string()),
            State::Map => Token::Key(path[last + MAP_SEP.len()..i].to_string()),
            State::List => {
                let n: usize = path[last + LIST_SEP.len()..i].parse().ok()?;
                if n > MAX_LIST_INDEX {
                    return None;
                }
                Token::Index(n)
            }
        });
        Some(())
    };
    while i < path.len() {
        if path[i..].starts_with(MAP_SEP) {
            finish(state, last, i, &mut tokens)?;
            last = i;
            state = State::Map;
            i += MAP_SEP.len();
        } else if path[i..].starts_with(LIST_SEP) {
            finish(state, last, i, &mut tokens)?;
            last = i;
            state = State::List;
            i += LIST_SEP.len();
        } else {
            i += path[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    finish(state, last, i, &mut tokens)?;
    Some(tokens)
}

/// Stores `value` at `tokens` under `node`, creating maps and lists on the way (SOPS's
/// `Unflatten`). `None` when the keys conflict.
fn insert(node: &mut Value, tokens: &[Token], value: Value) -> Option<()> {
    let Some((first, rest)) = tokens.split_first() else {
        *node = value;
        return Some(());
    };
    let child = match first {
        Token::Key(k) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            node.as_object_mut()?
                .entry(k.clone())
                .or_insert(Value::Null)
        }
        Token::Index(n) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let list = node.as_array_mut()?;
            if list.len() <= *n {
                list.resize(*n + 1, Value::Null);
            }
            &mut list[*n]
        }
    };
    if rest.is_empty() && !child.is_null() {
        return None; // the same key twice, or a scalar where a collection is
    }
    insert(child, rest, value)
}

/// One line of the file.
struct Line {
    /// Start of the line.
    start: usize,
    /// End of its content (before `\r\n`, `\n`, or a `\r` that ends the file).
    end: usize,
    /// Start of the next line (after the line break), or the end of the file.
    next: usize,
}

/// The line starting at `start` (which is below `src.len()`).
fn line_at(src: &str, start: usize) -> Line {
    let b = src.as_bytes();
    match memchr_nl(b, start) {
        Some(nl) => {
            let end = if nl > start && b[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            Line {
                start,
                end,
                next: nl + 1,
            }
        }
        // A CR that ends the file is the line's break, as it is before an LF (it becomes
        // one when the metadata is inserted after it).
        None => Line {
            start,
            end: if src.len() > start && src.ends_with('\r') {
                src.len() - 1
            } else {
                src.len()
            },
            next: src.len(),
        },
    }
}

/// Position of the next `\n` at or after `from`.
fn memchr_nl(b: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', &b[from..]).map(|i| from + i)
}

/// Position of the first `quote` at or after `from` that is not escaped by a backslash.
fn closing_quote(b: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut p = from;
    while p < b.len() {
        match b[p] {
            b'\\' => p += 2,
            c if c == quote => return Some(p),
            _ => p += 1,
        }
    }
    None
}

/// A `sops_…` line seen so far.
struct MetaLine {
    /// Its line.
    line: Line,
    /// The flattened key (after `sops_`).
    key: (usize, usize),
    /// The value text.
    value: (usize, usize),
}

/// Parses a dotenv file (see the module documentation for the rules).
fn parse(src: &str, detail: Detail) -> Result<Outline<'_>, SyntaxError> {
    let b = src.as_bytes();
    let tree = detail == Detail::Tree;
    let mut items = ItemList::room_for_lines(detail, src);
    let mut nodes = vec![Node {
        steps: Vec::new(),
        kind: NodeKind::Map,
        span: bom_len(src)..bom_len(src),
        entry_start: bom_len(src),
        key: None,
        flow: false,
        header: None,
        leaf: None,
    }];
    let mut meta_lines: Vec<MetaLine> = Vec::new();
    // Index in `items` when the first metadata line was seen (to check the block).
    let mut items_at_meta: Option<usize> = None;
    // For each quote character, a position from which no unescaped closing quote exists
    // (a scan from there reached the end): later scans from further on fail the same way.
    let mut no_close_from: [Option<usize>; 3] = [None; 3];
    let mut pos = bom_len(src);
    // sops keeps a BOM as the first bytes of the first line: only a KEY=value line reads
    // the same (the BOM then starts its key); a blank or comment line would be a line
    // without `=`, which sops refuses.
    if pos > 0 && !src[..line_at(src, 0).end].contains('=') {
        return Err(SyntaxError::new(
            0,
            "a byte order mark must start a KEY=value line (sops reads it as part of the first line)",
        ));
    }
    while pos < src.len() {
        let line = line_at(src, pos);
        pos = line.next;
        let text = &src[line.start..line.end];
        let trimmed = text.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed == "\r" {
            continue;
        }
        if trimmed.starts_with('#') {
            let hash = line.end - trimmed.len();
            items.push(Item::Comment(Comment {
                path: KeyPath::root(),
                span: hash + 1..line.end,
                depth: 0,
            }));
            continue;
        }
        let Some(eq) = text.find('=') else {
            return Err(SyntaxError::new(line.start, "expected KEY=value"));
        };
        // An empty key (`=x`) is a key for sops, which encrypts and decrypts it; so is it here
        // (`exec` and the variable-name outputs refuse names that are not variables).
        let key = &text[..eq];
        let vstart = line.start + eq + 1;
        if let Some(flat) = key.strip_prefix(SOPS_PREFIX) {
            if items_at_meta.is_none() {
                items_at_meta = Some(items.len());
            } else if items_at_meta != Some(items.len()) {
                return Err(SyntaxError::new(
                    line.start,
                    "sops_ metadata lines must form one block",
                ));
            }
            let kstart = line.start + SOPS_PREFIX.len();
            meta_lines.push(MetaLine {
                key: (kstart, kstart + flat.len()),
                value: (vstart, line.end),
                line,
            });
            continue;
        }
        let mut vend = line.end;
        let quote = b
            .get(vstart)
            .copied()
            .filter(|c| matches!(c, b'"' | b'\'' | b'`'));
        if let Some(q) = quote {
            let slot = match q {
                b'"' => 0,
                b'\'' => 1,
                _ => 2,
            };
            let from = vstart + 1;
            let known_open = no_close_from[slot].is_some_and(|s| s <= from);
            if !known_open {
                match closing_quote(b, from, q) {
                    Some(close) if close >= line.end => {
                        // Closed on a later line: the value runs to the end of that line.
                        let mut l = line_at(src, pos);
                        while l.next <= close {
                            l = line_at(src, l.next);
                        }
                        vend = l.end;
                        pos = l.next;
                    }
                    Some(_) => {}
                    None => no_close_from[slot] = Some(from),
                }
            }
        }
        let raw = &src[vstart..vend];
        let value = if raw.contains('\\') {
            Cow::Owned(raw.replace("\\n", "\n"))
        } else {
            Cow::Borrowed(raw)
        };
        if tree {
            nodes.push(Node {
                steps: vec![Step::Key(key.to_string())],
                kind: NodeKind::Scalar,
                span: vstart..vend,
                entry_start: line.start,
                key: Some(line.start..line.start + eq),
                flow: false,
                header: None,
                leaf: Some(items.len()),
            });
        }
        // SOPS reads the file without removing a BOM, so the first key carries it in its
        // additional data; keep it there to read and write files sops can share.
        let path = if line.start == bom_len(src) && line.start > 0 {
            KeyPath::root().child(&format!("\u{feff}{key}"))
        } else {
            KeyPath::root().child(key)
        };
        items.push(Item::Leaf(Leaf {
            path,
            span: vstart..vend,
            value: Scalar::Str(value),
            style: Style::DotenvRaw,
            in_flow: false,
            depth: 0,
            comment_item: None,
        }));
        items.push(Item::EntryEnd(0));
    }
    if !tree {
        nodes.clear();
    } else if let Some(last) = nodes.last().map(|n| n.span.end) {
        let first = nodes.get(1).map_or(last, |n| n.entry_start);
        nodes[0].span = first..last;
    }
    let sops = match (meta_lines.first(), meta_lines.last()) {
        (Some(first), Some(last)) => Some(SopsEntry {
            value: unflatten(src, &meta_lines)?,
            removal: block_removal(src, first.line.start, &last.line),
            restore: "",
        }),
        _ => None,
    };
    let at = if src.ends_with("\r\n") {
        src.len() - 2
    } else if src.ends_with(['\n', '\r']) {
        src.len() - 1
    } else {
        src.len()
    };
    // The line break inserted with the metadata after a CR that is part of the line (a
    // value or a blank line ending in `\r`) must be a CRLF: an LF would make that CR the
    // line's break, and the removal takes the CRLF whole.
    let eol = if src[..at].ends_with('\r') {
        "\r\n"
    } else {
        detect_eol(src)
    };
    Ok(Outline {
        docs: vec![Document {
            items: items.into_vec(),
            nodes,
            sops,
            insertion: Insertion::Block { at },
            indent_unit: String::new(),
            member_indent: String::new(),
        }],
        eol,
        aliases: 0,
        loose: None,
    })
}

/// The removal range of the metadata block from the line starting at `first_start` to
/// `last`: the line break before the block and the block's lines, without the block's final
/// line break; when nothing precedes the block, from its start through that line break.
fn block_removal(src: &str, first_start: usize, last: &Line) -> Range<usize> {
    let b = src.as_bytes();
    if first_start == 0 || b[first_start - 1] != b'\n' {
        return first_start..last.next;
    }
    let nl = first_start - 1;
    let start = if nl > 0 && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    start..last.end
}

/// The metadata tree from its flattened lines (SOPS's `DecodeNewLines`,
/// `DecodeNonStrings` and `Unflatten`).
fn unflatten(src: &str, lines: &[MetaLine]) -> Result<Value, SyntaxError> {
    let mut root = Value::Object(Map::new());
    for m in lines {
        let key = &src[m.key.0..m.key.1];
        let raw = &src[m.value.0..m.value.1];
        let value = match key {
            "mac_only_encrypted" => Value::Bool(raw == "true"),
            "shamir_threshold" => match raw.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    return Err(SyntaxError::new(
                        m.value.0,
                        "sops_shamir_threshold is not an integer",
                    ));
                }
            },
            _ => Value::String(raw.replace("\\n", "\n")),
        };
        let tokens = tokenize(key)
            .ok_or_else(|| SyntaxError::new(m.line.start, "invalid sops_ metadata key"))?;
        insert(&mut root, &tokens, value)
            .ok_or_else(|| SyntaxError::new(m.line.start, "conflicting sops_ metadata keys"))?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
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
        let src = "# top\n\nA=1\nexport B = two # not a comment\n  # indented\nC=\nD=x\\ny=z\n   \nE=\"q\"\n";
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
}
