//! The operator's workflows in the console (`docs/console.md`): complaints (answered by the
//! operator, read by regulators and enterprise admins), enterprises with their USCC checked as
//! you type and their credit profiles, the actor registry, and anchoring and log health. Each
//! page opens with the grant of the API route it stands for, and each write is one call into
//! the service the API handler calls, audited like the API's.

mod actors;
mod complaints;
mod credit;
mod enterprises;
mod grade;
mod health;
mod parts;
mod requests;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::http::state::AppState;

/// The operator workflows' routes.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/complaints", get(complaints::list))
        .route(
            "/console/complaints/{reference}",
            get(complaints::page).post(complaints::answer),
        )
        .route(
            "/console/enterprises",
            get(enterprises::list).post(enterprises::create),
        )
        .route("/console/enterprises/new", get(enterprises::new_form))
        .route(
            "/console/enterprises/{id}",
            get(enterprises::page).post(enterprises::update),
        )
        .route("/console/enterprises/{id}/credit", post(credit::set))
        .route("/console/actors", get(actors::list).post(actors::register))
        .route("/console/actors/{id}", get(actors::page))
        .route("/console/actors/{id}/keys", post(actors::add_key))
        .route(
            "/console/actors/{id}/keys/{kid}/revoke",
            post(actors::revoke_key),
        )
        .route("/console/actor-requests", get(requests::list))
        .route(
            "/console/actor-requests/{fingerprint}/dismiss",
            post(requests::dismiss),
        )
        .route("/console/health", get(health::page))
}
