//! Reading resources from files and directories.

use std::path::{Path, PathBuf};

use admit_model::{Format, decode, decode_many};
use anyhow::{Context as _, Result};
use serde::de::DeserializeOwned;

fn read(path: &Path) -> Result<(String, Format)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = Format::from_path_or_sniff(&path.to_string_lossy(), &text);
    Ok((text, format))
}

/// One resource from a file.
pub(crate) fn one<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let (text, format) = read(path)?;
    decode(&text, format).with_context(|| format!("{}", path.display()))
}

/// The `.json`, `.yaml` and `.yml` files of `dir` (sorted), or `dir` itself if it is a file.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_owned()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "json" | "yaml" | "yml"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Every resource in every file of `dir`; each file may hold one, a list, or a YAML stream.
pub(crate) fn many<T: DeserializeOwned>(dir: &Path) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for path in files(dir)? {
        let (text, format) = read(&path)?;
        out.extend(decode_many(&text, format).with_context(|| format!("{}", path.display()))?);
    }
    Ok(out)
}
