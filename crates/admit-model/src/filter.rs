//! The AIP-160 subset that Container Analysis clients send in `filter=`:
//! `field = "v"`, `field != "v"`, `has_suffix(field, "v")`, `has_prefix(field, "v")`,
//! `AND`, `OR`, `NOT` / `-`, parentheses, and juxtaposition as AND. Fields: `resourceUri`
//! (and gcloud's alias `resourceUrl`), `kind`, `noteProjectId`, `noteId`, `noteName`.
//! Anything else is rejected with the unsupported part named.
//!
//! Filters arrive in query strings from anyone who can reach the API, and the parsed tree is
//! walked recursively (compiled to SQL, dropped), so its size is bounded before it is built:
//! at most [`MAX_FILTER_LEN`] bytes, [`MAX_FILTER_DEPTH`] nested parentheses / `NOT`s and
//! [`MAX_FILTER_TERMS`] comparisons. The tree's depth is then at most depth + terms.

use std::fmt;

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// The deepest nesting of parentheses and `NOT` / `-` accepted.
pub const MAX_FILTER_DEPTH: usize = 16;
/// The most comparisons (`=`, `!=`, `has_suffix`, `has_prefix`) accepted in one filter.
pub const MAX_FILTER_TERMS: usize = 32;

/// A field a filter may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    ResourceUri,
    Kind,
    NoteProjectId,
    NoteId,
    NoteName,
}

impl FilterField {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "resourceUri" | "resourceUrl" | "resource_uri" | "resource_url" => {
                FilterField::ResourceUri
            }
            "kind" => FilterField::Kind,
            "noteProjectId" | "note_project_id" => FilterField::NoteProjectId,
            "noteId" | "note_id" => FilterField::NoteId,
            "noteName" | "note_name" => FilterField::NoteName,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Eq(FilterField, String),
    Ne(FilterField, String),
    HasSuffix(FilterField, String),
    HasPrefix(FilterField, String),
}

/// Why a filter was refused; `Display` names the unsupported part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid filter: {}", self.0)
    }
}

impl std::error::Error for FilterError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Minus,
}

fn lex(input: &str) -> Result<Vec<Tok>, FilterError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::LParen);
            }
            ')' => {
                chars.next();
                out.push(Tok::RParen);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '=' => {
                chars.next();
                out.push(Tok::Eq);
            }
            '!' => {
                chars.next();
                match chars.next() {
                    Some((_, '=')) => out.push(Tok::Ne),
                    _ => return Err(FilterError(format!("`!` at offset {i} must be `!=`"))),
                }
            }
            '-' => {
                chars.next();
                out.push(Tok::Minus);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e)) => s.push(e),
                            None => return Err(FilterError("unterminated string".into())),
                        },
                        Some((_, ch)) if ch == quote => break,
                        Some((_, ch)) => s.push(ch),
                        None => {
                            return Err(FilterError(format!(
                                "unterminated string starting at offset {i}"
                            )));
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut s = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' || ch == '.' {
                        s.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Ident(s));
            }
            other => {
                return Err(FilterError(format!(
                    "unsupported character `{other}` at offset {i}"
                )));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.is_keyword("OR") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        loop {
            if self.is_keyword("AND") {
                self.pos += 1;
            } else if matches!(self.peek(), None | Some(Tok::RParen)) || self.is_keyword("OR") {
                break;
            }
            // Juxtaposition is AND in AIP-160.
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Enters one level of nesting, refusing to go deeper than [`MAX_FILTER_DEPTH`].
    fn descend(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(FilterError(format!(
                "nesting deeper than {MAX_FILTER_DEPTH} levels of parentheses and NOT"
            )));
        }
        Ok(())
    }

    /// Counts one comparison, refusing more than [`MAX_FILTER_TERMS`].
    fn term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(FilterError(format!(
                "more than {MAX_FILTER_TERMS} comparisons"
            )));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.is_keyword("NOT") || matches!(self.peek(), Some(Tok::Minus)) {
            self.pos += 1;
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn string(&mut self, what: &str) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Str(s) | Tok::Ident(s)) => Ok(s),
            other => Err(FilterError(format!(
                "expected a quoted value for {what}, found {other:?}"
            ))),
        }
    }

    fn field(name: &str) -> Result<FilterField, FilterError> {
        FilterField::parse(name).ok_or_else(|| {
            FilterError(format!(
                "unsupported field `{name}` (supported: resourceUri/resourceUrl, kind, noteProjectId, noteId, noteName)"
            ))
        })
    }

    fn primary(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Tok::LParen) => {
                self.descend()?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::RParen) => Ok(inner),
                    _ => Err(FilterError("missing `)`".into())),
                }
            }
            Some(Tok::Ident(name)) if matches!(self.peek(), Some(Tok::LParen)) => {
                self.term()?;
                self.pos += 1;
                let field = match self.next() {
                    Some(Tok::Ident(f)) => Self::field(&f)?,
                    other => {
                        return Err(FilterError(format!(
                            "expected a field name in {name}(…), found {other:?}"
                        )));
                    }
                };
                if self.next() != Some(Tok::Comma) {
                    return Err(FilterError(format!("expected `,` in {name}(…)")));
                }
                let value = self.string(&name)?;
                if self.next() != Some(Tok::RParen) {
                    return Err(FilterError(format!("expected `)` closing {name}(…)")));
                }
                match name.as_str() {
                    "has_suffix" => Ok(Filter::HasSuffix(field, value)),
                    "has_prefix" => Ok(Filter::HasPrefix(field, value)),
                    other => Err(FilterError(format!(
                        "unsupported function `{other}` (supported: has_suffix, has_prefix)"
                    ))),
                }
            }
            Some(Tok::Ident(name)) => {
                self.term()?;
                let field = Self::field(&name)?;
                match self.next() {
                    Some(Tok::Eq) => Ok(Filter::Eq(field, self.string(&name)?)),
                    Some(Tok::Ne) => Ok(Filter::Ne(field, self.string(&name)?)),
                    other => Err(FilterError(format!(
                        "unsupported operator after `{name}`: {other:?} (supported: =, !=)"
                    ))),
                }
            }
            other => Err(FilterError(format!("unexpected {other:?}"))),
        }
    }
}

