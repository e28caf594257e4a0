//! Endpoints: where an application's messages go. shape.rs is the resource (wire shapes, every
//! field check, loading); crud.rs creates, reads, replaces, patches and deletes; ops.rs holds
//! the operations beside CRUD (secret, headers, stats, recover, send-example); transformation.rs
//! the JavaScript that reshapes requests (get, patch, simulate); filter.rs tries a CEL filter on
//! an example; verify.rs the challenge-response verification; bulk.rs bulk creation; log.rs an
//! endpoint's message log.

mod bulk;
mod crud;
mod filter;
mod log;
mod ops;
mod shape;
mod transformation;
mod verify;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
pub use ops::{
    EndpointHeadersIn, EndpointHeadersOut, EndpointHeadersPatchIn, EventExampleIn, example_payload, send_example_to,
};
pub use shape::{
    EndpointIn, EndpointOut, check_headers, check_url, endpoint_from, load_endpoint, sensitive_header_names,
    shown_headers,
};
pub use transformation::{
    EndpointTransformationPatch, EndpointTransformationSimulateIn, apply_patch as apply_transformation_patch,
    check_code as check_transformation_code, simulate_on as simulate_transformation,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crud::router())
        .merge(ops::router())
        .merge(verify::router())
        .merge(bulk::router())
        .merge(log::router())
        .merge(transformation::router())
        .merge(filter::router())
}
