//! Spelling a new JSON value (from `sealed set`) in each syntax: YAML plain/quoted scalars,
//! flow and block collections at a given column; JSON pretty or inline; dotenv raw text.

use serde_json::Value;
use zeroize::Zeroize;

use crate::format::yaml::{double_quoted, plain_safe};
use crate::format::{Scalar, Style, Syntax};

/// A JSON value holding a secret: its strings are wiped on drop.
pub struct SecretValue(pub Value);

impl Drop for SecretValue {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => {
            for (_, v) in m.iter_mut() {
                wipe(v);
            }
        }
        _ => {}
    }
}

/// The value as a scalar typed as the syntaxes type what [`scalar`] writes; `None` for a
/// collection.
pub fn to_scalar(v: &Value) -> Option<Scalar<'_>> {
    Some(match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Scalar::Str(s.as_str().into()),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// Is `v` a mapping or sequence?
pub fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

/// Is `v` an empty mapping or sequence?
pub fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// A YAML scalar written plain when that reads back as the same value, else double-quoted.
pub fn yaml_scalar(s: &Scalar, in_flow: bool) -> String {
    Syntax::Yaml.format().render(&Style::Plain, in_flow, s)
}

/// A YAML mapping key, quoted like `like` (a sibling key's text) when that one is quoted.
pub fn yaml_key(k: &str, in_flow: bool, like: Option<&str>) -> String {
    match like.and_then(|l| l.chars().next()) {
        Some('"') => double_quoted(k),
        Some('\'') if !k.chars().any(char::is_control) => format!("'{}'", k.replace('\'', "''")),
        _ if plain_safe(k, in_flow) => k.to_string(),
        _ => double_quoted(k),
    }
}

/// A value in YAML flow style, on one line.
pub fn yaml_flow(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let members: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_key(k, true, None), yaml_flow(v)))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(yaml_flow).collect();
            format!("[{}]", items.join(", "))
        }
        scalar => yaml_scalar(&to_scalar(scalar).unwrap_or(Scalar::Null), true),
    }
}

/// How nested YAML block collections are indented.
#[derive(Debug, Clone, Copy)]
pub struct YamlIndent {
    /// Extra columns for a mapping's nested block collection.
    pub unit: usize,
    /// Extra columns for a sequence under a mapping key (0: `key:\n- a`).
    pub seq: usize,
}

/// A non-empty collection in YAML block style, its entries at column `col`: the lines,
/// each with its indentation.
pub fn yaml_block(v: &Value, col: usize, ind: YamlIndent) -> Vec<String> {
    let pad = " ".repeat(col);
    let mut lines = Vec::new();
    let nested = |v: &Value, head: String, lines: &mut Vec<String>, key_col: usize| {
        if !is_collection(v) {
            lines.push(format!(
                "{head} {}",
                yaml_scalar(&to_scalar(v).unwrap_or(Scalar::Null), false)
            ));
        } else if is_empty_collection(v) {
            lines.push(format!("{head} {}", yaml_flow(v)));
        } else {
            lines.push(head);
            let c = if v.is_array() {
                key_col + ind.seq
            } else {
                key_col + ind.unit
            };
            lines.extend(yaml_block(v, c, ind));
        }
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                nested(
                    v,
                    format!("{pad}{}:", yaml_key(k, false, None)),
                    &mut lines,
                    col,
                );
            }
        }
        Value::Array(a) => {
            for item in a {
                if is_collection(item) && !is_empty_collection(item) {
                    let inner = yaml_block(item, col + 2, ind);
                    let mut it = inner.into_iter();
                    if let Some(first) = it.next() {
                        lines.push(format!("{pad}- {}", first.trim_start_matches(' ')));
                    }
                    lines.extend(it);
                } else {
                    lines.push(format!("{pad}- {}", yaml_flow(item)));
                }
            }
        }
        scalar => lines.push(format!("{pad}{}", yaml_flow(scalar))),
    }
    lines
}

/// How a JSON value is laid out.
#[derive(Debug, Clone)]
pub enum JsonLayout {
    /// One member per line: the indentation of the line the value starts on, the unit.
    Pretty {
        /// Indentation of the value's line.
        indent: String,
        /// One level of indentation.
        unit: String,
        /// Line break.
        eol: &'static str,
    },
    /// On one line, with `": "`/`", "` (spaced) or `":"`/`","`.
    Inline {
        /// Spaces after `:` and `,`.
        spaced: bool,
    },
}

/// A JSON string literal (the one JSON string writer, [`crate::format::json::push_string`]).
pub use crate::format::json::json_string;

