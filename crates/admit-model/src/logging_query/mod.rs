//! The Cloud Logging query language, as `entries.list` filters use it, evaluated over JSON
//! `LogEntry` values.
//!
//! * Comparisons `PATH OP VALUE` with `=`, `!=`, `<`, `<=`, `>`, `>=`, `:` (has: a
//!   case-insensitive substring, or presence with `*`), `=~` and `!~` (RE2 regular expressions,
//!   searched, not anchored). String comparisons are not case-sensitive; a path through a
//!   repeated field matches when any element does; `severity` compares by rank and RFC 3339
//!   values as instants. A parenthesised right-hand side (`type = ("a" OR "b")`) applies the
//!   comparison to each value.
//! * Paths are dotted; a segment may be quoted (`labels."k8s.io/x"`) or start with `@`
//!   (`protoPayload.@type`).
//! * A bare value is a global restriction: the entry matches when any of its values (or keys)
//!   has it.
//! * `NOT` (or a leading `-`) binds tightest, then `OR`, then `AND`, which is also implied
//!   between adjacent terms: `a OR NOT b AND c` is `(a OR (NOT b)) AND c`.
//!
//! Filters are bounded before use ([`MAX_LENGTH`], [`MAX_DEPTH`], [`MAX_TERMS`]) so that no
//! filter can exhaust the stack or the CPU; a bad filter is refused naming the offset.

use serde_json::Value;

use crate::ModelError;

mod parse;

use parse::{Parser, err, lex};

/// Seconds and nanoseconds since the Unix epoch.
pub type Instant = (u64, u32);

/// Cloud Logging's own bound on a filter's length.
pub const MAX_LENGTH: usize = 20_000;
/// The deepest nesting of parentheses and `NOT`.
pub const MAX_DEPTH: usize = 32;
/// The most comparisons and global restrictions in one filter.
pub const MAX_TERMS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
    Matches,
    NotMatches,
}

/// A value on the right of a comparison, or a global restriction.
#[derive(Debug, Clone)]
pub struct Literal {
    pub text: String,
    /// Written in quotes (so `*` is a string, not "present").
    pub quoted: bool,
    regex: Option<regex::Regex>,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub enum Query {
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    Compare {
        path: Vec<String>,
        op: Op,
        value: Box<Rhs>,
    },
    Global(Literal),
}

/// The right-hand side: a value, or values combined with `AND` / `OR`.
#[derive(Debug, Clone)]
pub enum Rhs {
    Value(Literal),
    And(Vec<Rhs>),
    Or(Vec<Rhs>),
    Not(Box<Rhs>),
}

/// Parses a filter; the empty filter matches everything.
pub fn parse(filter: &str) -> Result<Query, ModelError> {
    if filter.len() > MAX_LENGTH {
        return Err(ModelError::InvalidFilter(format!(
            "filter: {} bytes long; at most {MAX_LENGTH} are accepted",
            filter.len()
        )));
    }
    let toks = lex(filter)?;
    if toks.is_empty() {
        return Ok(Query::All);
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: filter.len(),
        terms: 0,
    };
    let q = p.and(0)?;
    if p.pos < p.toks.len() {
        return Err(err(p.at(), "unbalanced `)`"));
    }
    Ok(q)
}

const SEVERITIES: &[&str] = &[
    "DEFAULT",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "ALERT",
    "EMERGENCY",
];

fn severity_rank(s: &str) -> Option<usize> {
    SEVERITIES.iter().position(|x| x.eq_ignore_ascii_case(s))
}

/// Every value at `path`, fanning out through lists.
fn collect<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => {
            for i in items {
                collect(i, path, out);
            }
        }
        _ if path.is_empty() => out.push(v),
        Value::Object(o) => {
            if let Some(next) = o.get(&path[0]) {
                collect(next, &path[1..], out);
            }
        }
        _ => {}
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// Whether any value or key inside `v` has `needle`.
fn has_anywhere(v: &Value, needle: &str) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| contains_ci(k, needle) || has_anywhere(x, needle)),
        Value::Array(a) => a.iter().any(|x| has_anywhere(x, needle)),
        other => scalar_text(other).is_some_and(|t| contains_ci(&t, needle)),
    }
}

