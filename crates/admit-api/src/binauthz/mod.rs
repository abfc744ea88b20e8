//! Binary Authorization `v1`, `v1beta1` and `v1alpha2`.

mod attestors;
mod cv_config;
mod platform_policies;
mod policy;
mod system_policy;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) const VERSIONS: [&str; 3] = ["v1", "v1beta1", "v1alpha2"];

pub(crate) fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for v in VERSIONS {
        r = r
            .route(
                &format!("/{v}/projects/{{project}}/policy"),
                get(policy::get).put(policy::update),
            )
            .route(
                &format!("/{v}/projects/{{project}}/policy:simulate"),
                post(policy::simulate),
            )
            .route(
                &format!("/{v}/projects/{{project}}/policy:describeImage"),
                post(policy::describe_image),
            )
            .route(
                &format!("/{v}/projects/{{project}}/policy:getIamPolicy"),
                get(policy::get_iam),
            )
            .route(
                &format!("/{v}/projects/{{project}}/policy:setIamPolicy"),
                post(policy::set_iam),
            )
            .route(
                &format!("/{v}/projects/{{project}}/policy:testIamPermissions"),
                post(policy::test_iam),
            )
            .route(
                &format!("/{v}/projects/{{project}}/attestors"),
                get(attestors::list).post(attestors::create),
            )
            .route(
                &format!("/{v}/projects/{{project}}/attestors/{{attestor}}"),
                get(attestors::get)
                    .put(attestors::update)
                    .delete(attestors::delete)
                    .post(attestors::custom),
            )
            .route(
                &format!("/{v}/locations/{{location}}/policy"),
                get(system_policy::get),
            );
    }
    r.route(
        "/v1/projects/{project}/platforms",
        get(platform_policies::platforms),
    )
    .route(
        "/v1/projects/{project}/platforms/{platform}/policies",
        get(platform_policies::list).post(platform_policies::create),
    )
    .route(
        "/v1/projects/{project}/platforms/{platform}/policies/{policy}",
        get(platform_policies::get)
            .put(platform_policies::replace)
            .delete(platform_policies::delete)
            .post(platform_policies::custom),
    )
    .route(
        "/v1alpha2/projects/{project}/attestors/{attestor}/attestations/{attestation}",
        post(attestors::attestation_test_iam),
    )
    .route(
        "/v1alpha2/projects/{project}/continuousValidationConfig",
        get(cv_config::get).put(cv_config::update),
    )
    .route(
        "/v1alpha2/projects/{project}/continuousValidationConfig:getIamPolicy",
        get(cv_config::get_iam),
    )
    .route(
        "/v1alpha2/projects/{project}/continuousValidationConfig:setIamPolicy",
        post(cv_config::set_iam),
    )
    .route(
        "/v1alpha2/projects/{project}/continuousValidationConfig:testIamPermissions",
        post(cv_config::test_iam),
    )
}
