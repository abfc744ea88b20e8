//! Loads `--kritis-policy-dir`: every `*.yaml`, `*.yml` and `*.json` file, in name order.

use std::path::Path;

use admit_policy::KritisPolicies;
use anyhow::{Context as _, Result, bail};

pub(crate) fn load(dir: &Path) -> Result<KritisPolicies> {
    let mut files = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the Kritis policy directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    paths.sort();
    for p in paths {
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        files.push((p.display().to_string(), text));
    }
    if files.is_empty() {
        bail!(
            "{} holds no Kritis manifests (*.yaml, *.yml, *.json)",
            dir.display()
        );
    }
    let policies = KritisPolicies::from_manifests(&files).map_err(anyhow::Error::msg)?;
    let (isp, gap, aa) = policies.counts();
    tracing::info!(
        dir = %dir.display(),
        image_security_policies = isp,
        generic_attestation_policies = gap,
        attestation_authorities = aa,
        "Kritis policies loaded; namespaces without one are denied"
    );
    Ok(policies)
}
