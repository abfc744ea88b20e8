//! The lexer and the recursive-descent parser of the Logging query language.

use super::{Literal, MAX_DEPTH, MAX_TERMS, Op, Query, Rhs};
use crate::ModelError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A dotted term: each segment with whether it was quoted.
    Term(Vec<(String, bool)>),
    Op(Op),
    Open,
    Close,
    Minus,
}

pub(super) fn err(at: usize, msg: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidFilter(format!("filter at offset {at}: {msg}"))
}

const SPECIAL: &[char] = &['(', ')', '"', '=', '!', '<', '>', ':', '~', '.'];

pub(super) fn lex(input: &str) -> Result<Vec<(usize, Tok)>, ModelError> {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two = chars.get(i + 1).map(|x| x.1);
        let op = match (c, two) {
            ('!', Some('=')) => Some((Op::Ne, 2)),
            ('!', Some('~')) => Some((Op::NotMatches, 2)),
            ('=', Some('~')) => Some((Op::Matches, 2)),
            ('<', Some('=')) => Some((Op::Le, 2)),
            ('>', Some('=')) => Some((Op::Ge, 2)),
            ('=', _) => Some((Op::Eq, 1)),
            ('<', _) => Some((Op::Lt, 1)),
            ('>', _) => Some((Op::Gt, 1)),
            (':', _) => Some((Op::Has, 1)),
            _ => None,
        };
        if let Some((op, n)) = op {
            out.push((at, Tok::Op(op)));
            i += n;
            continue;
        }
        match c {
            '(' => {
                out.push((at, Tok::Open));
                i += 1;
                continue;
            }
            ')' => {
                out.push((at, Tok::Close));
                i += 1;
                continue;
            }
            '-' if two.is_some_and(|n| !n.is_whitespace() && !n.is_ascii_digit()) => {
                out.push((at, Tok::Minus));
                i += 1;
                continue;
            }
            '!' | '~' | '.' => return Err(err(at, format!("unexpected `{c}`"))),
            _ => {}
        }
        // A term: segments separated by dots, each quoted or bare.
        let mut segments = Vec::new();
        while let Some(&(at, c)) = chars.get(i) {
            if c == '"' {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(at, "unterminated string")),
                        Some((_, '"')) => {
                            i += 1;
                            break;
                        }
                        Some((_, '\\')) => {
                            match chars.get(i + 1) {
                                Some((_, 'n')) => s.push('\n'),
                                Some((_, 't')) => s.push('\t'),
                                Some((_, e)) => s.push(*e),
                                None => return Err(err(at, "unterminated string")),
                            }
                            i += 2;
                        }
                        Some((_, ch)) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                segments.push((s, true));
            } else {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|(_, ch)| !ch.is_whitespace() && !SPECIAL.contains(ch))
                {
                    i += 1;
                }
                if i == start {
                    return Err(err(at, format!("unexpected `{c}`")));
                }
                segments.push((chars[start..i].iter().map(|x| x.1).collect(), false));
            }
            // Another segment only directly after a dot.
            if chars.get(i).map(|x| x.1) == Some('.')
                && chars.get(i + 1).is_some_and(|(_, ch)| {
                    *ch == '"' || !(ch.is_whitespace() || SPECIAL.contains(ch))
                })
            {
                i += 1;
                continue;
            }
            break;
        }
        out.push((at, Tok::Term(segments)));
    }
    Ok(out)
}

fn keyword(t: &Tok, word: &str) -> bool {
    matches!(t, Tok::Term(s) if s.len() == 1 && !s[0].1 && s[0].0 == word)
}

