//! The JSON scanner's lexemes: literals, numbers and strings (with their escapes).

use super::*;

impl<'a> Parser<'a> {
    /// Reads `word` exactly.
    pub(super) fn literal(
        &mut self,
        word: &str,
        value: Scalar<'a>,
    ) -> Result<Scalar<'a>, SyntaxError> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            self.err(self.pos, "invalid literal (expected true, false or null)")
        }
    }

    /// Reads a number per RFC 8259: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    pub(super) fn number(&mut self) -> Result<Scalar<'a>, SyntaxError> {
        let start = self.pos;
        let b = self.b;
        let mut p = self.pos;
        let digits = |p: &mut usize| {
            let s = *p;
            while b.get(*p).is_some_and(u8::is_ascii_digit) {
                *p += 1;
            }
            *p - s
        };
        if b.get(p) == Some(&b'-') {
            p += 1;
        }
        match b.get(p) {
            Some(b'0') => p += 1,
            Some(b'1'..=b'9') => {
                digits(&mut p);
            }
            _ => return self.err(p, "invalid number"),
        }
        let mut integral = true;
        if b.get(p) == Some(&b'.') {
            p += 1;
            integral = false;
            if digits(&mut p) == 0 {
                return self.err(p, "invalid number: digit expected after '.'");
            }
        }
        if matches!(b.get(p), Some(b'e' | b'E')) {
            p += 1;
            integral = false;
            if matches!(b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            if digits(&mut p) == 0 {
                return self.err(p, "invalid number: digit expected in exponent");
            }
        }
        self.pos = p;
        let text = &self.src[start..p];
        if integral && let Ok(i) = text.parse::<i64>() {
            return Ok(Scalar::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Scalar::Float(f)),
            // Go's JSON decoder (so sops) refuses a number beyond a 64-bit float's range;
            // sealed would store an infinity that sops then cannot write out.
            Ok(_) => self.err(
                start,
                "number out of the range of a 64-bit float (sops cannot read it); write it as a string",
            ),
            Err(_) => self.err(start, "invalid number"),
        }
    }

    /// Reads four hex digits at `p`.
    pub(super) fn hex4(&self, p: usize) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = match self.b.get(p + i) {
                Some(c) => (*c as char).to_digit(16),
                None => return self.err(p + i, "unexpected end of input"),
            };
            match d {
                Some(d) => v = v * 16 + d,
                None => return self.err(p + i, "invalid \\u escape: hex digit expected"),
            }
        }
        Ok(v)
    }

    /// Reads a string literal at the current `"` and returns its decoded contents.
    pub(super) fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        let start = self.pos;
        let b = self.b;
        let mut p = start + 1;
        // Fast path: find the end and check whether it has escapes.
        let mut run = p;
        let mut out: Option<String> = None;
        loop {
            let Some(&c) = b.get(p) else {
                return self.err(start, "unterminated string");
            };
            match c {
                b'"' => {
                    let tail = &self.src[run..p];
                    self.pos = p + 1;
                    return Ok(match out {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = out.get_or_insert_with(|| String::with_capacity(p - start));
                    s.push_str(&self.src[run..p]);
                    let Some(&e) = b.get(p + 1) else {
                        return self.err(start, "unterminated string");
                    };
                    p += 2;
                    match e {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let esc = p - 2;
                            let hi = self.hex4(p)?;
                            p += 4;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if b.get(p) != Some(&b'\\') || b.get(p + 1) != Some(&b'u') {
                                    return self.err(esc, "invalid \\u escape: lone surrogate");
                                }
                                let lo = self.hex4(p + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err(esc, "invalid \\u escape: lone surrogate");
                                }
                                p += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return self.err(esc, "invalid \\u escape: lone surrogate");
                            } else {
                                hi
                            };
                            match char::from_u32(cp) {
                                Some(ch) => s.push(ch),
                                None => return self.err(esc, "invalid \\u escape"),
                            }
                        }
                        _ => return self.err(p - 2, "invalid escape in string"),
                    }
                    run = p;
                }
                0..=0x1f => return self.err(p, "control character in string (must be escaped)"),
                _ => p += 1,
            }
        }
    }
}
