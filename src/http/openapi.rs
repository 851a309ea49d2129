//! The OpenAPI 3 document, generated from the handlers' annotations and the types' schemas.

use axum::response::IntoResponse;
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, actor, admin, audit, certificates, consumer, custody, engagements, follow, grades,
    ops, public, registration, session,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "traceseal",
        description = "Signed per-item codes, an append-only Merkle log with signed checkpoints, and public scans."
    ),
    paths(
        ops::healthz, ops::metrics, openapi,
        admin::create_enterprise, admin::list_enterprises, admin::get_enterprise, admin::update_enterprise,
        admin::create_product, admin::list_products, admin::get_product, admin::update_product,
        admin::create_batch, admin::get_batch, admin::batch_codes,
        admin::create_print_job, admin::get_print_job, admin::print_job_output,
        public::verify, public::code_uri, public::keys, public::checkpoint, public::leaf,
        public::inclusion, public::consistency, public::bundle,
        custody::register_actor, custody::add_key, custody::revoke_key, custody::declare_lot, custody::recall,
        registration::file_request, registration::list_requests, registration::get_request,
        registration::dismiss_request,
        engagements::engage, engagements::list, engagements::end,
        custody::submit, custody::list_actors, custody::get_actor, custody::get_lot, custody::get_head,
        custody::lot_epcis, custody::item_epcis, actor::me, actor::lots, actor::lot,
        certificates::publish, certificates::publications, certificates::file,
        consumer::file_complaint, consumer::list_complaints, consumer::forged_scans, consumer::get_complaint,
        consumer::update_complaint, consumer::put_credit, consumer::get_credit, consumer::credit_history, consumer::dishonest_list,
        grades::get_grade, grades::set_override, grades::lift_override, grades::warning_list, grades::graded_list, grades::credit_report,
        follow::complaint_progress, follow::refer, follow::referral_outcome,
        accounts::create_token, accounts::list_tokens, accounts::revoke_token,
        accounts::create_user, accounts::list_users, accounts::disable_user, accounts::reset_password,
        audit::list,
        session::sign_in, session::whoami, session::sign_out, session::change_password,
    ),
    modifiers(&OperatorAuth)
)]
struct ApiDoc;

/// This API's OpenAPI 3 document, generated from the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    Json(document())
}

struct OperatorAuth;

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::cookie::COOKIE))),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    /// The authorization table (`crate::authz`, `docs/authorization.md`) names exactly the
    /// documented operations that need credentials.
    #[test]
    fn the_authorization_table_covers_every_authenticated_operation() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op.get("security").is_some() {
                    documented.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        documented.sort();
        let mut table: Vec<String> = crate::authz::TABLE
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        table.sort();
        assert_eq!(documented, table);
    }
}
