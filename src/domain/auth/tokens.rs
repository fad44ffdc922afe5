//! API tokens: creating them, and who a bearer token acts for.

use super::*;

/// Who an `Authorization: Bearer` token acts for. Never looks at cookies.
pub async fn bearer_principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthorized)?;
    let mut who = state
        .store
        .principal_for_token(&token_hash(token), crate::domain::now())
        .await?
        .map(|a| Principal::acting(a, Via::Api))
        .ok_or(AppError::Unauthorized)?;
    let from_cli = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("cloakroom-cli/"));
    who.via = if from_cli { Via::Cli } else { Via::Api };
    Ok(who)
}

/// Creates an API token for a member of an organization (the admin command and
/// tests); returns the token.
pub async fn create_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<String, AppError> {
    Ok(issue_api_token(state, principal, name).await?.1)
}

/// API tokens one person may hold in one organization.
pub const API_TOKENS_MAX: i64 = 100;

/// Creates an API token acting with `principal`'s role at most, audited in the same
/// transaction; returns its id and the token (shown once; only its hash is kept).
pub async fn issue_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<(i64, String), AppError> {
    if state
        .store
        .api_token_count(principal.org.id, principal.user_id)
        .await?
        >= API_TOKENS_MAX
    {
        return Err(AppError::Quota(format!(
            "you hold {API_TOKENS_MAX} API tokens in \"{}\", as many as one person may; revoke one first",
            principal.org.name
        )));
    }
    let token = new_token("ckr_");
    let audit = {
        let (who, object) = (principal.clone(), format!("token:{name}"));
        Box::new(move |id: &i64| {
            let detail = format!("id {id}, role {}", who.role);
            crate::domain::audit::entry(&who, "token.create", &object, &[], &detail)
        })
    };
    let id = state
        .store
        .create_api_token(
            principal.org.id,
            principal.user_id,
            name,
            &token_hash(&token),
            crate::domain::now(),
            principal.role,
            audit,
        )
        .await?;
    Ok((id, token))
}
