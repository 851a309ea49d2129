//! The enterprise admin's workflows (`docs/console.md`): products, lots with their custody
//! state and recall, and the engagements of custody actors. Every page and form has the
//! grant of the API route behind it, decided as the API decides it (`kit::owned`); every
//! write checks the form's CSRF token, makes the one service call the API handler makes, is
//! audited, and answers with a redirect (POST-redirect-GET).

mod engagements;
mod form;
mod lots;
mod products;
mod words;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::http::state::AppState;

/// The routes of these pages.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/console/products",
            get(products::page).post(products::create),
        )
        .route(
            "/console/products/{gtin}",
            get(products::one).post(products::update),
        )
        .route("/console/lots", get(lots::page).post(lots::declare))
        .route("/console/lots/{id}", get(lots::lot))
        .route("/console/lots/{id}/recall", post(lots::recall))
        .route(
            "/console/engagements",
            get(engagements::page).post(engagements::engage),
        )
        .route(
            "/console/engagements/{enterprise}/{actor}/end",
            post(engagements::end),
        )
}
