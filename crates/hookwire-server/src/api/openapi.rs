//! Finishing touches on the OpenAPI document generated from the routes: the error answers every
//! operation can give, documented once here rather than on each handler.

use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

/// The body of every error: `detail` is a sentence, or for 422 a list of `{loc, msg, type}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the shape `ApiError` serializes
pub struct ErrorBody {
    code: String,
    /// A sentence, or (422) a list of `{loc, msg, type}`.
    detail: serde_json::Value,
}

/// Errors any authenticated operation may answer with.
const ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed request (invalid JSON, bad query string)"),
    ("401", "Missing or invalid bearer token"),
    ("403", "The token may not do this"),
    ("404", "Not found (or not visible to this token)"),
    ("409", "Conflicts with an existing resource"),
    ("413", "Body or payload too large"),
    ("415", "Not JSON"),
    ("422", "Invalid field; `detail` lists each with its location"),
    ("429", "Too many requests"),
];

pub fn finish(mut document: OpenApi) -> OpenApi {
    let components = document.components.get_or_insert_with(Default::default);
    components.schemas.insert("ErrorBody".into(), <ErrorBody as PartialSchema>::schema());
    for (path, item) in document.paths.paths.iter_mut() {
        let public = path == "/api/v1/health";
        for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch] {
            if let Some(operation) = operation.as_mut()
                && !public
            {
                add_errors(operation);
            }
        }
        for operation in [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten() {
            add_idempotency_key(operation);
        }
    }
    document
}

/// Every write takes `idempotency-key` (`super::idempotency`), as Svix's POSTs do.
fn add_idempotency_key(operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    if parameters.iter().any(|p| matches!(p, RefOr::T(p) if p.name == super::idempotency::HEADER)) {
        return;
    }
    let description = "The same key on a retry gets the first answer again (24 hours) instead of running twice";
    let parameter = ParameterBuilder::new()
        .name(super::idempotency::HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(<String as PartialSchema>::schema()))
        .build();
    parameters.push(RefOr::T(parameter));
}

fn add_errors(operation: &mut Operation) {
    for (status, description) in ERRORS {
        operation.responses.responses.entry((*status).to_owned()).or_insert_with(|| {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
            RefOr::T(ResponseBuilder::new().description(*description).content("application/json", content).build())
        });
    }
}