/// A JSON value in `layout`.
pub fn json(v: &Value, layout: &JsonLayout) -> String {
    match (v, layout) {
        (Value::Object(m), _) if m.is_empty() => "{}".into(),
        (Value::Array(a), _) if a.is_empty() => "[]".into(),
        (Value::Object(_) | Value::Array(_), JsonLayout::Pretty { indent, unit, eol }) => {
            let inner = JsonLayout::Pretty {
                indent: format!("{indent}{unit}"),
                unit: unit.clone(),
                eol,
            };
            let (open, close, parts): (char, char, Vec<String>) = match v {
                Value::Object(m) => (
                    '{',
                    '}',
                    m.iter()
                        .map(|(k, v)| format!("{}: {}", json_string(k), json(v, &inner)))
                        .collect(),
                ),
                Value::Array(a) => ('[', ']', a.iter().map(|v| json(v, &inner)).collect()),
                _ => unreachable!("collections only"),
            };
            let sep = format!(",{eol}{indent}{unit}");
            format!(
                "{open}{eol}{indent}{unit}{}{eol}{indent}{close}",
                parts.join(&sep)
            )
        }
        (Value::Object(m), JsonLayout::Inline { spaced }) => {
            let (colon, comma) = if *spaced { (": ", ", ") } else { (":", ",") };
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}{colon}{}", json_string(k), json(v, layout)))
                .collect();
            format!("{{{}}}", parts.join(comma))
        }
        (Value::Array(a), JsonLayout::Inline { spaced }) => {
            let comma = if *spaced { ", " } else { "," };
            let parts: Vec<String> = a.iter().map(|v| json(v, layout)).collect();
            format!("[{}]", parts.join(comma))
        }
        (scalar, _) => serde_json::to_string(scalar).unwrap_or_else(|_| "null".into()),
    }
}

/// A .env value: the text as written (a line feed becomes `\n`); `None` for a collection.
pub fn dotenv(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.replace('\n', "\\n"),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IND: YamlIndent = YamlIndent { unit: 2, seq: 0 };

    #[test]
    fn yaml_spelling() {
        assert_eq!(
            yaml_scalar(&Scalar::Str("hunter2".into()), false),
            "hunter2"
        );
        assert_eq!(yaml_scalar(&Scalar::Str("true".into()), false), "\"true\"");
        assert_eq!(yaml_scalar(&Scalar::Str("a\nb".into()), false), "\"a\\nb\"");
        assert_eq!(yaml_scalar(&Scalar::Int(5), false), "5");
        // YAML 1.1 readers type these; sops (yaml.v3) quotes them the same way.
        for s in ["10:00", "y", "No", "0o17", "<<", "="] {
            assert_eq!(
                yaml_scalar(&Scalar::Str(s.into()), false),
                format!("\"{s}\"")
            );
            assert_eq!(yaml_key(s, false, None), format!("\"{s}\""));
        }
        assert_eq!(yaml_key("a b", false, None), "a b");
        assert_eq!(yaml_key("a: b", false, None), "\"a: b\"");
        assert_eq!(yaml_key("k", false, Some("'x'")), "'k'");
        assert_eq!(
            yaml_flow(&json!({"a": [1, "x, y"], "b": {}})),
            "{a: [1, \"x, y\"], b: {}}"
        );
        assert_eq!(
            yaml_block(
                &json!({"a": {"b": 1}, "l": [{"x": 1, "y": [2]}, "s"], "e": []}),
                2,
                IND
            ),
            [
                "  a:",
                "    b: 1",
                "  l:",
                "  - x: 1",
                "    \"y\":",
                "    - 2",
                "  - s",
                "  e: []"
            ]
        );
    }

    #[test]
    fn json_spelling() {
        let v = json!({"a": [1, {"b": null}], "c": "x\"y"});
        assert_eq!(
            json(&v, &JsonLayout::Inline { spaced: false }),
            r#"{"a":[1,{"b":null}],"c":"x\"y"}"#
        );
        assert_eq!(
            json(
                &v,
                &JsonLayout::Pretty {
                    indent: "  ".into(),
                    unit: "  ".into(),
                    eol: "\n"
                }
            ),
            "{\n    \"a\": [\n      1,\n      {\n        \"b\": null\n      }\n    ],\n    \"c\": \"x\\\"y\"\n  }"
        );
        assert_eq!(
            json(&json!(1.0), &JsonLayout::Inline { spaced: true }),
            "1.0"
        );
        assert_eq!(dotenv(&json!("a\nb")).unwrap(), "a\\nb");
        assert!(dotenv(&json!([])).is_none());
    }
}
