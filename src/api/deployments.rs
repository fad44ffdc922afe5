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
pub const DEPLOYMENTS_URL: &str = "/deployments";
/// Cookie that carries a new runtime token to the one page view that shows it.
pub const REVEAL_COOKIE: &str = "cloakroom_reveal";

pub fn deployment_url(name: &str) -> String {
    format!("{DEPLOYMENTS_URL}/{name}")
}

#[server(endpoint = "list_deployments")]
pub async fn list_deployments() -> Result<Vec<DeploymentSummary>, AppError> {
    let (state, who) = crate::server::auth::caller().await?;
    state.store.list_deployments(who.org.id).await
}

#[server(endpoint = "get_deployment")]
pub async fn get_deployment(name: String) -> Result<DeploymentDetail, AppError> {
    let (state, who) = crate::server::auth::caller().await?;
    state
        .store
        .get_deployment(who.org.id, &name)
        .await?
        .ok_or_else(|| crate::server::store::deployment_not_found(&name))
}

/// Hands a freshly made runtime token to the deployment's page through a short-lived
/// cookie scoped to that page, so it never travels in a URL or a log.
#[cfg(feature = "ssr")]
fn reveal_once(name: &str, token: &str) {
    use crate::server::auth::{message_cookie, set_cookie};
    set_cookie(&message_cookie(REVEAL_COOKIE, token, &deployment_url(name), 120));
}

/// Creates or updates a deployment from the form (fields override the pasted
/// `pcc-deploy.toml`) and deploys it.
#[server(endpoint = "deploy")]
pub async fn deploy(
    name: String,
    #[server(default)] image: String,
    #[server(default)] secret_set: String,
    #[server(default)] image_credentials: String,
    #[server(default)] region: String,
    #[server(default)] min_agents: String,
    #[server(default)] max_agents: String,
    #[server(default)] pcc_deploy_toml: String,
) -> Result<WriteOutcome, AppError> {
    use crate::server::deployments::{merge_spec, parse_deploy_file, DeployFields};
    let back = if name.is_empty() {
        DEPLOYMENTS_URL.to_owned()
    } else {
        deployment_url(&name)
    };
    let result = async {
        let (state, who) = crate::server::auth::caller().await?;
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
        let outcome = crate::server::deployments::deploy(&state, &who, &spec).await?;
        if let Some(token) = &outcome.runtime_token {
            reveal_once(&spec.name, token);
        }
        let notice = if outcome.created {
            format!("Created deployment \"{}\" (revision 1).", spec.name)
        } else {
            format!("Deployed \"{}\" as revision {}.", spec.name, outcome.revision)
        };
        Ok(WriteOutcome {
            redirect: deployment_url(&spec.name),
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
pub async fn redeploy(name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::server::auth::caller().await?;
        let revision = crate::server::deployments::redeploy(&state, &who, &name).await?;
        Ok(WriteOutcome {
            redirect: deployment_url(&name),
            notice: format!("Redeployed \"{name}\" as revision {revision}."),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &deployment_url(&name))
}

/// Replaces the runtime token; the new one is shown once on the deployment's page.
#[server(endpoint = "rotate_runtime_token")]
pub async fn rotate_runtime_token(name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::server::auth::caller().await?;
        let token = crate::server::deployments::rotate_token(&state, &who, &name).await?;
        reveal_once(&name, &token);
        Ok(WriteOutcome {
            redirect: deployment_url(&name),
            notice: "Rotated the runtime token.".to_owned(),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &deployment_url(&name))
}

#[server(endpoint = "delete_deployment")]
pub async fn delete_deployment(name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::server::auth::caller().await?;
        crate::server::deployments::delete(&state, &who, &name).await?;
        Ok(WriteOutcome {
            redirect: DEPLOYMENTS_URL.to_owned(),
            notice: format!("Deleted deployment \"{name}\"."),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &deployment_url(&name))
}

/// The runtime token a deploy or rotation just made for `name`, once: reading it
/// clears the cookie. Server-side only; always `None` in the browser.
pub fn take_revealed_token(name: &str) -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use crate::server::auth::{message_cookie, request_cookie, set_cookie};
        let token = request_cookie(REVEAL_COOKIE).filter(|t| t.starts_with("ckd_"))?;
        set_cookie(&message_cookie(REVEAL_COOKIE, "", &deployment_url(name), 0));
        Some(token)
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = name;
        None
    }
}
