//! Compiles a parsed filter to a SQL condition over the indexed occurrence columns.
//! `has_suffix` on the resource becomes a range on the reversed-URI index (and, for a digest,
//! an equality on the digest column), `has_prefix` a range on the URI index: no scans.

use admit_model::{Filter, FilterField};

/// A SQL fragment and its bind values, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) binds: Vec<String>,
}

/// Sorts after every string that starts with the prefix.
const TOP: char = '\u{10FFFF}';

fn column(f: FilterField) -> &'static str {
    match f {
        FilterField::ResourceUri => "resource_uri",
        FilterField::Kind => "kind",
        FilterField::NoteProjectId => "note_project",
        FilterField::NoteId => "note_id",
        FilterField::NoteName => "note_name",
    }
}

fn is_digest(s: &str) -> bool {
    let hex_len = |h: &str, n: usize| h.len() == n && h.bytes().all(|b| b.is_ascii_hexdigit());
    match s.split_once(':') {
        Some(("sha256", h)) => hex_len(h, 64),
        Some(("sha384", h)) => hex_len(h, 96),
        Some(("sha512", h)) => hex_len(h, 128),
        _ => false,
    }
}

pub(crate) fn compile(f: &Filter, out: &mut Sql) {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            let op = if matches!(f, Filter::And(..)) {
                " AND "
            } else {
                " OR "
            };
            out.text.push('(');
            compile(a, out);
            out.text.push_str(op);
            compile(b, out);
            out.text.push(')');
        }
        Filter::Not(a) => {
            out.text.push_str("(NOT ");
            compile(a, out);
            out.text.push(')');
        }
        Filter::Eq(field, v) => {
            out.text.push_str(&format!("{} = ?", column(*field)));
            out.binds.push(v.clone());
        }
        Filter::Ne(field, v) => {
            out.text.push_str(&format!("{} <> ?", column(*field)));
            out.binds.push(v.clone());
        }
        Filter::HasSuffix(FilterField::ResourceUri, v) => {
            let rev: String = v.chars().rev().collect();
            let digest = v.strip_prefix('@').unwrap_or(v);
            if is_digest(digest) {
                out.text.push_str(
                    "(resource_digest = ? AND resource_uri_rev >= ? AND resource_uri_rev < ?)",
                );
                out.binds.push(digest.to_owned());
            } else {
                out.text
                    .push_str("(resource_uri_rev >= ? AND resource_uri_rev < ?)");
            }
            out.binds.push(rev.clone());
            out.binds.push(format!("{rev}{TOP}"));
        }
        Filter::HasPrefix(FilterField::ResourceUri, v) => {
            out.text
                .push_str("(resource_uri >= ? AND resource_uri < ?)");
            out.binds.push(v.clone());
            out.binds.push(format!("{v}{TOP}"));
        }
        Filter::HasSuffix(field, v) => {
            out.text.push_str(&format!(
                "(substr({c}, -length(?)) = ?)",
                c = column(*field)
            ));
            out.binds.push(v.clone());
            out.binds.push(v.clone());
        }
        Filter::HasPrefix(field, v) => {
            out.text.push_str(&format!(
                "(substr({c}, 1, length(?)) = ?)",
                c = column(*field)
            ));
            out.binds.push(v.clone());
            out.binds.push(v.clone());
        }
    }
}
