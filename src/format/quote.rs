//! The double-quoted string writer that JSON and YAML share: both escape `"`, `\`, line
//! feed, carriage return, tab, backspace and form feed the same way (`\"`, `\\`, `\n`,
//! `\r`, `\t`, `\b`, `\f`); each syntax adds its own escapes for the other characters
//! (JSON: `\u00xx`; YAML: `\0`, `\e`, `\N`, `\L`, `\xXX`…).

/// Appends `s` between double quotes to `out`, with the escapes JSON and YAML share;
/// every other character is offered to `escape`, which appends its escape and returns
/// `true`, or returns `false` to have it written as is. Writes straight into `out`: no
/// unwiped copy of a value.
pub fn push_double_quoted(s: &str, out: &mut String, escape: impl Fn(char, &mut String) -> bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if escape(c, out) => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_and_yaml_share_the_short_escapes_only() {
        let s = "q\"b\\n\nr\rt\tb\u{8}f\u{c}e\u{1b}z\0x\u{2028}";
        assert_eq!(
            crate::format::json::json_string(s),
            r#""q\"b\\n\nr\rt\tb\bf\fe\u001bz\u0000x\u2028""#.replace("\\u2028", "\u{2028}")
        );
        assert_eq!(
            crate::format::yaml::double_quoted(s),
            r#""q\"b\\n\nr\rt\tb\bf\fe\ez\0x\L""#
        );
    }
}