pub(super) struct Parser {
    pub(super) toks: Vec<(usize, Tok)>,
    pub(super) pos: usize,
    pub(super) end: usize,
    pub(super) terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }

    pub(super) fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.0)
    }

    fn count(&mut self) -> Result<(), ModelError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(err(self.at(), format!("more than {MAX_TERMS} comparisons")));
        }
        Ok(())
    }

    /// `and := or { [AND] or }`
    pub(super) fn and(&mut self, depth: usize) -> Result<Query, ModelError> {
        let mut parts = vec![self.or(depth)?];
        loop {
            match self.peek() {
                None | Some(Tok::Close) => break,
                Some(t) if keyword(t, "AND") => {
                    self.pos += 1;
                }
                _ => {}
            }
            parts.push(self.or(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::And(parts)
        })
    }

    /// `or := unary { OR unary }`
    fn or(&mut self, depth: usize) -> Result<Query, ModelError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek().is_some_and(|t| keyword(t, "OR")) {
            self.pos += 1;
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::Or(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Query, ModelError> {
        if depth > MAX_DEPTH {
            return Err(err(
                self.at(),
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        match self.peek() {
            Some(t) if keyword(t, "NOT") => {
                self.pos += 1;
                Ok(Query::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Minus) => {
                self.pos += 1;
                Ok(Query::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Open) => {
                let open = self.at();
                self.pos += 1;
                let q = self.and(depth + 1)?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(err(open, "`(` is not closed"));
                }
                self.pos += 1;
                Ok(q)
            }
            Some(Tok::Term(_)) => self.comparison(),
            Some(t) => Err(err(self.at(), format!("unexpected {t:?}"))),
            None => Err(err(self.end, "the filter ends where a term was expected")),
        }
    }

    fn comparison(&mut self) -> Result<Query, ModelError> {
        let at = self.at();
        let Some((_, Tok::Term(segments))) = self.toks.get(self.pos).cloned() else {
            return Err(err(at, "expected a term"));
        };
        self.pos += 1;
        self.count()?;
        let Some(Tok::Op(op)) = self.peek().cloned() else {
            // A global restriction.
            return Ok(Query::Global(literal(&segments, Op::Has, at)?));
        };
        self.pos += 1;
        let value = self.rhs(op, 0)?;
        for s in &segments {
            if s.0.is_empty() {
                return Err(err(at, "a field path has an empty segment"));
            }
        }
        Ok(Query::Compare {
            path: segments.into_iter().map(|s| s.0).collect(),
            op,
            value: Box::new(value),
        })
    }

    /// A value, or a parenthesised combination of values.
    fn rhs(&mut self, op: Op, depth: usize) -> Result<Rhs, ModelError> {
        if depth > MAX_DEPTH {
            return Err(err(
                self.at(),
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let at = self.at();
        match self.toks.get(self.pos).cloned() {
            Some((_, Tok::Term(segments))) => {
                self.pos += 1;
                Ok(Rhs::Value(literal(&segments, op, at)?))
            }
            Some((_, Tok::Open)) => {
                self.pos += 1;
                let mut ands: Vec<Rhs> = Vec::new();
                let mut ors: Vec<Rhs> = Vec::new();
                loop {
                    let negate = self.peek().is_some_and(|t| keyword(t, "NOT"));
                    if negate {
                        self.pos += 1;
                    }
                    let v = self.rhs(op, depth + 1)?;
                    self.count()?;
                    ors.push(if negate { Rhs::Not(Box::new(v)) } else { v });
                    match self.peek() {
                        Some(Tok::Close) => {
                            self.pos += 1;
                            break;
                        }
                        Some(t) if keyword(t, "OR") => self.pos += 1,
                        Some(t) if keyword(t, "AND") => {
                            self.pos += 1;
                            ands.push(group(std::mem::take(&mut ors)));
                        }
                        Some(_) => ands.push(group(std::mem::take(&mut ors))),
                        None => return Err(err(at, "`(` is not closed")),
                    }
                }
                ands.push(group(ors));
                Ok(if ands.len() == 1 {
                    ands.remove(0)
                } else {
                    Rhs::And(ands)
                })
            }
            _ => Err(err(at, "expected a value after the operator")),
        }
    }
}

fn group(mut ors: Vec<Rhs>) -> Rhs {
    if ors.len() == 1 {
        ors.remove(0)
    } else {
        Rhs::Or(ors)
    }
}

fn literal(segments: &[(String, bool)], op: Op, at: usize) -> Result<Literal, ModelError> {
    let text = segments
        .iter()
        .map(|s| s.0.as_str())
        .collect::<Vec<_>>()
        .join(".");
    let quoted = segments.iter().any(|s| s.1);
    let regex = match op {
        Op::Matches | Op::NotMatches => Some(
            regex::RegexBuilder::new(&text)
                .size_limit(1 << 20)
                .dfa_size_limit(1 << 20)
                .nest_limit(64)
                .build()
                .map_err(|e| err(at, format!("bad regular expression: {e}")))?,
        ),
        _ => None,
    };
    Ok(Literal {
        text,
        quoted,
        regex,
    })
}
