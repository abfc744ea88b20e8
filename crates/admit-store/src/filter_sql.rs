//! Compiles a parsed filter to a SQL condition over the indexed occurrence columns.
//! `has_suffix` on the resource becomes a range on the reversed-URI index (and, for a digest,
//! an equality on the digest column), `has_prefix` a range on the URI index: no scans.

use admit_model::{Filter, FilterField};

/// The SQL dialect: placeholders and the suffix function differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The `n`th (1-based) bind placeholder.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            // sqlx's SQLite driver binds `$N` by number, as PostgreSQL does: one statement
            // text serves both.
            Dialect::Sqlite | Dialect::Postgres => format!("${n}"),
        }
    }

    /// The `n`th (1-based) placeholder of a statement whose placeholders each appear once, in
    /// the order of their binds. SQLite then gets nameless `?`: binding a named parameter
    /// looks its name up in a list (`sqlite3_bind_parameter_name`), so a statement with
    /// thousands of `$N` cost time quadratic in their number (13% of a loaded server's CPU
    /// went there, copying audit records).
    pub(crate) fn sequential_placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_owned(),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// A SQL fragment and its bind values, in order.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) dialect: Dialect,
    pub(crate) text: String,
    pub(crate) binds: Vec<String>,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Sql {
            dialect,
            text: String::new(),
            binds: Vec::new(),
        }
    }

    /// Appends a bind value and returns its placeholder.
    pub(crate) fn bind(&mut self, v: impl Into<String>) -> String {
        self.binds.push(v.into());
        self.placeholder(self.binds.len())
    }

    /// The placeholder for the `n`th (1-based) parameter.
    pub(crate) fn placeholder(&self, n: usize) -> String {
        self.dialect.placeholder(n)
    }
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
            let p = out.bind(v.clone());
            out.text.push_str(&format!("{} = {p}", column(*field)));
        }
        Filter::Ne(field, v) => {
            let p = out.bind(v.clone());
            out.text.push_str(&format!("{} <> {p}", column(*field)));
        }
        Filter::HasSuffix(FilterField::ResourceUri, v) => {
            let rev: String = v.chars().rev().collect();
            let digest = v.strip_prefix('@').unwrap_or(v);
            let mut parts = Vec::new();
            if is_digest(digest) {
                parts.push(format!("resource_digest = {}", out.bind(digest)));
            }
            parts.push(format!("resource_uri_rev >= {}", out.bind(rev.clone())));
            parts.push(format!(
                "resource_uri_rev < {}",
                out.bind(format!("{rev}{TOP}"))
            ));
            out.text.push_str(&format!("({})", parts.join(" AND ")));
        }
        Filter::HasPrefix(FilterField::ResourceUri, v) => {
            let lo = out.bind(v.clone());
            let hi = out.bind(format!("{v}{TOP}"));
            out.text
                .push_str(&format!("(resource_uri >= {lo} AND resource_uri < {hi})"));
        }
        Filter::HasSuffix(field, v) => {
            let (a, b) = (out.bind(v.clone()), out.bind(v.clone()));
            let c = column(*field);
            out.text.push_str(&match out.dialect {
                Dialect::Sqlite => format!("(substr({c}, -length({a})) = {b})"),
                Dialect::Postgres => format!("(right({c}, length({a})) = {b})"),
            });
        }
        Filter::HasPrefix(field, v) => {
            let (a, b) = (out.bind(v.clone()), out.bind(v.clone()));
            let c = column(*field);
            out.text
                .push_str(&format!("(substr({c}, 1, length({a})) = {b})"));
        }
    }
}

/// The audit-log query for `project` and `f`, up to (not including) the page bounds; the caller
/// appends `seq > ?` and `LIMIT ?` with the next two placeholders.
pub(crate) fn audit_list(dialect: Dialect, project: &str, f: &crate::AuditFilter) -> Sql {
    let mut sql = Sql::new(dialect);
    let p = sql.bind(project);
    sql.text = format!("SELECT seq, body FROM audit_records WHERE project = {p}");
    // `user` is reserved in PostgreSQL, so its column is `username` there.
    let user_col = match dialect {
        Dialect::Sqlite => "user",
        Dialect::Postgres => "username",
    };
    for (col, v) in [
        ("verdict", &f.verdict),
        ("namespace", &f.namespace),
        ("cluster", &f.cluster),
        ("kind", &f.kind),
        (user_col, &f.user),
    ] {
        if let Some(v) = v {
            let ph = sql.bind(v.clone());
            sql.text.push_str(&format!(" AND {col} = {ph}"));
        }
    }
    for (col, v) in [("breakglass", f.breakglass), ("dry_run", f.dry_run)] {
        if let Some(v) = v {
            let lit = match dialect {
                Dialect::Sqlite => i64::from(v).to_string(),
                Dialect::Postgres => v.to_string(),
            };
            sql.text.push_str(&format!(" AND {col} = {lit}"));
        }
    }
    for (op, v) in [(">=", &f.since), ("<=", &f.until)] {
        if let Some(v) = v {
            let ph = sql.bind(v.clone());
            sql.text.push_str(&format!(" AND time {op} {ph}"));
        }
    }
    let n = sql.binds.len();
    let (a, b) = (sql.placeholder(n + 1), sql.placeholder(n + 2));
    let (cmp, order) = if f.newest_first {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    sql.text.push_str(&format!(
        " AND seq {cmp} {a} ORDER BY seq {order} LIMIT {b}"
    ));
    sql
}
