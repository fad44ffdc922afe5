//! Image pull secrets: registry credentials, encrypted at rest, immutable, exported as
//! the Kubernetes `kubernetes.io/dockerconfigjson` Secret that kubectl would write.

use super::crypto::SecretValue;
use super::principal::Principal;
use super::state::AppState;
pub use crate::error::pull_secret_exists;
use crate::error::AppError;
use crate::model::PullSecretSummary;
use crate::model::Role;
use crate::store::{self, sets, PullSecretRecord};
use crate::validate::{self, ResourceName};
use serde::Serialize;

/// A validated new pull secret. `Debug` shows no credentials (`SecretValue` prints `***`).
#[derive(Debug)]
pub struct NewPullSecret {
    pub name: ResourceName,
    pub registry: String,
    pub username: String,
    /// base64 of `username:password`, as docker's `auth`.
    pub auth: SecretValue,
}

/// Checks the input of a new pull secret, reporting every problem at once. With
/// `encode`, `username` and `password` are given and Cloakroom builds `auth`; without,
/// `auth` is an already base64-encoded `username:password`, stored as is.
pub fn validate_new(
    name: &str,
    registry: &str,
    username: &str,
    password: &str,
    auth: &str,
    encode: bool,
) -> Result<NewPullSecret, AppError> {
    let (name, username) = validate::check_new_pull_secret(name, registry, username, password, auth, encode)
        .map_err(|errors| AppError::Validation(errors.into()))?;
    let auth = if encode {
        let joined = zeroize::Zeroizing::new(format!("{username}:{password}"));
        validate::base64_encode(joined.as_bytes())
    } else {
        auth.trim().to_owned()
    };
    Ok(NewPullSecret {
        name,
        registry: registry.trim().to_owned(),
        username,
        auth: SecretValue::new(auth),
    })
}

fn summary(r: &PullSecretRecord) -> PullSecretSummary {
    PullSecretSummary {
        name: r.name.clone(),
        registry: r.registry.clone(),
        username: r.username.clone(),
        created_at: r.created_at,
        used_by: Vec::new(),
    }
}

/// Stores a new pull secret (or, with `replace`, deletes and recreates it in one
/// transaction). Returns it and whether an old one was replaced.
pub async fn create(
    state: &AppState,
    who: &Principal,
    new: NewPullSecret,
    replace: bool,
) -> Result<(PullSecretSummary, bool), AppError> {
    who.require(Role::Admin, "managing image pull secrets")?;
    let record = PullSecretRecord {
        sealed_auth: state
            .crypto
            .seal_pull_auth(who.org.id, new.name.as_str(), &new.auth)?,
        name: new.name.to_string(),
        registry: new.registry,
        username: new.username,
        created_at: super::now(),
    };
    let out = summary(&record);
    let audit = {
        let who = who.clone();
        let object = format!("pull-secret:{}", out.name);
        let detail = format!("registry {}, user {}", out.registry, out.username);
        Box::new(move |replaced: &bool| {
            let action = if *replaced {
                "pull-secret.replace"
            } else {
                "pull-secret.create"
            };
            super::audit::entry(&who, action, &object, &[], &detail)
        })
    };
    let replaced = state
        .store
        .put_pull_secret(who.org.id, record, replace, audit)
        .await?;
    tracing::info!(
        org = %who.org.name, user = who.user_id, name = %out.name, registry = %out.registry, replaced,
        "image pull secret created"
    );
    Ok((out, replaced))
}

pub async fn delete(state: &AppState, who: &Principal, name: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "managing image pull secrets")?;
    let audit = super::audit::entry(who, "pull-secret.delete", &format!("pull-secret:{name}"), &[], "");
    // The row is locked first, so a deploy that references it concurrently either
    // commits before and is seen, or waits.
    let mut tx = state.store.write().await?;
    if !sets::lock_named(&mut tx, "image_pull_secrets", who.org.id, name).await? {
        return Err(pull_secret_not_found(name));
    }
    super::secrets::refuse_if_used(&mut tx, who.org.id, "pull_secret", "image pull secret", name).await?;
    sets::delete_named(&mut tx, "image_pull_secrets", who.org.id, name).await?;
    store::finish(tx, audit, ()).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, name, "image pull secret deleted");
    Ok(())
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    #[serde(rename = "creationTimestamp")]
    creation_timestamp: Option<()>,
}

#[derive(Serialize)]
struct Data {
    #[serde(rename = ".dockerconfigjson")]
    dockerconfigjson: String,
}

