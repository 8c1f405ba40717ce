//! What a recipient of a file could read: the key paths of its encrypted values, found in
//! the ciphertext itself (key paths are stored in clear text), so no value is ever
//! decrypted or shown.

use crate::codec::token::is_token;
use crate::data::{self, Node, Step};
use crate::format::{Item, Scalar, Syntax};

/// Key paths (`db.password`, `hosts[0]`) of the encrypted values of a sealed document, in
/// document order. Encrypted comments are not values and are not listed.
pub fn encrypted_paths(text: &str, syntax: Syntax) -> Vec<String> {
    match data::load(text, syntax) {
        Ok(doc) => {
            let mut out = Vec::new();
            let mut steps = Vec::new();
            if let Node::Map(entries) = &doc.root {
                for (k, v) in entries {
                    let metadata = match syntax {
                        Syntax::Dotenv => k.starts_with("sops_"),
                        _ => k == "sops",
                    };
                    if metadata {
                        continue;
                    }
                    steps.push(Step::Key(k.clone()));
                    walk(v, &mut steps, &mut out);
                    steps.pop();
                }
            }
            out
        }
        // Several YAML documents: the outline's paths (without list indexes).
        Err(_) => outline_paths(text, syntax),
    }
}

fn walk(node: &Node, steps: &mut Vec<Step>, out: &mut Vec<String>) {
    match node {
        Node::Map(entries) => {
            for (k, v) in entries {
                steps.push(Step::Key(k.clone()));
                walk(v, steps, out);
                steps.pop();
            }
        }
        Node::List(items) => {
            for (i, v) in items.iter().enumerate() {
                steps.push(Step::Index(i));
                walk(v, steps, out);
                steps.pop();
            }
        }
        Node::Scalar(s) => {
            let t = s.text.as_str();
            if is_token(t) && !t.contains(",type:comment]") {
                out.push(data::dotted_path(steps));
            }
        }
    }
}

fn outline_paths(text: &str, syntax: Syntax) -> Vec<String> {
    let Ok(outline) = syntax.format().parse(text) else {
        return vec![];
    };
    let mut out: Vec<String> = Vec::new();
    for doc in &outline.docs {
        for item in &doc.items {
            if let Item::Leaf(leaf) = item
                && let Scalar::Str(s) = &leaf.value
                && is_token(s)
                && !s.contains(",type:comment]")
            {
                let p = leaf.path.join(".");
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_encrypted_values_only() {
        let text = "db:\n  user: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n  port_unencrypted: 5432\nhosts:\n  - ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n  - ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:comment]\nsops:\n  version: 3.11.0\n";
        assert_eq!(
            encrypted_paths(text, Syntax::Yaml),
            vec!["db.user".to_string(), "hosts[0]".to_string()]
        );
        let env = "A=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops_version=3.11.0\n";
        assert_eq!(encrypted_paths(env, Syntax::Dotenv), vec!["A".to_string()]);
    }
}
