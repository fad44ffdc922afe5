//! Server functions for image pull secrets.
#![allow(
    clippy::too_many_arguments,
    reason = "the create form has one argument per field"
)]

use crate::error::AppError;
use crate::model::{Concealed, PullSecretSummary, WriteOutcome};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::{finish, with_param};

/// The page of image pull secrets.
pub fn pull_secrets_url(org: &str) -> String {
    super::org_url(org, "/image-pull-secrets")
}

/// The signed-in organization's image pull secrets (never their credentials).
#[server(endpoint = "list_pull_secrets")]
pub async fn list_pull_secrets(org: String) -> Result<Vec<PullSecretSummary>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::pull_secrets::list(&state, &who).await
}

/// Creates an image pull secret, or with `replace` (and its confirmation) deletes and
/// recreates one in a single step. `encode` is the "encode for me" checkbox.
#[server(endpoint = "create_pull_secret")]
pub async fn create_pull_secret(
    org: String,
    name: String,
    registry: String,
    #[server(default)] username: String,
    #[server(default)] password: Concealed,
    #[server(default)] auth: Concealed,
    #[server(default)] encode: Option<String>,
    #[server(default)] replace: Option<String>,
    #[server(default)] confirm_replace: Option<String>,
) -> Result<WriteOutcome, AppError> {
    let replacing = replace.is_some_and(|r| !r.is_empty());
    let back = if replacing {
        with_param(&pull_secrets_url(&org), "replace", &name)
    } else {
        pull_secrets_url(&org)
    };
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        if replacing && confirm_replace.is_none() {
            return Err(AppError::validation(crate::validate::FieldError {
                field: "confirm_replace".into(),
                message: format!("confirm that the current credentials of \"{name}\" are to be deleted"),
            }));
        }
        let new = crate::domain::pull_secrets::validate_new(
            &name,
            &registry,
            &username,
            &password.0,
            &auth.0,
            encode.is_some(),
        )?;
        let (created, replaced) = crate::domain::pull_secrets::create(&state, &who, new, replacing).await?;
        let notice = if replaced {
            format!("Replaced image pull secret \"{}\".", created.name)
        } else {
            format!("Created image pull secret \"{}\".", created.name)
        };
        Ok(WriteOutcome {
            redirect: pull_secrets_url(&org),
            notice,
            set: created.name,
            created: !replaced,
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Deletes an image pull secret.
#[server(endpoint = "delete_pull_secret")]
pub async fn delete_pull_secret(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::pull_secrets::delete(&state, &who, &name).await?;
        Ok(WriteOutcome {
            redirect: pull_secrets_url(&org),
            notice: format!("Deleted image pull secret \"{name}\"."),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &pull_secrets_url(&org))
}
