//! The REST data API v2 (`/api/v2`, rest-api.md): the route table. One module per resource
//! family serves its paths; `query` and `respond` are what they share, `control` answers
//! the JSON-RPC POSTs, `cors` guards every `/api` request.

mod builders;
mod buildrequests;
mod builds;
mod changes;
mod control;
mod cors;
mod logs;
mod masters;
mod mem;
mod projects;
mod properties;
mod query;
pub(crate) mod respond;
mod root;
mod schedulers;
mod steps;
mod test_results;
mod workers;

use control::rpc;
use query::{Kind, by_id, collection};
use respond::ep;

use crate::State;
use crate::auth::EndpointKind;
use crate::state::Req;

/// The route of `/api/v2<path>`, with POST answered "action not supported" (501).
fn at<'a>(app: &'a mut tide::Server<State>, path: &str) -> tide::Route<'a, State> {
    let full = format!("/api/v2{path}");
    app.at(&full).post(rpc(EndpointKind::Other));
    app.at(&full)
}

/// Adds the `/api/v2` routes (and `HEAD` answered as `GET`) to `app`.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.with(cors::api_guard);
    let c = |k: Kind| move |req: Req| collection(req, k, Vec::new());
    // the version directory, the root and the spec
    app.at("/api").get(root::versions);
    app.at("/api/v2").get(ep!(root::root));
    app.at("/api/latest").get(ep!(root::root));
    app.at("/api/v2/application.spec")
        .get(ep!(root::application_spec));
    // builds
    at(app, "/builds").get(c(Kind::Builds));
    app.at("/api/v2/builds/:id")
        .get(by_id(Kind::Builds, "buildid"))
        .post(rpc(EndpointKind::Build));
    app.at("/api/v2/builders/:builder/builds/:number")
        .get(builds::builder_build)
        .post(rpc(EndpointKind::Build));
    for b in ["/builds/:buildid", "/builders/:builder/builds/:number"] {
        at(app, &format!("{b}/steps")).get(ep!(steps::build_steps));
        at(app, &format!("{b}/properties")).get(ep!(builds::build_properties));
        at(app, &format!("{b}/data")).get(ep!(builds::build_data));
        at(app, &format!("{b}/data/:name")).get(ep!(builds::build_data_one));
        at(app, &format!("{b}/data/:name/value")).get(builds::build_data_value);
        at(app, &format!("{b}/steps/:step")).get(ep!(steps::step_one));
        at(app, &format!("{b}/steps/:step/logs")).get(ep!(logs::step_logs));
        at(app, &format!("{b}/steps/:step/logs/:slug")).get(ep!(logs::log_one));
        at(app, &format!("{b}/steps/:step/logs/:slug/contents")).get(logs::log_contents);
        at(app, &format!("{b}/steps/:step/logs/:slug/raw")).get(logs::log_raw);
        at(app, &format!("{b}/steps/:step/logs/:slug/raw_inline")).get(logs::log_raw_inline);
    }
    at(app, "/builds/:buildid/property_list").get(ep!(builds::build_property_list));
    at(app, "/builds/:buildid/changes").get(ep!(changes::build_changes));
    at(app, "/builds/:buildid/triggered_builds").get(ep!(builds::triggered_builds));
    at(app, "/builds/:buildid/test_result_sets").get(ep!(test_results::test_result_sets));
    // builders
    at(app, "/builders").get(c(Kind::Builders));
    at(app, "/builders/:builder").get(builders::builder_one);
    at(app, "/builders/:builder/builds").get(builds::builder_builds);
    at(app, "/builders/:builder/buildrequests").get(ep!(buildrequests::builder_requests));
    at(app, "/builders/:builder/workers").get(ep!(workers::builder_workers));
    app.at("/api/v2/builders/:builder/workers/:worker")
        .get(ep!(workers::builder_worker_one))
        .post(rpc(EndpointKind::Worker));
    at(app, "/builders/:builder/masters").get(ep!(masters::builder_masters));
    at(app, "/builders/:builder/masters/:masterid").get(ep!(masters::builder_master_one));
    at(app, "/builders/:builder/forceschedulers").get(ep!(schedulers::forceschedulers));
    at(app, "/builders/:builder/test_result_sets").get(ep!(test_results::test_result_sets));
    // workers
    at(app, "/workers").get(c(Kind::Workers));
    app.at("/api/v2/workers/:id")
        .get(workers::worker_one)
        .post(rpc(EndpointKind::Worker));
    at(app, "/workers/:id/builds").get(ep!(builds::worker_builds));
    at(app, "/workers/:id/builders").get(ep!(builders::worker_builders));
    // build requests, buildsets
    at(app, "/buildrequests").get(c(Kind::BuildRequests));
    app.at("/api/v2/buildrequests/:id")
        .get(by_id(Kind::BuildRequests, "buildrequestid"))
        .post(rpc(EndpointKind::BuildRequest));
    at(app, "/buildrequests/:id/builds").get(ep!(builds::request_builds));
    at(app, "/buildsets").get(c(Kind::Buildsets));
    at(app, "/buildsets/:id").get(by_id(Kind::Buildsets, "bsid"));
    at(app, "/buildsets/:id/properties").get(ep!(buildrequests::buildset_properties));
    at(app, "/buildsets/:id/properties_list").get(ep!(buildrequests::buildset_properties_list));
    at(app, "/buildsets/:id/sourcestamps").get(ep!(changes::buildset_sourcestamps));
    // steps, logs
    at(app, "/steps/:id").get(by_id(Kind::Steps, "stepid"));
    at(app, "/steps/:stepid/logs").get(ep!(logs::step_logs));
    at(app, "/steps/:stepid/logs/:slug").get(ep!(logs::log_one));
    at(app, "/steps/:stepid/logs/:slug/contents").get(logs::log_contents);
    at(app, "/steps/:stepid/logs/:slug/raw").get(logs::log_raw);
    at(app, "/steps/:stepid/logs/:slug/raw_inline").get(logs::log_raw_inline);
    at(app, "/steps/:stepid/test_result_sets").get(ep!(test_results::test_result_sets));
    at(app, "/logs/:logid").get(ep!(logs::log_one));
    at(app, "/logs/:logid/contents").get(logs::log_contents);
    at(app, "/logs/:logid/raw").get(logs::log_raw);
    at(app, "/logs/:logid/raw_inline").get(logs::log_raw_inline);
    at(app, "/logchunks").get(ep!(logs::logchunks_root));
    // masters
    at(app, "/masters").get(c(Kind::Masters));
    at(app, "/masters/:id").get(by_id(Kind::Masters, "masterid"));
    at(app, "/masters/:id/builders").get(ep!(builders::master_builders));
    at(app, "/masters/:id/builders/:builderid").get(ep!(builders::master_builder_one));
    at(app, "/masters/:id/workers").get(ep!(workers::master_workers));
    at(app, "/masters/:masterid/schedulers").get(ep!(schedulers::schedulers));
    app.at("/api/v2/masters/:masterid/schedulers/:id")
        .get(ep!(schedulers::scheduler_one))
        .post(rpc(EndpointKind::Scheduler));
    at(app, "/masters/:masterid/changesources").get(ep!(schedulers::changesources));
    at(app, "/masters/:masterid/changesources/:id").get(ep!(schedulers::changesource_one));
    // changes, source stamps
    at(app, "/changes").get(c(Kind::Changes));
    at(app, "/changes/:id").get(by_id(Kind::Changes, "changeid"));
    at(app, "/changes/:id/builds").get(ep!(builds::change_builds));
    at(app, "/changes/:id/properties_list").get(ep!(changes::change_properties_list));
    at(app, "/sourcestamps").get(ep!(changes::sourcestamps));
    at(app, "/sourcestamps/:id").get(ep!(changes::sourcestamp_one));
    at(app, "/sourcestamps/:id/changes").get(ep!(changes::sourcestamp_changes));
    // schedulers, change sources, force schedulers
    at(app, "/schedulers").get(ep!(schedulers::schedulers));
    app.at("/api/v2/schedulers/:id")
        .get(ep!(schedulers::scheduler_one))
        .post(rpc(EndpointKind::Scheduler));
    at(app, "/changesources").get(ep!(schedulers::changesources));
    at(app, "/changesources/:id").get(ep!(schedulers::changesource_one));
    at(app, "/forceschedulers").get(ep!(schedulers::forceschedulers));
    app.at("/api/v2/forceschedulers/:name")
        .get(ep!(schedulers::forcescheduler_one))
        .post(rpc(EndpointKind::ForceScheduler));
    // projects, codebases, test results
    at(app, "/projects").get(ep!(projects::projects));
    at(app, "/projects/:project").get(ep!(projects::project_one));
    at(app, "/projects/:project/builders").get(ep!(builders::project_builders));
    at(app, "/codebases").get(ep!(projects::codebases));
    at(app, "/codebases/:id").get(ep!(projects::codebase_one));
    at(app, "/test_result_sets").get(ep!(test_results::test_result_sets));
    at(app, "/test_result_sets/:id").get(ep!(test_results::test_result_set_one));
    at(app, "/test_result_sets/:id/results").get(ep!(test_results::test_results));
    app.at("/api/v2/*")
        .get(root::unknown_path)
        .post(root::unknown_path_rpc);
    app.at("/api/v2/")
        .get(root::unknown_path)
        .post(root::unknown_path_rpc);
}
