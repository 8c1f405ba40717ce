//! Command-line verbs. (stub)
