//! A method's `google.api.http` rule (google/api/http.proto), and the REST call it makes of a
//! request: the path with its variables filled in, the body, and the query of the fields left.

use axum::http::Method;
use prost_reflect::{MessageDescriptor, MethodDescriptor, Value as PValue};
use serde_json::{Map, Value};
use tonic::Status;

/// One binding: verb, path template, body field (`*`, a field name, or empty).
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) verb: Method,
    pub(crate) template: String,
    pub(crate) body: String,
}

/// The method's primary rule (additional bindings only re-route the same call in REST).
pub(crate) fn rule_of(method: &MethodDescriptor) -> Option<Rule> {
    let pool = method.parent_pool();
    let ext = pool.get_extension_by_name("google.api.http")?;
    let options = method.options();
    if !options.has_extension(&ext) {
        return None;
    }
    let value = options.get_extension(&ext);
    let PValue::Message(rule) = value.as_ref() else {
        return None;
    };
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty())
    };
    let (verb, template) = [
        ("get", Method::GET),
        ("post", Method::POST),
        ("put", Method::PUT),
        ("patch", Method::PATCH),
        ("delete", Method::DELETE),
    ]
    .into_iter()
    .find_map(|(k, m)| text(k).map(|t| (m, t)))?;
    Some(Rule {
        verb,
        template,
        body: text("body").unwrap_or_default(),
    })
}

/// The JSON name of the field `name` (proto name) of `desc`.
fn json_name(desc: &MessageDescriptor, name: &str) -> Option<(String, Option<MessageDescriptor>)> {
    let f = desc.get_field_by_name(name)?;
    Some((f.json_name().to_owned(), f.kind().as_message().cloned()))
}

/// The value at a dotted proto field path of `json`, and its JSON path.
fn lookup(desc: &MessageDescriptor, json: &Value, path: &str) -> (Option<String>, Vec<String>) {
    let mut cur = json;
    let mut d = Some(desc.clone());
    let mut jpath = Vec::new();
    for part in path.split('.') {
        let Some((jn, next)) = d.as_ref().and_then(|d| json_name(d, part)) else {
            return (None, jpath);
        };
        cur = &cur[jn.as_str()];
        jpath.push(jn);
        d = next;
    }
    let v = match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    (v, jpath)
}

fn remove(json: &mut Value, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            if let Some(o) = json.as_object_mut() {
                o.remove(last);
            }
        }
        [first, rest @ ..] => {
            if let Some(inner) = json.get_mut(first) {
                remove(inner, rest);
            }
        }
    }
}

/// Whether `value` fits a path template's variable pattern: `*` is one non-empty segment, `**`
/// the rest (at least one segment), anything else itself. A variable without a pattern is `*`.
fn fits(pattern: &str, value: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let val: Vec<&str> = value.split('/').collect();
    let mut i = 0;
    for (k, p) in pat.iter().enumerate() {
        match *p {
            "**" => {
                return k == pat.len() - 1
                    && val.len() > i
                    && val[i..].iter().all(|s| !s.is_empty());
            }
            "*" => {
                if val.get(i).is_none_or(|s| s.is_empty()) {
                    return false;
                }
            }
            lit => {
                if val.get(i) != Some(&lit) {
                    return false;
                }
            }
        }
        i += 1;
    }
    i == val.len()
}

/// Characters kept in a path variable: names are `projects/p/attestors/a`, so `/` stays.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');
const QUERY: &percent_encoding::AsciiSet = &PATH.add(b'&').add(b'=').add(b'+').add(b'/');

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                flatten(prefix, x, out);
            }
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Null => {}
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// The REST call for `request` (its proto3 JSON) under `rule`: path with query, and body.
pub(crate) fn call(
    rule: &Rule,
    input: &MessageDescriptor,
    mut request: Value,
) -> Result<(String, Option<Value>), Status> {
    let mut path = String::new();
    let mut rest = rule.template.as_str();
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| Status::internal(format!("bad http rule `{}`", rule.template)))?;
        let var = &rest[open + 1..close];
        let (field, pattern) = var.split_once('=').unwrap_or((var, "*"));
        let (value, jpath) = lookup(input, &request, field);
        let value = value.filter(|v| !v.is_empty()).ok_or_else(|| {
            Status::invalid_argument(format!("{field}: required (it names the resource)"))
        })?;
        // The REST route (and so the permission checked) follows from the path: a name must be
        // of the kind the method takes, as Google's gateways require.
        if !fits(pattern, &value) {
            return Err(Status::invalid_argument(format!(
                "{field}: `{value}` is not of the form {pattern}"
            )));
        }
        path.push_str(&percent_encoding::utf8_percent_encode(&value, PATH).to_string());
        remove(&mut request, &jpath);
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    let body = match rule.body.as_str() {
        "" => None,
        "*" => Some(std::mem::replace(&mut request, Value::Object(Map::new()))),
        field => {
            let (jn, _) = json_name(input, field).ok_or_else(|| {
                Status::internal(format!("http rule body `{field}` is not a field"))
            })?;
            let b = request
                .as_object_mut()
                .and_then(|o| o.remove(&jn))
                .unwrap_or_else(|| Value::Object(Map::new()));
            Some(b)
        }
    };
    let mut query = Vec::new();
    flatten("", &request, &mut query);
    if !query.is_empty() {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, QUERY),
                    percent_encoding::utf8_percent_encode(v, QUERY)
                )
            })
            .collect();
        path.push('?');
        path.push_str(&q.join("&"));
    }
    Ok((path, body))
}

#[cfg(test)]
mod tests {
    use super::fits;

    #[test]
    fn path_variables_fit_their_patterns() {
        assert!(fits("projects/*/policy", "projects/p/policy"));
        assert!(!fits("projects/*/policy", "projects/p/attestors/a"));
        assert!(!fits("projects/*/policy", "projects//policy"));
        assert!(!fits("projects/*", "projects/p/../q"));
        assert!(fits("projects/*/attestors/*", "projects/p/attestors/a"));
        assert!(fits("**", "projects/p/notes/n"));
        assert!(!fits("**", ""));
        assert!(fits("*", "p"));
        assert!(!fits("*", "p/q"));
    }
}
