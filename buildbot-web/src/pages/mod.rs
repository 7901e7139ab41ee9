//! Server-rendered pages (tera), the embedded `/static/*` files and the files of
//! `BASEDIR/public_html/` served at the web root: the route table of the GET pages, one
//! module per page family, `actions` for the forms' POST routes.
//!
//! Each GET handler reads the database, the config and the live worker list and renders
//! one template (`templates.rs`) with a plain JSON context.

// Handlers return `Result<_, Response>` whose error is the (error) page to send; it is built
// once per request, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod actions;
mod builders;
mod builds;
mod changes;
mod context;
mod files;
mod home;
mod logs;
mod respond;
pub(crate) mod templates;
mod workers;

use crate::State;

/// Adds the page routes, `/static/*` and the `public_html` fallback.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.at("/").get(home::home);
    app.at("/builders").get(builders::builders);
    app.at("/builders/").get(builders::builders);
    app.at("/builders/:builder").get(builders::builder);
    app.at("/builders/:builder/builds/:number")
        .get(builds::build);
    app.at("/builds/:id").get(builds::build_by_id);
    app.at("/logs/:id").get(logs::log_view);
    app.at("/steps/:id/logs/:slug").get(logs::log_by_slug);
    app.at("/grid").get(home::grid);
    app.at("/waterfall").get(home::waterfall);
    app.at("/workers").get(workers::workers);
    app.at("/workers/").get(workers::workers);
    app.at("/workers/:worker").get(workers::worker);
    app.at("/changes").get(changes::changes);
    app.at("/pending").get(builds::pending);
    app.at("/masters").get(home::masters);
    app.at("/about").get(home::about);
    actions::routes(app);
    files::routes(app);
}
