//! Holds the management API to its OpenAPI document (tests only). For one
//! exchange a test saw (method, path, status, request and response bodies),
//! [`check`] finds the operation in [`super::openapi::DOCUMENT`] and
//! validates what was answered against its schema (JSON Schema draft
//! 2020-12, `$ref`s into `#/components/schemas`); it fails if the path,
//! the method or the status is not documented, if a documented body is
//! missing or an undocumented one is sent, or if a body does not match.
//! On success, the request body and the path parameters are validated too:
//! what the server accepted must be what the document allows.
//!
//! The tests' request helper (`tests::send`) passes every exchange through
//! [`check`], so every management test validates what it sees.

use super::media_type::MEDIA_TYPE;
use axum::http::Method;
use jsonschema::Validator;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The documented operation and status an exchange was validated against.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Validated {
    /// The path template, as the document writes it (`/tasks/{task_id}`).
    pub(super) path: String,
    /// The method, lowercase, as the document keys it.
    pub(super) method: String,
    pub(super) status: u16,
}

/// The document, parsed once.
pub(super) fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(super::openapi::DOCUMENT).expect("openapi.json is JSON")
    })
}

/// Validates one exchange against the document; `Ok(None)` for a 404 on a
/// path the document does not have and a 405 for a method a documented
/// path does not have (the API's answers to requests no operation takes,
/// which must still be problem documents).
pub(super) fn check(
    method: &Method,
    path: &str,
    status: u16,
    request_body: &[u8],
    response_body: &[u8],
) -> Result<Option<Validated>, String> {
    let path = path.split('?').next().unwrap_or_default();
    let Some((template, parameters)) = find_path(path) else {
        if status != 404 {
            return Err(format!(
                "{path} is in no path of the document (status {status})"
            ));
        }
        validate_json(
            &json!({"$ref": "#/components/schemas/Problem"}),
            response_body,
        )
        .map_err(|error| format!("unknown route {path}: {error}"))?;
        return Ok(None);
    };
    let method_key = method.as_str().to_ascii_lowercase();
    let context = format!("{method} {template} -> {status}");
    let Some(operation) = document()["paths"][&template].get(&method_key) else {
        // A method the path does not have: 405, a problem document too.
        if status != 405 {
            return Err(format!("{method} {template} is not documented ({status})"));
        }
        validate_json(
            &json!({"$ref": "#/components/schemas/Problem"}),
            response_body,
        )
        .map_err(|error| format!("{method} {template}: {error}"))?;
        return Ok(None);
    };
    let response = resolve(
        operation["responses"]
            .get(status.to_string())
            .ok_or_else(|| format!("{context}: status not documented"))?,
    );
    match response.get("content") {
        Some(content) => {
            let schema = media_schema(content)
                .ok_or_else(|| format!("{context}: no {MEDIA_TYPE} schema"))?;
            validate_json(schema, response_body)
                .map_err(|error| format!("{context}: response: {error}"))?;
        }
        None if !response_body.is_empty() => {
            return Err(format!(
                "{context}: documented without a body, answered {:?}",
                String::from_utf8_lossy(response_body)
            ))
        }
        None => {}
    }
    if (200..300).contains(&status) {
        check_accepted_request(operation, &parameters, request_body)
            .map_err(|error| format!("{context}: request: {error}"))?;
    }
    Ok(Some(Validated {
        path: template,
        method: method_key,
        status,
    }))
}

/// What a successful request sent: its body against the operation's
/// request schema, its path parameters against theirs.
fn check_accepted_request(
    operation: &Value,
    parameters: &[(String, String)],
    request_body: &[u8],
) -> Result<(), String> {
    if !request_body.is_empty() {
        let schema = operation
            .get("requestBody")
            .and_then(|body| media_schema(&body["content"]))
            .ok_or("a body was accepted where none is documented")?;
        validate_json(schema, request_body)?;
    } else if operation["requestBody"]["required"] == json!(true) {
        return Err("accepted without its required body".to_owned());
    }
    for (name, value) in parameters {
        let declared = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(resolve)
            .find(|parameter| parameter["in"] == "path" && parameter["name"] == name.as_str())
            .ok_or_else(|| format!("path parameter {name} is not declared"))?;
        // A path segment is text; a parameter documented as an integer is
        // its decimal form.
        let value = match value.parse::<u64>() {
            Ok(number) if declared["schema"]["type"] == "integer" => json!(number),
            _ => json!(value),
        };
        validate(&declared["schema"], &value).map_err(|error| format!("{name}: {error}"))?;
    }
    Ok(())
}

/// A path's parameters: each name and its segment.
type PathParameters = Vec<(String, String)>;

/// The document's path template matching `path`, and the values of its
/// parameters; the template with most literal segments wins.
fn find_path(path: &str) -> Option<(String, PathParameters)> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, String, PathParameters)> = None;
    for template in document()["paths"].as_object()?.keys() {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut parameters = Vec::new();
        let mut literals = 0;
        let matched = parts.iter().zip(&segments).all(|(part, segment)| {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => {
                    parameters.push((name.to_owned(), (*segment).to_owned()));
                    true
                }
                Some(_) => false,
                None => {
                    literals += 1;
                    part == segment
                }
            }
        });
        if matched && best.as_ref().is_none_or(|(most, ..)| literals > *most) {
            best = Some((literals, template.clone(), parameters));
        }
    }
    best.map(|(_, template, parameters)| (template, parameters))
}

/// A response or parameter object, following one `$ref` into the document.
fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => document()
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {reference}")),
        None => value,
    }
}

/// The schema of the API's media type in a `content` object.
fn media_schema(content: &Value) -> Option<&Value> {
    content.get(MEDIA_TYPE)?.get("schema")
}

/// `body` parsed as JSON and validated against `schema`.
fn validate_json(schema: &Value, body: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        format!(
            "not JSON ({error}): {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    })?;
    validate(schema, &value)
}

/// `value` against `schema`, a schema of the document (its `$ref`s
/// resolved against the document's components); every error listed.
pub(super) fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    let validator = validator(schema)?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{} in {value}", errors.join("; ")))
    }
}

/// The compiled validator of `schema`, built once per schema: the schema
/// under `allOf` in a root that carries the document's components, so
/// `#/components/schemas/...` resolves as in the document. Formats are
/// asserted (`uri`, `uri-reference`); the integer formats of the OpenAPI
/// registry (`uint64`...) are annotations, their bounds are in the schemas.
fn validator(schema: &Value) -> Result<Arc<Validator>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(validator) = cache.lock().unwrap().get(&key) {
        return Ok(validator.clone());
    }
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": document()["components"]["schemas"]},
        "allOf": [schema],
    });
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(&root)
        .map(Arc::new)
        .map_err(|error| format!("the schema {schema} does not compile: {error}"))?;
    cache.lock().unwrap().insert(key, validator.clone());
    Ok(validator)
}
