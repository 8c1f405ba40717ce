//! Engine errors as the one-line errors users see: the file, a position, the cause in
//! their words (conflict markers left by a merge, a key indented under a value) and, where
//! there is one, the command that fixes it.

use super::EngineError;
use crate::error::{Error, Pos};

/// The YAML parser's message for `key: value` indented under another key's value.
const YAML_INDENTED_KEY: &str = "mapping values are not allowed in this context";

/// The 1-based line of the first conflict marker (`<<<<<<<`) of a merge conflict that is
/// still in `src` (its `>>>>>>>` line follows), if any.
pub fn conflict_marker_line(src: &str) -> Option<usize> {
    let is = |line: &str, mark: &str| {
        line.strip_prefix(mark)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\r']))
    };
    let mut open = None;
    for (n, line) in src.lines().enumerate() {
        if open.is_none() && is(line, "<<<<<<<") {
            open = Some(n + 1);
        } else if open.is_some() && is(line, ">>>>>>>") {
            return open;
        }
    }
    None
}

/// Turns an engine error about `src` (read from `file`) into a one-line error, naming the
/// cause in the user's words where a syntax error has a common one (conflict markers left
/// by a merge, a key indented under a value).
pub fn engine_error(file: &str, src: &str, e: EngineError) -> Error {
    let code = e.exit_code();
    if let (EngineError::Syntax(_), Some(line)) = (&e, conflict_marker_line(src)) {
        return Error::Syntax {
            file: file.to_string(),
            pos: Pos { line, col: 1 },
            msg: format!(
                "unresolved conflict markers at line {line} (a merge left them): keep the \
                 right value of each conflict and delete the <<<<<<<, ======= and >>>>>>> lines"
            ),
        }
        .with_code(code);
    }
    let mut msg = e.to_string();
    if matches!(e, EngineError::Syntax(_)) && msg == YAML_INDENTED_KEY {
        msg = "a key is indented under a value (mapping values are not allowed here): \
               line it up with the keys of its mapping, or indent it under a key that has no value"
            .to_string();
    }
    if matches!(
        e,
        EngineError::LayoutChanged | EngineError::Unauthenticated { .. }
    ) {
        // The way out for someone who made the change: read it once more, knowingly, and
        // seal it again (the new data key's layout digest then covers it).
        msg.push_str(&format!(
            "; review the change, and if you made it yourself seal it again: {}=1 sealed rotate {}",
            super::ALLOW_UNAUTHENTICATED_VAR,
            shell_words::quote(file)
        ));
    }
    match e.offset() {
        Some(offset) => Error::Syntax {
            file: file.to_string(),
            pos: Pos::of_offset(src, offset),
            msg,
        }
        .with_code(code),
        None => Error::file(file, code, msg),
    }
}
