//! The format-preserving engine. (stub)
