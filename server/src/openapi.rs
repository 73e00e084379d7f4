//! The OpenAPI document, generated: each handler's `#[utoipa::path]` names
//! its request and response types (the contract crate's) and the errors it
//! answers itself; [`document`] adds what the layers every route passes
//! through can answer (the key check, the body reader, the in-flight cap).
//! The router and the document come from the same route lists
//! (`crate::keyed_routes`, `crate::public_routes`), so neither can have a
//! route the other lacks.

use faas_contract::ErrorBody;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, RefOr, Response};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

/// An error response of the document: `$name`'s status, description and
/// headers, with the `ErrorBody` schema every error has.
macro_rules! error_response {
    ($(#[doc = $doc:literal])* $name:ident: $($response:tt)*) => {
        $(#[doc = $doc])*
        #[derive(IntoResponses)]
        #[response($($response)*)]
        #[allow(dead_code)] // the field only names the body's schema
        pub struct $name(ErrorBody);
    };
}

error_response! {
    /// 400: a request the server cannot act on; the detail says why.
    BadRequest:
    status = 400,
    description = "Invalid input: the detail says which and why"
}

error_response! {
    /// 401: no key, or one the server does not know.
    Unauthorized:
    status = 401,
    description = "No API key, or an unknown or revoked one (with `WWW-Authenticate: Bearer`)",
    headers(("WWW-Authenticate" = String, description = "`Bearer`"))
}

error_response! {
    /// 403: the operation needs an admin key.
    Forbidden:
    status = 403, description = "The operation needs an admin key"
}

error_response! {
    /// 404: no such id, or one the caller's tenant may not see (the same
    /// answer, so that it tells nothing).
    NotFound:
    status = 404,
    description = "No such id, or one another tenant owns (the same answer)"
}

error_response! {
    /// 409: the task already ended, so there is nothing to cancel.
    Conflict:
    status = 409,
    description = "The task already ended (COMPLETED or FAILED): nothing changed"
}

error_response! {
    /// 408: the body did not arrive in time.
    Timeout:
    status = 408,
    description = "The body did not arrive within the body-read timeout (30 s by default)"
}

error_response! {
    /// 413: a body or batch over its cap.
    TooLarge:
    status = 413,
    description = "The body is over the cap (32 MiB by default), or a batch over 10,000 items"
}

error_response! {
    /// 422: well-formed JSON of the wrong shape.
    Unprocessable:
    status = 422, description = "A field is missing or has the wrong type"
}

error_response! {
    /// 429: over one of the tenant's quotas; nothing was stored.
    TooMany:
    status = 429,
    description = "Over one of the tenant's quotas (the detail names it); nothing was stored",
    headers(("Retry-After" = u64, description = "Seconds until the same request may succeed"))
}

error_response! {
    /// 503: the store does not answer, or the server is at its maximum of
    /// requests at once.
    Unavailable:
    status = 503,
    description = "The store is unreachable, or the server is handling its maximum of requests \
    at once (then with Retry-After); retry later",
    headers(("Retry-After" = u64, description = "Seconds to wait, when the server is busy"))
}

/// The name of the API-key security scheme.
const BEARER: &str = "bearer";

/// The whole document: the keyed routes' operations (each requiring a key,
/// so each can answer 401) and the public ones, with what every layer can
/// answer added to each operation.
pub fn document(keyed: OpenApi, public: OpenApi) -> OpenApi {
    let mut keyed = keyed;
    for_each_operation(&mut keyed, |operation| {
        operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        add(operation, Unauthorized::responses());
    });
    let mut doc = public;
    doc.merge(keyed);
    for_each_operation(&mut doc, |operation| {
        if operation.request_body.is_some() {
            for responses in [
                BadRequest::responses(),
                Timeout::responses(),
                TooLarge::responses(),
                Unprocessable::responses(),
            ] {
                add(operation, responses);
            }
        }
        add(operation, Unavailable::responses());
    });
    doc.info = InfoBuilder::new()
        .title("faas")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Register WebAssembly functions and run them as tasks. Every operation except \
             /health, /docs and /openapi.json needs an API key: `Authorization: Bearer \
             faas_<id>_<secret>`. Every error is a JSON body `{\"detail\": \"...\"}`.",
        ))
        .build();
    let mut components = doc
        .components
        .take()
        .unwrap_or_else(|| ComponentsBuilder::new().build());
    // The error responses refer to it by name.
    let (name, schema) = (ErrorBody::name(), ErrorBody::schema());
    components.schemas.insert(name.into_owned(), schema);
    components.security_schemes.insert(
        BEARER.to_string(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key (`faas_<id>_<secret>`). A server started with --no-auth \
                     takes every request as the admin.",
                ))
                .build(),
        ),
    );
    doc.components = Some(components);
    doc
}

/// Adds `responses` to `operation`, keeping any the handler declared for
/// the same status (its description is the more precise).
fn add(operation: &mut Operation, responses: std::collections::BTreeMap<String, RefOr<Response>>) {
    for (status, response) in responses {
        operation
            .responses
            .responses
            .entry(status)
            .or_insert(response);
    }
}

fn for_each_operation(doc: &mut OpenApi, mut f: impl FnMut(&mut Operation)) {
    for item in doc.paths.paths.values_mut() {
        let PathItem {
            get,
            put,
            post,
            delete,
            options,
            head,
            patch,
            trace,
            ..
        } = item;
        for operation in [get, put, post, delete, options, head, patch, trace]
            .into_iter()
            .flatten()
        {
            f(operation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each operation of the served document, by `METHOD /path`.
    fn operations() -> Vec<(String, Operation)> {
        let mut doc = crate::openapi_document();
        let mut out = Vec::new();
        let paths: Vec<String> = doc.paths.paths.keys().cloned().collect();
        for path in paths {
            let item = doc.paths.paths.get_mut(&path).expect("listed");
            for (method, operation) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
            ] {
                if let Some(operation) = operation {
                    out.push((format!("{method} {path}"), operation.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_operation_lists_what_the_layers_answer() {
        let public = [
            "GET /health",
            "GET /docs",
            "GET /openapi.json",
            "GET /ui",
            "GET /ui/{asset}",
        ];
        let operations = operations();
        assert!(operations.len() > public.len());
        for (name, operation) in operations {
            let statuses: Vec<&str> = operation
                .responses
                .responses
                .keys()
                .map(String::as_str)
                .collect();
            assert!(statuses.contains(&"503"), "{name}: {statuses:?}");
            let keyed = !public.contains(&name.as_str());
            assert_eq!(operation.security.is_some(), keyed, "{name}");
            assert_eq!(statuses.contains(&"401"), keyed, "{name}: {statuses:?}");
            if operation.request_body.is_some() {
                for status in ["400", "408", "413", "422"] {
                    assert!(statuses.contains(&status), "{name}: {statuses:?}");
                }
            }
            assert!(
                statuses.iter().any(|s| s.starts_with('2')),
                "{name} has no success answer"
            );
        }
    }
}
