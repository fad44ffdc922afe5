//! What a deployment runs, as given: a `pcc-deploy.toml` and fields that override it
//! (from a form, a request or the command line), merged into a checked
//! [`DeploymentSpec`]. Plain Rust shared by the server and the command line.

use crate::error::AppError;
use crate::model::DeploymentSpec;
use crate::validate::FieldError;
use serde::{Deserialize, Serialize};

/// Deployment fields given directly (form, request or command line).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct DeployFields {
    pub image: Option<String>,
    pub secret_set: Option<String>,
    #[serde(alias = "pull_secret")]
    pub image_credentials: Option<String>,
    pub region: Option<String>,
    pub min_agents: Option<i64>,
    pub max_agents: Option<i64>,
}

/// `pcc-deploy.toml`, as the Pipecat Cloud CLI writes it. Unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployFile {
    pub agent_name: Option<String>,
    pub image: Option<String>,
    pub secret_set: Option<String>,
    pub image_credentials: Option<String>,
    pub region: Option<String>,
    pub scaling: Option<Scaling>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub min_agents: Option<i64>,
    pub max_agents: Option<i64>,
}

/// Parses a `pcc-deploy.toml`; errors name the line and the offending key.
pub fn parse_deploy_file(text: &str) -> Result<DeployFile, AppError> {
    toml::from_str(text).map_err(|e| {
        AppError::validation(FieldError {
            field: "pcc-deploy.toml".into(),
            message: format!("pcc-deploy.toml: {}", e.message()),
        })
    })
}

/// The spec for deployment `name` from an optional file and direct fields.
pub fn merge_spec(
    name: &str,
    file: Option<DeployFile>,
    fields: DeployFields,
) -> Result<DeploymentSpec, AppError> {
    let file = file.unwrap_or_default();
    if let Some(agent) = file.agent_name.as_deref().filter(|a| *a != name) {
        return Err(AppError::validation(FieldError {
            field: "agent_name".into(),
            message: format!("pcc-deploy.toml names agent \"{agent}\", but this is deployment \"{name}\""),
        }));
    }
    let blank_is_none = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let scaling = file.scaling.unwrap_or_default();
    let spec = DeploymentSpec {
        name: name.to_owned(),
        image: blank_is_none(fields.image).or(file.image).unwrap_or_default(),
        secret_set: blank_is_none(fields.secret_set).or(blank_is_none(file.secret_set)),
        pull_secret: blank_is_none(fields.image_credentials).or(blank_is_none(file.image_credentials)),
        region: blank_is_none(fields.region)
            .or(blank_is_none(file.region))
            .unwrap_or_else(|| "default".into()),
        min_agents: fields.min_agents.or(scaling.min_agents).unwrap_or(0),
        max_agents: fields.max_agents.or(scaling.max_agents).unwrap_or(1),
    };
    spec.check()?;
    Ok(spec)
}