fn ordering(path: &[String], left: &Value, right: &str) -> Option<std::cmp::Ordering> {
    let text = scalar_text(left)?;
    if path.last().is_some_and(|p| p == "severity")
        && let (Some(a), Some(b)) = (severity_rank(&text), severity_rank(right))
    {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (
        crate::time::parse_rfc3339(&text),
        crate::time::parse_rfc3339(right),
    ) {
        return Some(a.cmp(&b));
    }
    if let (Value::Number(n), Ok(b)) = (left, right.parse::<f64>()) {
        return n.as_f64()?.partial_cmp(&b);
    }
    Some(text.to_lowercase().cmp(&right.to_lowercase()))
}

fn compare_one(path: &[String], op: Op, left: &Value, lit: &Literal) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Op::Has => {
            if lit.text == "*" && !lit.quoted {
                return !left.is_null();
            }
            has_anywhere(left, &lit.text)
        }
        Op::Matches | Op::NotMatches => {
            let hit = scalar_text(left)
                .zip(lit.regex.as_ref())
                .is_some_and(|(t, r)| r.is_match(&t));
            hit == (op == Op::Matches)
        }
        Op::Eq | Op::Ne => {
            let eq = ordering(path, left, &lit.text) == Some(Equal)
                || (left.is_null() && lit.text == "NULL_VALUE" && !lit.quoted);
            eq == (op == Op::Eq)
        }
        Op::Lt => ordering(path, left, &lit.text) == Some(Less),
        Op::Le => matches!(ordering(path, left, &lit.text), Some(Less | Equal)),
        Op::Gt => ordering(path, left, &lit.text) == Some(Greater),
        Op::Ge => matches!(ordering(path, left, &lit.text), Some(Greater | Equal)),
    }
}

fn eval_rhs(path: &[String], op: Op, values: &[&Value], rhs: &Rhs) -> bool {
    match rhs {
        Rhs::Value(lit) => {
            if op == Op::Ne {
                // `!=` holds when no value equals (a missing field included).
                !values.iter().any(|v| compare_one(path, Op::Eq, v, lit))
            } else if op == Op::NotMatches {
                !values
                    .iter()
                    .any(|v| compare_one(path, Op::Matches, v, lit))
            } else {
                values.iter().any(|v| compare_one(path, op, v, lit))
            }
        }
        Rhs::And(parts) => parts.iter().all(|r| eval_rhs(path, op, values, r)),
        Rhs::Or(parts) => parts.iter().any(|r| eval_rhs(path, op, values, r)),
        Rhs::Not(r) => !eval_rhs(path, op, values, r),
    }
}

impl Query {
    /// Whether `entry` matches.
    pub fn matches(&self, entry: &Value) -> bool {
        match self {
            Query::All => true,
            Query::And(q) => q.iter().all(|q| q.matches(entry)),
            Query::Or(q) => q.iter().any(|q| q.matches(entry)),
            Query::Not(q) => !q.matches(entry),
            Query::Global(lit) => has_anywhere(entry, &lit.text),
            Query::Compare { path, op, value } => {
                let mut values = Vec::new();
                collect(entry, path, &mut values);
                eval_rhs(path, *op, &values, value)
            }
        }
    }

    /// The instants every matching entry's `timestamp` lies within, read from comparisons
    /// on `timestamp` that the whole query requires (a top-level conjunction): `(since,
    /// until)`, each inclusive, in seconds and nanoseconds. Used to narrow a scan; the query
    /// still decides each entry.
    pub fn timestamp_bounds(&self) -> (Option<Instant>, Option<Instant>) {
        let mut since: Option<Instant> = None;
        let mut until: Option<Instant> = None;
        let terms: &[Query] = match self {
            Query::And(q) => q,
            other => std::slice::from_ref(other),
        };
        for t in terms {
            let Query::Compare { path, op, value } = t else {
                continue;
            };
            let (true, Rhs::Value(lit)) = (path.len() == 1 && path[0] == "timestamp", &**value)
            else {
                continue;
            };
            let Some(at) = crate::time::parse_rfc3339(&lit.text) else {
                continue;
            };
            match op {
                Op::Gt | Op::Ge => since = since.max(Some(at)),
                Op::Lt | Op::Le => until = Some(until.map_or(at, |u| u.min(at))),
                Op::Eq => {
                    since = since.max(Some(at));
                    until = Some(until.map_or(at, |u| u.min(at)));
                }
                _ => {}
            }
        }
        (since, until)
    }
}

#[cfg(test)]
mod tests;
