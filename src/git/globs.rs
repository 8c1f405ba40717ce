//! `.sops.yaml` `path_regex`es turned into gitattributes globs, so that a file a rule will
//! match in the future already has the filter attribute when it is created.
//!
//! A regex is searched (unanchored) in the path relative to the `.sops.yaml` directory; a
//! gitattributes pattern is matched against the whole path with `*` not crossing `/`,
//! `**/` for any leading directories, `/**/` for zero or more directories and a trailing
//! `/**` for everything inside. The translation covers literals, `.*` (any text), `[^/]*`
//! (text within one path component), small character classes, `?`, alternations and the
//! `^`/`$` anchors; it returns globs that match **at least** every path the regex matches
//! (`exact` says whether they match nothing else). Anything else (`.+`, `\d`, bounded
//! repetitions, flags…) gives `None`, and setup falls back to a broader attribute on every
//! file sealed can encrypt, the filter deciding per path from `.sops.yaml`.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// At most this many globs for one regex (alternatives multiply).
const MAX_GLOBS: usize = 64;

/// One piece of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// Glob text matching exactly one character other than `/` (a literal or a class).
    Char(String),
    /// A literal `/`.
    Slash,
    /// Any text, `/` included (`.*`).
    Any,
    /// Any text without `/` (`[^/]*`).
    Seg,
    /// `^`.
    Start,
    /// `$`.
    End,
}

/// Globs for `regex`: `(globs, exact)`, or `None` when it cannot be translated.
pub fn globs_for(regex: &str) -> Option<(Vec<String>, bool)> {
    let hir = regex_syntax::Parser::new().parse(regex).ok()?;
    let mut exact = true;
    let seqs = alternatives(&hir, &mut exact)?;
    let mut out = Vec::new();
    for seq in seqs {
        for g in seq_globs(seq, &mut exact)? {
            if !out.contains(&g) {
                out.push(g);
            }
        }
        if out.len() > MAX_GLOBS {
            return None;
        }
    }
    Some((out, exact))
}

/// Every alternative of `hir` as a token sequence.
fn alternatives(hir: &Hir, exact: &mut bool) -> Option<Vec<Vec<Tok>>> {
    let one = |t: Tok| Some(vec![vec![t]]);
    match hir.kind() {
        HirKind::Empty => Some(vec![vec![]]),
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0).ok()?;
            let mut seq = Vec::new();
            for c in text.chars() {
                seq.push(literal(c, exact)?);
            }
            Some(vec![seq])
        }
        HirKind::Class(class) => one(class_tok(class, exact)?),
        HirKind::Look(Look::Start) => one(Tok::Start),
        HirKind::Look(Look::End) => one(Tok::End),
        HirKind::Look(_) => None,
        HirKind::Capture(c) => alternatives(&c.sub, exact),
        HirKind::Repetition(rep) => match (rep.min, rep.max) {
            (0, None) => match rep.sub.kind() {
                HirKind::Class(class) => match class_tok(class, exact)? {
                    Tok::Any | Tok::Seg => one(class_star(class)?),
                    _ => None,
                },
                _ => None,
            },
            (0, Some(1)) => {
                let mut v = alternatives(&rep.sub, exact)?;
                v.push(vec![]);
                Some(v)
            }
            _ => None,
        },
        HirKind::Concat(parts) => {
            let mut acc: Vec<Vec<Tok>> = vec![vec![]];
            for p in parts {
                let alts = alternatives(p, exact)?;
                let mut next = Vec::new();
                for a in &acc {
                    for b in &alts {
                        next.push(a.iter().chain(b).cloned().collect());
                    }
                }
                if next.len() > MAX_GLOBS {
                    return None;
                }
                acc = next;
            }
            Some(acc)
        }
        HirKind::Alternation(alts) => {
            let mut out = Vec::new();
            for a in alts {
                out.extend(alternatives(a, exact)?);
            }
            (out.len() <= MAX_GLOBS).then_some(out)
        }
    }
}

/// A literal character in glob syntax.
fn literal(c: char, exact: &mut bool) -> Option<Tok> {
    Some(match c {
        '/' => Tok::Slash,
        '*' | '?' | '[' | '\\' => Tok::Char(format!("\\{c}")),
        c if c.is_whitespace() => {
            // No literal blank in a gitattributes pattern: any blank stands for it.
            *exact = false;
            Tok::Char("[[:space:]]".into())
        }
        c if c.is_control() || c == '"' => return None,
        c => Tok::Char(c.to_string()),
    })
}

