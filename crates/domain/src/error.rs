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
    problem_zh: String,
}

impl ParseError {
    /// A problem described in English only (the Chinese rendering repeats it).
    pub fn new(what: &'static str, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        ParseError { what, problem_zh: problem.clone(), problem }
    }

    /// A problem described in English and in Chinese (for HIS operators).
    pub fn bilingual(what: &'static str, problem: impl Into<String>, problem_zh: impl Into<String>) -> Self {
        ParseError { what, problem: problem.into(), problem_zh: problem_zh.into() }
    }

    /// What is wrong, in Chinese, e.g. `"校验码应为6，实为7"`.
    pub fn problem_zh(&self) -> &str {
        &self.problem_zh
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
