//! Human-readable rendering of a decision.

use admit_policy::{Basis, Decision, Verdict};

/// A table: one row per image, its failed checks indented beneath, and a verdict line.
pub(crate) fn table(decision: &Decision) -> String {
    let rows: Vec<[String; 3]> = decision
        .images
        .iter()
        .map(|i| {
            let why = match &i.basis {
                Basis::Rule { satisfied_by, .. }
                    if !satisfied_by.is_empty() && i.verdict == Verdict::Allowed =>
                {
                    let by: Vec<&str> = satisfied_by.iter().map(|s| s.attestor.as_str()).collect();
                    format!("{} (attested by {})", i.basis, by.join(", "))
                }
                b => b.to_string(),
            };
            [
                i.resolved.clone().unwrap_or_else(|| i.image.clone()),
                i.verdict.to_string(),
                why,
            ]
        })
        .collect();
    let header = ["IMAGE".to_owned(), "VERDICT".to_owned(), "RULE".to_owned()];
    let width = |c: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[c].len())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = format!("{:<w0$}  {:<w1$}  {}\n", header[0], header[1], header[2]);
    for (row, image) in rows.iter().zip(&decision.images) {
        out.push_str(&format!("{:<w0$}  {:<w1$}  {}\n", row[0], row[1], row[2]));
        for f in &image.failures {
            out.push_str(&format!("    - {f}\n"));
        }
    }
    let dry = decision.dry_run_violations().count();
    out.push_str(&match (decision.allowed, dry) {
        (true, 0) => "\nresult: ALLOWED\n".to_owned(),
        (true, n) => format!("\nresult: ALLOWED ({n} image(s) would have been denied; dry-run)\n"),
        (false, _) => "\nresult: DENIED\n".to_owned(),
    });
    out
}
