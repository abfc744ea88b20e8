//! The API client side of the CLI: the same requests, with the same shapes, as gcloud's
//! `container binauthz` and `kms` commands, against `--server` / `ADMIT_SERVER`.

pub(crate) mod attestations;
pub(crate) mod attestors;
pub(crate) mod audit;
pub(crate) mod images;
pub(crate) mod kms;
pub(crate) mod policy;
pub(crate) mod progress;
pub(crate) mod signer;
pub(crate) mod simulate;
pub(crate) mod vulns;

use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};
use reqwest::Method;
use serde_json::Value;

/// Where the server is, which project to act in, and who is asking.
#[derive(Debug, Clone, Args)]
pub(crate) struct Connection {
    /// The admit server.
    #[arg(
        long,
        env = "ADMIT_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub(crate) server: String,
    /// The project to act in.
    #[arg(long, env = "ADMIT_PROJECT", global = true)]
    pub(crate) project: Option<String>,
    /// A file holding the bearer token to send (as gcloud's auth/access_token_file).
    #[arg(long, env = "ADMIT_TOKEN_FILE", global = true)]
    pub(crate) token_file: Option<std::path::PathBuf>,
}

/// A connection and an output format.
#[derive(Debug, Clone, Args)]
pub(crate) struct Target {
    #[command(flatten)]
    pub(crate) conn: Connection,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml", global = true)]
    pub(crate) format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Json,
}

/// An HTTP client bound to a server and project.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    project: Option<String>,
    token: Option<String>,
    pub(crate) format: Format,
}

impl Client {
    pub(crate) fn new(t: &Target) -> Result<Self> {
        Self::connect(&t.conn, t.format)
    }

    pub(crate) fn connect(t: &Connection, format: Format) -> Result<Self> {
        let token = match &t.token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| anyhow!("cannot read the token file {}: {e}", f.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Client {
            http: reqwest::Client::builder().build()?,
            base: t.server.trim_end_matches('/').to_owned(),
            project: t.project.clone(),
            token,
            format,
        })
    }

    pub(crate) fn project(&self) -> Result<&str> {
        self.project
            .as_deref()
            .ok_or_else(|| anyhow!("no project: pass --project or set ADMIT_PROJECT"))
    }

    /// Sends a request; a google.rpc error becomes `STATUS: message`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut req = self.http.request(method.clone(), &url).query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach {}: {e}", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        match (
            v["error"]["status"].as_str(),
            v["error"]["message"].as_str(),
        ) {
            (Some(s), Some(m)) => Err(anyhow!("{s}: {m}")),
            _ => Err(anyhow!("{method} {url}: HTTP {status}: {text}")),
        }
    }

    pub(crate) async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        self.call(Method::GET, path, query, None).await
    }

    /// Every page of a list.
    pub(crate) async fn list_all(
        &self,
        path: &str,
        field: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut q = query.to_vec();
            q.push(("pageSize", "100"));
            if !token.is_empty() {
                q.push(("pageToken", &token));
            }
            let v = self.get(path, &q).await?;
            out.extend(v[field].as_array().cloned().unwrap_or_default());
            match v["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => token = t.to_owned(),
                None => return Ok(out),
            }
        }
    }

    /// Prints a resource in the chosen format.
    pub(crate) fn print(&self, v: &Value) -> Result<()> {
        let text = match self.format {
            Format::Yaml => admit_model::to_yaml(v)?,
            Format::Json => admit_model::to_json_pretty(v)?,
        };
        crate::offline::stdout_write(&text)
    }

    /// Prints a list: a YAML stream, or a JSON array.
    pub(crate) fn print_list(&self, items: &[Value]) -> Result<()> {
        match self.format {
            Format::Json => crate::offline::stdout_write(&admit_model::to_json_pretty(&items)?),
            Format::Yaml => {
                let mut out = String::new();
                for i in items {
                    out.push_str("---\n");
                    out.push_str(&admit_model::to_yaml(i)?);
                }
                crate::offline::stdout_write(&out)
            }
        }
    }
}

/// `projects/P/attestors/A` from a short id and the project, or a full name.
pub(crate) fn attestor_name(
    client: &Client,
    attestor: &str,
    project: Option<&str>,
) -> Result<String> {
    if attestor.starts_with("projects/") {
        return Ok(attestor.to_owned());
    }
    let p = match project {
        Some(p) => p,
        None => client.project()?,
    };
    Ok(format!("projects/{p}/attestors/{attestor}"))
}