#[derive(Serialize)]
struct KubeSecret<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Metadata<'a>,
    data: Data,
    #[serde(rename = "type")]
    kind_of_secret: &'static str,
}

/// A JSON string the way Go's encoding/json writes it (kubectl is Go): `<`, `>`, `&`,
/// U+2028 and U+2029 are escaped as `\uXXXX`.
fn go_json_string(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_default();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The `.dockerconfigjson` document, byte for byte as kubectl builds it.
pub fn docker_config_json(registry: &str, username: &str, password: &str, auth: &str) -> String {
    format!(
        "{{\"auths\":{{{}:{{\"username\":{},\"password\":{},\"auth\":{}}}}}}}",
        go_json_string(registry),
        go_json_string(username),
        go_json_string(password),
        go_json_string(auth)
    )
}

/// The Kubernetes Secret for a pull secret, as
/// `kubectl create secret docker-registry … --dry-run=client -o json` prints it. This is
/// the one route by which registry credentials leave the server.
pub async fn export(state: &AppState, who: &Principal, name: &str) -> Result<String, AppError> {
    who.require(
        Role::Admin,
        "exporting image pull secrets (they contain the password)",
    )?;
    let record = state
        .store
        .pull_secret(who.org.id, name)
        .await?
        .ok_or_else(|| pull_secret_not_found(name))?;
    let auth = state
        .crypto
        .open_pull_auth(who.org.id, name, &record.sealed_auth)?;
    let decoded = zeroize::Zeroizing::new(validate::base64_decode(auth.expose()).ok_or(AppError::Internal)?);
    let text = std::str::from_utf8(&decoded).map_err(|_| AppError::Internal)?;
    let (username, password) = text.split_once(':').ok_or(AppError::Internal)?;
    let config = zeroize::Zeroizing::new(docker_config_json(
        &record.registry,
        username,
        password,
        auth.expose(),
    ));
    let secret = KubeSecret {
        kind: "Secret",
        api_version: "v1",
        metadata: Metadata {
            name,
            creation_timestamp: None,
        },
        data: Data {
            dockerconfigjson: validate::base64_encode(config.as_bytes()),
        },
        kind_of_secret: "kubernetes.io/dockerconfigjson",
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    secret.serialize(&mut ser).map_err(|_| AppError::Internal)?;
    tracing::info!(org = %who.org.name, user = who.user_id, name, "image pull secret exported");
    super::audit::record(
        state,
        who,
        "pull-secret.export",
        &format!("pull-secret:{name}"),
        &[],
        "",
    )
    .await?;
    String::from_utf8(out).map_err(|_| AppError::Internal)
}

/// The organization's image pull secrets, each with the deployments that use it.
pub async fn list(state: &AppState, who: &Principal) -> Result<Vec<PullSecretSummary>, AppError> {
    let mut list = state.store.list_pull_secrets(who.org.id).await?;
    let users = state.store.pull_secret_users(who.org.id).await?;
    for p in &mut list {
        p.used_by = users
            .iter()
            .filter(|(pull, _)| *pull == p.name)
            .map(|(_, deployment)| deployment.clone())
            .collect();
    }
    Ok(list)
}

pub fn pull_secret_not_found(name: &str) -> AppError {
    AppError::NotFound(format!("image pull secret \"{name}\" not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping_matches_encoding_json() {
        assert_eq!(go_json_string("u<s>&er"), "\"u\\u003cs\\u003e\\u0026er\"");
        assert_eq!(go_json_string("p:a\"ss"), "\"p:a\\\"ss\"");
    }

    #[test]
    fn input_problems_are_all_reported_and_never_echo_the_password() {
        let err = validate_new("Bad Name", "not a host", "us:er", "", "", true).unwrap_err();
        assert_eq!(err.details().len(), 4, "{err:?}");
        let err = validate_new("ok", "ghcr.io", "", "", "bm9jb2xvbg==", false).unwrap_err();
        assert_eq!(err.details(), vec!["auth: it must decode to username:password"]);
        let ok = validate_new("ok", "ghcr.io", "ignored", "ignored", "dTpw", false).unwrap();
        assert_eq!((ok.username.as_str(), ok.auth.expose()), ("u", "dTpw"));
        let ok = validate_new("ok", " ghcr.io ", "u", "p", "", true).unwrap();
        assert_eq!((ok.registry.as_str(), ok.auth.expose()), ("ghcr.io", "dTpw"));
    }
}
