use super::*;

fn patterns(values: &[&str], min: usize) -> Patterns {
    Patterns::new(values.iter().copied(), min).unwrap().unwrap()
}

/// The whole stream masked at once.
fn whole(p: &Patterns, text: &[u8]) -> Vec<u8> {
    let (mut out, mut at) = (Vec::new(), 0);
    for m in p.ac.find_iter(text) {
        out.extend_from_slice(&text[at..m.start()]);
        out.extend_from_slice(MASK);
        at = m.end();
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// The stream masked in pieces cut at `cuts`.
fn pieces(p: &Patterns, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut m = Masker::new(p);
    let (mut out, mut at) = (Vec::new(), 0);
    for &c in cuts {
        out.extend_from_slice(m.push(&text[at..c]));
        at = c;
    }
    out.extend_from_slice(m.push(&text[at..]));
    out.extend_from_slice(m.finish());
    out
}

#[test]
fn values_are_masked_longest_first() {
    let p = patterns(&["hunter22", "hunter2233", "abc"], 4);
    assert_eq!(
        whole(&p, b"x hunter2233 y hunter22z abc"),
        b"x ***** y *****z abc"
    );
}

#[test]
fn a_value_split_at_every_byte_is_masked() {
    let p = patterns(&["s3cr3t-value", "s3cr3t", "other-one"], 4);
    let text = b"a s3cr3t-value b s3cr3t-valu s3cr3t c other-one";
    let want = whole(&p, text);
    assert_eq!(want, b"a ***** b *****-valu ***** c *****");
    for i in 0..=text.len() {
        for j in i..=text.len() {
            assert_eq!(pieces(&p, text, &[i, j]), want, "cut at {i},{j}");
        }
    }
}

#[test]
fn what_cannot_begin_a_value_is_given_at_once() {
    let p = patterns(&["password-value"], 4);
    let mut m = Masker::new(&p);
    assert_eq!(m.push(b"Enter code: "), b"Enter code: ");
    // A possible beginning is kept back until it is known.
    assert_eq!(m.push(b"line pass"), b"line ");
    assert_eq!(m.push(b"port\n"), b"passport\n");
    assert_eq!(m.push(b"password-"), b"");
    assert_eq!(m.push(b"value!"), b"*****!");
    // A complete value nothing longer extends is masked at once.
    assert_eq!(m.push(b"password-value"), b"*****");
    assert_eq!(m.finish(), b"");
}

#[test]
fn lines_of_multiline_values_and_json_spellings_are_masked() {
    let p = patterns(&["line-one\nline-two", "say \"hi\" now"], 4);
    assert_eq!(whole(&p, b"[line-two]"), b"[*****]");
    assert_eq!(whole(&p, br#"{"v":"say \"hi\" now"}"#), br#"{"v":"*****"}"#);
    assert_eq!(whole(&p, b"line-one\\nline-two"), b"*****");
}

#[test]
fn short_values_are_left_alone() {
    assert!(Patterns::new(["abc", "", "xy"], 4).unwrap().is_none());
    let p = patterns(&["abc", "abcd"], 4);
    assert_eq!(whole(&p, b"abc abcd"), b"abc *****");
    let p = patterns(&["abc"], 3);
    assert_eq!(whole(&p, b"abc abcd"), b"***** *****d");
}

#[test]
fn random_streams_mask_as_the_whole_does() {
    let p = patterns(&["abab", "ababba", "baab", "bbbbbbbb", "aabb"], 4);
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let n = (next() % 40) as usize;
        let text: Vec<u8> = (0..n)
            .map(|_| if next() % 2 == 0 { b'a' } else { b'b' })
            .collect();
        let mut cuts: Vec<usize> = (0..(next() % 6))
            .map(|_| (next() as usize) % (n + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            pieces(&p, &text, &cuts),
            whole(&p, &text),
            "{:?} {cuts:?}",
            String::from_utf8_lossy(&text)
        );
    }
}

#[test]
fn large_chunks_mask_as_the_whole_does() {
    let secret = "s3cr3t-Value-4217";
    let p = patterns(&[secret, "5432", "abc", "quote\\\"x"], 4);
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&"x".repeat(i % 7));
        text.push_str(secret);
        text.push_str(&format!("{i}\n"));
    }
    let text = text.as_bytes();
    let want = whole(&p, text);
    for size in [1000, 4096, 65536] {
        let cuts: Vec<usize> = (1..)
            .map(|k| k * size)
            .take_while(|&c| c < text.len())
            .collect();
        let got = pieces(&p, text, &cuts);
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(got == want, "size {size}: differs at {first:?}");
    }
}
