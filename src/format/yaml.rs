//! (stub: to be implemented)

use super::*;

/// The yaml syntax.
pub struct Yaml;

impl Format for Yaml {
    fn parse(&self, _src: &str) -> Result<Outline, SyntaxError> {
        todo!()
    }
    fn token_text(&self, _leaf: &Leaf, _token: &str) -> (String, Style) {
        todo!()
    }
    fn render(&self, _style: &Style, _in_flow: bool, _value: &Scalar) -> String {
        todo!()
    }
    fn metadata_text(&self, _meta: &serde_json::Value, _outline: &Outline, _doc: &Document) -> String {
        todo!()
    }
}
