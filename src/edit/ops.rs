//! The editor's operations on one node: replacing a value, inserting a mapping member,
//! appending a sequence item, removing an entry. Each returns the splice to apply.

use serde_json::Value;
use zeroize::Zeroizing;

use super::render::{self, JsonLayout};
use super::{EditError, Editor, Splice, children, expected_scalar, locate};
use crate::format::{NodeKind, Style, Syntax};

impl Editor<'_> {
    /// Replaces the value of node `n` with `v`; `None` when it already holds it.
    pub(super) fn replace_value(&self, n: usize, v: &Value) -> Result<Option<Splice>, EditError> {
        let doc = self.doc();
        let node = &doc.nodes[n];
        let parent_flow = locate::parent(doc, n).is_some_and(|p| doc.nodes[p].flow);
        let new_scalar = (!render::is_collection(v)).then(|| expected_scalar(v, self.syntax));
        if let (NodeKind::Scalar, Some(s)) = (node.kind, &new_scalar) {
            if self
                .leaf_value(n)
                .is_some_and(|(old, _)| old == s && !(self.syntax == Syntax::Dotenv && v.is_null()))
            {
                return Ok(None);
            }
            let text = match self.syntax {
                Syntax::Dotenv => Zeroizing::new(render::dotenv(v).unwrap_or_default()),
                // TOML edits go through `edit::toml` (toml_edit), not the node editor.
                Syntax::Toml => return Err(EditError::Verify),
                Syntax::Ini => Zeroizing::new(crate::format::ini::spell(
                    &render::dotenv(v).unwrap_or_default(),
                )),
                Syntax::Json | Syntax::Binary => {
                    Zeroizing::new(render::json(v, &JsonLayout::Inline { spaced: true }))
                }
                Syntax::Yaml if node.header.is_some() => self.yaml_block_scalar(n, s),
                Syntax::Yaml => {
                    let style = match self.leaf_value(n) {
                        Some((_, st @ (Style::SingleQuoted | Style::DoubleQuoted))) => st.clone(),
                        _ => Style::Plain,
                    };
                    let t = self.syntax.format().render(&style, parent_flow, s);
                    Zeroizing::new(if node.span.is_empty() {
                        format!(" {t}")
                    } else {
                        t
                    })
                }
            };
            return Ok(Some((node.span.clone(), text)));
        }
        let text = match self.syntax {
            Syntax::Toml => return Err(EditError::Verify),
            Syntax::Dotenv => {
                return Err(EditError::Unsupported(
                    "a .env file holds only text values under top-level keys",
                ));
            }
            Syntax::Ini => {
                return Err(EditError::Unsupported(
                    "set writes only existing keys of an INI file (add new ones with sealed edit)",
                ));
            }
            Syntax::Json | Syntax::Binary => {
                let p = locate::parent(doc, n).unwrap_or(0);
                let ptext = &self.src[doc.nodes[p].span.clone()];
                let layout = if ptext.contains('\n') {
                    JsonLayout::Pretty {
                        indent: self.line_indent(node.entry_start).to_string(),
                        unit: self.json_unit(),
                        eol: self.eol(),
                    }
                } else {
                    JsonLayout::Inline {
                        spaced: ptext.contains(", ") || ptext.contains(": "),
                    }
                };
                render::json(v, &layout)
            }
            Syntax::Yaml if parent_flow || (node.flow && node.kind != NodeKind::Scalar) => {
                render::yaml_flow(v)
            }
            Syntax::Yaml => {
                let from = self.lead(n);
                let text =
                    self.yaml_after_indicator(v, self.column(node.entry_start), node.key.is_none());
                return Ok(Some((from..node.span.end.max(from), Zeroizing::new(text))));
            }
        };
        Ok(Some((node.span.clone(), Zeroizing::new(text))))
    }

    pub(super) fn json_unit(&self) -> String {
        match self.doc().indent_unit.as_str() {
            "" => "  ".to_string(),
            u => u.to_string(),
        }
    }

    /// The separator between the members of flow collection `p` (which has members).
    pub(super) fn flow_sep(&self, p: usize, kids: &[usize]) -> String {
        let nodes = &self.doc().nodes;
        if let [.., a, b] = kids {
            let s = &self.src[nodes[*a].span.end..nodes[*b].entry_start.max(nodes[*a].span.end)];
            if s.trim() == "," {
                return s.to_string();
            }
        }
        let open = nodes[p].span.start + 1;
        let first = nodes[kids[0]].entry_start.max(open);
        let lead = &self.src[open..first];
        let spaced = || {
            let last = &nodes[kids[kids.len() - 1]];
            self.syntax == Syntax::Yaml
                || last
                    .key
                    .as_ref()
                    .is_some_and(|k| self.src[k.end..last.span.start.max(k.end)].contains(' '))
        };
        if lead.is_empty() && !spaced() {
            ",".to_string()
        } else if lead.trim().is_empty() && !lead.is_empty() {
            format!(",{lead}")
        } else {
            ", ".to_string()
        }
    }

    /// The text of a member or item `entry` added to the empty flow collection `p`.
    pub(super) fn fill_empty_flow(
        &self,
        p: usize,
        entry: impl Fn(&JsonLayout) -> String,
    ) -> Splice {
        let node = &self.doc().nodes[p];
        let inner = node.span.start + 1..node.span.end.saturating_sub(1).max(node.span.start + 1);
        let pretty = self.syntax == Syntax::Json && !self.doc().indent_unit.is_empty();
        let text = if pretty {
            let indent = self.line_indent(node.span.start).to_string();
            let unit = self.json_unit();
            let eol = self.eol();
            let layout = JsonLayout::Pretty {
                indent: format!("{indent}{unit}"),
                unit,
                eol,
            };
            format!(
                "{eol}{indent}{}{}{eol}{indent}",
                self.json_unit(),
                entry(&layout)
            )
        } else {
            entry(&JsonLayout::Inline {
                spaced: self.syntax == Syntax::Yaml,
            })
        };
        (inner, Zeroizing::new(text))
    }

    /// Adds `key: v` at the end of mapping `p`.
    pub(super) fn insert_member(
        &self,
        p: usize,
        key: &str,
        v: &Value,
    ) -> Result<Option<Splice>, EditError> {
        let doc = self.doc();
        let nodes = &doc.nodes;
        let kids = children(doc, p);
        let eol = self.eol();
        if self.syntax == Syntax::Dotenv {
            let raw = render::dotenv(v).ok_or(EditError::Unsupported(
                "a .env file holds only text values under top-level keys",
            ))?;
            if key.trim().is_empty()
                || key.contains(['=', '\n', '\r'])
                || key.trim_start().starts_with('#')
                || key.starts_with("sops_")
            {
                return Err(EditError::Unsupported(
                    "a .env key must be non-empty, without '=' or line breaks, not start with '#' or sops_",
                ));
            }
            let at = match doc.insertion {
                crate::format::Insertion::Block { at } => at,
                crate::format::Insertion::Flow { at, .. } => at,
            };
            return Ok(Some((at..at, Zeroizing::new(format!("{eol}{key}={raw}")))));
        }
        let like = kids
            .first()
            .and_then(|&k| nodes[k].key.clone())
            .map(|r| &self.src[r]);
        let pnode = &nodes[p];
        if pnode.flow {
            let key_text = match self.syntax {
                Syntax::Json => render::json_string(key),
                _ => render::yaml_key(key, true, like),
            };
            let value_text = |layout: &JsonLayout| match self.syntax {
                Syntax::Json => render::json(v, layout),
                _ => render::yaml_flow(v),
            };
            let Some(&last) = kids.last() else {
                let colon = if self.syntax == Syntax::Json && self.doc().indent_unit.is_empty() {
                    ":"
                } else {
                    ": "
                };
                return Ok(Some(self.fill_empty_flow(p, |l| {
                    format!("{key_text}{colon}{}", value_text(l))
                })));
            };
            let ln = &nodes[last];
            let sep = self.flow_sep(p, &kids);
            let colon = match &ln.key {
                Some(k) if ln.span.start >= k.end => {
                    let s = &self.src[k.end..ln.span.start];
                    if s.trim() == ":" && !s.contains('\n') {
                        s.to_string()
                    } else {
                        ": ".to_string()
                    }
                }
                _ => ": ".to_string(),
            };
            let layout = if self.src[pnode.span.clone()].contains('\n') {
                JsonLayout::Pretty {
                    indent: self.line_indent(ln.entry_start).to_string(),
                    unit: self.json_unit(),
                    eol,
                }
            } else {
                JsonLayout::Inline {
                    spaced: sep.contains(' '),
                }
            };
            let at = ln.span.end;
            let text = format!("{sep}{key_text}{colon}{}", value_text(&layout));
            return Ok(Some((at..at, Zeroizing::new(text))));
        }
        // A YAML block mapping: a new line after the last entry, at its members' column.
        let (Some(&first), Some(&last)) = (kids.first(), kids.last()) else {
            return Err(EditError::Verify);
        };
        let col = self.column(nodes[first].entry_start);
        let at = self.line_end(nodes[last].span.end);
        let text = format!(
            "{eol}{}{}:{}",
            " ".repeat(col),
            render::yaml_key(key, false, like),
            self.yaml_after_indicator(v, col, false)
        );
        Ok(Some((at..at, Zeroizing::new(text))))
    }

    /// Appends `v` to sequence `p`.
    pub(super) fn append_item(&self, p: usize, v: &Value) -> Result<Option<Splice>, EditError> {
        let doc = self.doc();
        let nodes = &doc.nodes;
        let kids = children(doc, p);
        let pnode = &nodes[p];
        let value_text = |layout: &JsonLayout| match self.syntax {
            Syntax::Json => render::json(v, layout),
            _ => render::yaml_flow(v),
        };
        if pnode.flow {
            let Some(&last) = kids.last() else {
                return Ok(Some(self.fill_empty_flow(p, value_text)));
            };
            let ln = &nodes[last];
            let sep = self.flow_sep(p, &kids);
            let layout = if self.src[pnode.span.clone()].contains('\n') {
                JsonLayout::Pretty {
                    indent: self.line_indent(ln.entry_start).to_string(),
                    unit: self.json_unit(),
                    eol: self.eol(),
                }
            } else {
                JsonLayout::Inline {
                    spaced: sep.contains(' '),
                }
            };
            let at = ln.span.end;
            return Ok(Some((
                at..at,
                Zeroizing::new(format!("{sep}{}", value_text(&layout))),
            )));
        }
        let Some(&last) = kids.last() else {
            return Err(EditError::Verify);
        };
        let col = self.column(nodes[last].entry_start);
        let at = self.line_end(nodes[last].span.end);
        let text = format!(
            "{}{}-{}",
            self.eol(),
            " ".repeat(col),
            self.yaml_after_indicator(v, col, true)
        );
        Ok(Some((at..at, Zeroizing::new(text))))
    }

    /// Removes node `n` with its key, line or separator.
    pub(super) fn remove(&self, n: usize) -> Result<Splice, EditError> {
        let doc = self.doc();
        let nodes = &doc.nodes;
        let empty = || Zeroizing::new(String::new());
        let Some(p) = locate::parent(doc, n) else {
            return Err(EditError::Unsupported("cannot remove the whole document"));
        };
        let kids = children(doc, p);
        let pos = kids.iter().position(|&k| k == n).unwrap_or(0);
        let node = &nodes[n];
        let pnode = &nodes[p];
        if self.syntax == Syntax::Dotenv {
            if kids.len() == 1 {
                return Err(EditError::Unsupported(
                    "cannot remove the only entry of a .env file",
                ));
            }
            return Ok((self.lines(node.entry_start, node.span.end), empty()));
        }
        if pnode.flow {
            let range = if kids.len() == 1 {
                pnode.span.start + 1..pnode.span.end.saturating_sub(1)
            } else if pos + 1 < kids.len() {
                node.entry_start..nodes[kids[pos + 1]].entry_start
            } else {
                nodes[kids[pos - 1]].span.end..node.span.end
            };
            return Ok((range, empty()));
        }
        if kids.len() == 1 {
            let text = if pnode.kind == NodeKind::Seq {
                "[]"
            } else {
                "{}"
            };
            if pnode.steps.is_empty() {
                return Ok((pnode.span.clone(), Zeroizing::new(text.to_string())));
            }
            let from = self.lead(p);
            return Ok((
                from..pnode.span.end.max(from),
                Zeroizing::new(format!(" {text}")),
            ));
        }
        if !self.at_line_start(node.entry_start) && pos == 0 {
            return Ok((node.entry_start..nodes[kids[1]].entry_start, empty()));
        }
        Ok((self.lines(node.entry_start, node.span.end), empty()))
    }
}
