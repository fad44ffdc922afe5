//! Server functions for deployments.
#![allow(
    clippy::too_many_arguments,
    reason = "the deploy form has one argument per field"
)]

use crate::error::AppError;
use crate::model::{DeploymentDetail, DeploymentSummary, WriteOutcome};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::finish;

/// The list of deployments.
pub fn deployments_url(org: &str) -> String {
    super::org_url(org, "/deployments")
}

/// The page with the form that creates a deployment.
pub fn new_deployment_url(org: &str) -> String {
    super::org_url(org, "/new-deployment")
}

pub fn deployment_url(org: &str, name: &str) -> String {
    super::org_url(org, &format!("/deployments/{name}"))
}

/// One page of the organization's deployments, by name: those after `after` whose
/// name contains `q`; `limit` rows (a dashboard page when `None`).
#[server(endpoint = "list_deployment_page")]
pub async fn list_deployment_page(
    org: String,
    q: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
) -> Result<crate::model::DeploymentPage, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    let query = crate::model::ListQuery {
        q,
        after,
        // The store clamps it to `1..=MAX_PAGE_SIZE`.
        limit: limit.unwrap_or(crate::model::PAGE_SIZE),
    };
    crate::domain::deployments::page(&state, &who, &query).await
}

/// The deployments that receive secret set `set`.
#[server(endpoint = "deployments_using")]
pub async fn deployments_using(org: String, set: String) -> Result<Vec<DeploymentSummary>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::deployments::using(&state, &who, &set).await
}

#[server(endpoint = "get_deployment")]
pub async fn get_deployment(org: String, name: String) -> Result<DeploymentDetail, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::deployments::detail(&state, &who, &name).await
}

#[cfg(feature = "ssr")]
fn reveal_once(org: &str, name: &str, token: &str) {
    super::reveal_once(&deployment_url(org, name), token);
}

/// Creates or updates a deployment from the form (fields override the pasted
/// `pcc-deploy.toml`) and deploys it.
#[server(endpoint = "deploy")]
pub async fn deploy(
    org: String,
    name: String,
    #[server(default)] image: String,
    #[server(default)] secret_set: String,
    #[server(default)] image_credentials: String,
    #[server(default)] region: String,
    #[server(default)] min_agents: String,
    #[server(default)] max_agents: String,
    #[server(default)] pcc_deploy_toml: String,
    /// Set by the new-deployment form: a refused attempt goes back to that form, not to
    /// the page of a deployment that does not exist.
    #[server(default)]
    creating: String,
) -> Result<WriteOutcome, AppError> {
    use crate::deploy_spec::{merge_spec, parse_deploy_file, DeployFields};
    let back = if name.is_empty() || !creating.is_empty() {
        new_deployment_url(&org)
    } else {
        deployment_url(&org, &name)
    };
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let number = |what: &str, v: &str| -> Result<Option<i64>, AppError> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            v.trim().parse().map(Some).map_err(|_| {
                AppError::validation(crate::validate::FieldError {
                    field: what.into(),
                    message: format!("{what} must be a whole number"),
                })
            })
        };
        let file = (!pcc_deploy_toml.trim().is_empty())
            .then(|| parse_deploy_file(&pcc_deploy_toml))
            .transpose()?;
        let name = match (name.trim(), file.as_ref().and_then(|f| f.agent_name.clone())) {
            ("", Some(agent)) => agent,
            (n, _) => n.to_owned(),
        };
        let fields = DeployFields {
            image: Some(image),
            secret_set: Some(secret_set),
            image_credentials: Some(image_credentials),
            region: Some(region),
            min_agents: number("min_agents", &min_agents)?,
            max_agents: number("max_agents", &max_agents)?,
        };
        let spec = merge_spec(&name, file, fields)?;
        let outcome = crate::domain::deployments::deploy(&state, &who, &spec).await?;
        if let Some(token) = &outcome.runtime_token {
            reveal_once(&org, &spec.name, token);
        }
        let notice = if outcome.created {
            format!("Created deployment \"{}\" (revision 1).", spec.name)
        } else {
            format!("Deployed \"{}\" as revision {}.", spec.name, outcome.revision)
        };
        Ok(WriteOutcome {
            redirect: deployment_url(&org, &spec.name),
            notice,
            set: spec.name,
            created: outcome.created,
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Takes a new revision with the secret set as it is now.
#[server(endpoint = "redeploy")]
pub async fn redeploy(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let revision = crate::domain::deployments::redeploy(&state, &who, &name).await?;
        Ok(WriteOutcome {
            redirect: deployment_url(&org, &name),
            notice: format!("Redeployed \"{name}\" as revision {revision}."),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &deployment_url(&org, &name))
}

/// Replaces the runtime token; the new one is shown once on the deployment's page.
#[server(endpoint = "rotate_runtime_token")]
pub async fn rotate_runtime_token(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let token = crate::domain::deployments::rotate_token(&state, &who, &name).await?;
        reveal_once(&org, &name, &token);
        Ok(WriteOutcome {
            redirect: deployment_url(&org, &name),
            notice: "Rotated the runtime token.".to_owned(),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &deployment_url(&org, &name))
}

#[server(endpoint = "delete_deployment")]
pub async fn delete_deployment(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::deployments::delete(&state, &who, &name).await?;
        Ok(WriteOutcome {
            redirect: deployments_url(&org),
            notice: format!("Deleted deployment \"{name}\"."),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &deployment_url(&org, &name))
}
