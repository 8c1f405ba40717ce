//! File helpers. (stub)