impl Filter {
    /// Parses `text`; an empty or blank filter is `None` (gcloud sends `filter=`).
    pub fn parse(text: &str) -> Result<Option<Filter>, FilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(FilterError(format!(
                "{} bytes long; at most {MAX_FILTER_LEN} are accepted",
                text.len()
            )));
        }
        let toks = lex(text)?;
        if toks.is_empty() {
            return Ok(None);
        }
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
            terms: 0,
        };
        let f = p.or()?;
        if p.pos < p.toks.len() {
            return Err(FilterError(format!(
                "unexpected trailing {:?}",
                p.toks[p.pos]
            )));
        }
        Ok(Some(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FilterField as F;

    fn b(f: Filter) -> Box<Filter> {
        Box::new(f)
    }

    #[test]
    fn gcloud_attestation_filter() {
        let f = Filter::parse(r#"has_suffix(resourceUrl, "sha256:2222")"#)
            .ok()
            .flatten();
        assert_eq!(
            f,
            Some(Filter::HasSuffix(F::ResourceUri, "sha256:2222".into()))
        );
    }

    #[test]
    fn empty_is_no_filter() {
        assert_eq!(Filter::parse("  ").ok(), Some(None));
    }

    #[test]
    fn precedence_and_parentheses() {
        let f = Filter::parse(r#"kind = "ATTESTATION" AND (noteId = "a" OR NOT noteId = "b")"#)
            .ok()
            .flatten();
        assert_eq!(
            f,
            Some(Filter::And(
                b(Filter::Eq(F::Kind, "ATTESTATION".into())),
                b(Filter::Or(
                    b(Filter::Eq(F::NoteId, "a".into())),
                    b(Filter::Not(b(Filter::Eq(F::NoteId, "b".into()))))
                ))
            ))
        );
    }

    #[test]
    fn size_depth_and_terms_are_bounded() {
        let deep = |n: usize| format!("{}kind = \"A\"{}", "(".repeat(n), ")".repeat(n));
        assert!(Filter::parse(&deep(MAX_FILTER_DEPTH)).is_ok());
        let e = Filter::parse(&deep(MAX_FILTER_DEPTH + 1))
            .err()
            .map(|e| e.0);
        assert!(e.is_some_and(|e| e.contains("nesting")));
        let nots = format!("{}kind = \"A\"", "NOT ".repeat(MAX_FILTER_DEPTH + 1));
        assert!(Filter::parse(&nots).is_err());
        let minuses = format!("{}kind = \"A\"", "-".repeat(MAX_FILTER_DEPTH + 1));
        assert!(Filter::parse(&minuses).is_err());
        let terms = |n: usize| vec!["kind = \"A\""; n].join(" AND ");
        assert!(Filter::parse(&terms(MAX_FILTER_TERMS)).is_ok());
        let e = Filter::parse(&terms(MAX_FILTER_TERMS + 1))
            .err()
            .map(|e| e.0);
        assert!(e.is_some_and(|e| e.contains("comparisons")));
        let long = format!("kind = \"{}\"", "A".repeat(MAX_FILTER_LEN));
        let e = Filter::parse(&long).err().map(|e| e.0);
        assert!(e.is_some_and(|e| e.contains("bytes")));
        // What used to abort the process: 20,000 open parentheses.
        assert!(Filter::parse(&"(".repeat(20_000)).is_err());
        assert!(Filter::parse(&"(".repeat(4_000)).is_err());
    }

    #[test]
    fn unsupported_parts_are_named() {
        for (text, part) in [
            ("severity = \"HIGH\"", "severity"),
            ("kind > \"A\"", "`>`"),
            ("contains(kind, \"A\")", "contains"),
            ("kind = \"A", "unterminated"),
            ("(kind = \"A\"", ")"),
        ] {
            let e = Filter::parse(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(part), "{text}: {e}");
        }
    }
}