/// What a class matches, as a token for one character (`Any`/`Seg` mean "any
/// character" / "any character but `/`"; their star is built by [`class_star`]).
fn class_tok(class: &Class, exact: &mut bool) -> Option<Tok> {
    let ranges: Vec<(u32, u32)> = match class {
        Class::Unicode(u) => u
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
    };
    let max = if matches!(class, Class::Bytes(_)) {
        0xFF
    } else {
        0x10FFFF
    };
    // The characters left out (a path never holds `\n`, so leaving it out changes nothing).
    let mut gaps = Vec::new();
    let mut next = 0u32;
    for &(s, e) in &ranges {
        if s > next {
            gaps.push((next, s - 1));
        }
        next = e + 1;
    }
    if next <= max {
        gaps.push((next, max));
    }
    let left_out = |c: char| gaps.iter().any(|&(s, e)| s <= c as u32 && c as u32 <= e);
    let only = |allowed: &[char]| {
        gaps.iter()
            .all(|&(s, e)| (s..=e).all(|c| char::from_u32(c).is_some_and(|c| allowed.contains(&c))))
    };
    if gaps.iter().map(|(s, e)| e - s + 1).sum::<u32>() <= 2 {
        if only(&['\n']) {
            return Some(Tok::Any);
        }
        if left_out('/') && only(&['\n', '/']) {
            return Some(Tok::Seg);
        }
    }
    // A small class of plain characters: a glob bracket expression.
    let count: u32 = ranges.iter().map(|(s, e)| e - s + 1).sum();
    if count > 64 {
        return None;
    }
    let mut text = String::from("[");
    for &(s, e) in &ranges {
        for c in s..=e {
            let c = char::from_u32(c)?;
            if !(c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                return None;
            }
            text.push(c);
        }
    }
    text.push(']');
    let _ = exact;
    Some(Tok::Char(text))
}

/// `X*` for a class `X` that is "anything" or "anything but `/`".
fn class_star(class: &Class) -> Option<Tok> {
    let mut exact = true;
    match class_tok(class, &mut exact)? {
        Tok::Any => Some(Tok::Any),
        Tok::Seg => Some(Tok::Seg),
        _ => None,
    }
}

/// The globs of one alternative.
fn seq_globs(mut seq: Vec<Tok>, exact: &mut bool) -> Option<Vec<String>> {
    let anchored_start = seq.first() == Some(&Tok::Start);
    let anchored_end = seq.last() == Some(&Tok::End);
    if anchored_start {
        seq.remove(0);
    }
    if anchored_end {
        seq.pop();
    }
    if seq.iter().any(|t| matches!(t, Tok::Start | Tok::End)) {
        return None;
    }
    if !anchored_start {
        seq.insert(0, Tok::Any);
    }
    if !anchored_end {
        seq.push(Tok::Any);
    }
    // Merge runs of `Any`/`Seg`.
    let mut toks: Vec<Tok> = Vec::new();
    for t in seq {
        match (toks.last_mut(), &t) {
            (Some(last @ (Tok::Any | Tok::Seg)), Tok::Any | Tok::Seg) => {
                if t == Tok::Any {
                    *last = Tok::Any;
                }
            }
            _ => toks.push(t),
        }
    }
    let mut globs = vec![String::new()];
    let n = toks.len();
    for (i, t) in toks.iter().enumerate() {
        let piece: Vec<&str> = match t {
            Tok::Char(c) => vec![c.as_str()],
            Tok::Slash => vec!["/"],
            Tok::Seg => vec!["*"],
            Tok::Any => {
                let after_slash = i > 0 && toks[i - 1] == Tok::Slash;
                let before_slash = toks.get(i + 1) == Some(&Tok::Slash);
                if i == 0 {
                    // Any leading directories, then the start of a component.
                    if n == 1 { vec!["**"] } else { vec!["**/*"] }
                } else if i + 1 == n {
                    if after_slash {
                        vec!["**"]
                    } else {
                        vec!["*", "*/**"]
                    }
                } else if after_slash && before_slash {
                    // `X/**/Y` also matches `X/Y`, which the regex (`X//Y`) does not.
                    *exact = false;
                    vec!["**"]
                } else if after_slash {
                    vec!["**/*"]
                } else if before_slash {
                    vec!["*/**"]
                } else {
                    vec!["*", "*/**/*"]
                }
            }
            Tok::Start | Tok::End => unreachable!("removed above"),
        };
        let mut next = Vec::new();
        for g in &globs {
            for p in &piece {
                next.push(format!("{g}{p}"));
            }
        }
        if next.len() > MAX_GLOBS {
            return None;
        }
        globs = next;
    }
    // A pattern without a `/` would match the name at any depth: anchor it.
    Some(
        globs
            .into_iter()
            .map(|g| {
                if g.starts_with("**") {
                    g
                } else {
                    format!("/{g}")
                }
            })
            .collect(),
    )
}

/// The names sealed can encrypt value by value (as `format::Syntax::from_path` tells them,
/// any case): the broader attribute for rules whose regex has no glob. Other names such a
/// rule matches are not filtered; the pre-commit guard refuses them in clear.
pub const ENCRYPTABLE: &[&str] = &[
    "*.[yY][aA][mM][lL]",
    "*.[yY][mM][lL]",
    "*.[jJ][sS][oO][nN]",
    "*.[eE][nN][vV]",
    ".[eE][nN][vV].*",
    "*.[iI][nN][iI]",
    "*.[tT][oO][mM][lL]",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn g(re: &str) -> (Vec<String>, bool) {
        globs_for(re).unwrap_or_else(|| panic!("{re} not translated"))
    }

    #[test]
    fn common_rules() {
        assert_eq!(
            g(r"secrets/.*\.yaml$"),
            (vec!["**/*secrets/**/*.yaml".to_string()], true)
        );
        assert_eq!(g(r"^secrets/"), (vec!["/secrets/**".to_string()], true));
        assert_eq!(g(r"\.env$"), (vec!["**/*.env".to_string()], true));
        assert_eq!(g(r"(dev|prod)/[^/]*\.json$").0.len(), 2);
        assert!(globs_for(r"secrets/.+\.yaml").is_none());
        assert!(globs_for(r"\d+\.yaml").is_none());
    }
}
