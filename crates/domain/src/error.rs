//! The one error type of every parser in this crate.

use std::fmt;

/// Why a piece of text is not a valid domain value.
///
/// `what` names the kind of value ("ID number", "amount", …) and `problem` says precisely what is
/// wrong with it, quoting the offending part. Messages are lowercase and in English; the server
/// translates the common ones for the national interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    what: &'static str,
    problem: String,
}

impl ParseError {
    pub fn new(what: &'static str, problem: impl Into<String>) -> Self {
        ParseError { what, problem: problem.into() }
    }

    /// The kind of value that failed to parse, e.g. `"ID number"`.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// What is wrong, e.g. `"check character is 7, expected 6"`.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.what, self.problem)
    }
}

impl std::error::Error for ParseError {}
