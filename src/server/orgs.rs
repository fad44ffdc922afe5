//! Organizations and the people in them: accounts with a personal workspace, roles,
//! invitations and API tokens. Server functions, the REST API and the admin command all
//! go through here, so the role rules live in one place.

use super::auth::Principal;
use super::crypto::{new_token, token_hash};
use super::state::AppState;
use super::store::db::Db;
use super::store::{self, people, InviteRecord, Org};
use crate::error::AppError;
use crate::model::{InviteInfo, MemberInfo, Role, TokenInfo, Workspace};
use crate::validate::normalize_email;
use crate::validate::{check_email, FieldError};

/// How long an invitation link works.
pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;
/// Longest API token name.
pub const TOKEN_NAME_MAX: usize = 100;

/// The caller acting in `org`: their role there, or 404 when they do not belong to it
/// (exactly like an organization that does not exist, so names do not leak).
pub async fn in_org(state: &AppState, who: &Principal, org: &str) -> Result<Principal, AppError> {
    if who.org.name == org {
        return Ok(who.clone());
    }
    let (org, role) = state
        .store
        .membership(who.user_id, org)
        .await?
        .ok_or_else(|| org_not_found(org))?;
    Ok(Principal {
        org,
        role,
        ..who.clone()
    })
}

pub fn org_not_found(org: &str) -> AppError {
    AppError::NotFound(format!("organization \"{org}\" not found"))
}

/// A personal workspace name from an email's local part: `alice-personal`.
fn personal_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or("user").to_ascii_lowercase();
    let mut name: String = local
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        name = "user".into();
    }
    name.truncate(40);
    format!("{}-personal", name.trim_end_matches('-'))
}

/// Creates an account with its personal workspace and, when given, a membership.
/// Returns the user's id.
pub async fn create_account(
    state: &AppState,
    email: &str,
    password_hash: &str,
    org: Option<(&Org, Role)>,
) -> Result<i64, AppError> {
    let email = check_email(email)?;
    let now = super::now();
    let id = state
        .store
        .create_user(&email, password_hash, org.map(|(o, role)| (o.id, role)))
        .await?;
    state
        .store
        .create_personal_org(id, &personal_name(&email), now)
        .await?;
    Ok(id)
}

/// Gives account `user_id` (of `email`) its personal workspace.
pub async fn add_personal_workspace(state: &AppState, user_id: i64, email: &str) -> Result<(), AppError> {
    state
        .store
        .create_personal_org(user_id, &personal_name(email), super::now())
        .await
        .map(drop)
}

pub async fn workspaces(state: &AppState, who: &Principal) -> Result<Vec<Workspace>, AppError> {
    state.store.workspaces(who.user_id).await
}

pub async fn members(state: &AppState, who: &Principal) -> Result<Vec<MemberInfo>, AppError> {
    who.require(Role::Viewer, "seeing members")?;
    state.store.members(who.org.id).await
}

pub async fn invites(state: &AppState, who: &Principal) -> Result<Vec<InviteInfo>, AppError> {
    who.require(Role::Admin, "seeing invitations")?;
    state.store.invites(who.org.id, super::now()).await
}

/// Only owners may hand out or take away the owner role.
fn check_grant(who: &Principal, role: Role) -> Result<(), AppError> {
    who.require(Role::Admin, "managing members")?;
    if role == Role::Owner {
        who.require(Role::Owner, "making someone an owner")?;
    }
    Ok(())
}

/// Refuses a change that would leave the organization without an owner: the last
/// owner can be neither demoted nor removed. Runs in the change's transaction, after
/// [`people::lock_member`] locked the organization's memberships.
async fn keep_an_owner(tx: &mut Db, org_id: i64, (user_id, role): (i64, Role)) -> Result<(), AppError> {
    if role == Role::Owner && people::other_owners(tx, org_id, user_id).await? == 0 {
        return Err(AppError::Conflict(
            "the last owner cannot be removed or demoted; make someone else owner first".into(),
        ));
    }
    Ok(())
}

/// Creates an invitation; returns the link's token (shown once; only its hash is kept).
pub async fn invite(state: &AppState, who: &Principal, email: &str, role: Role) -> Result<String, AppError> {
    check_grant(who, role)?;
    let email = check_email(email)?;
    if state.store.is_personal(who.org.id).await? {
        return Err(AppError::Conflict(
            "a personal workspace has no other members; invite people to an organization".into(),
        ));
    }
    let members = state.store.members(who.org.id).await?;
    if members.iter().any(|m| m.email == email) {
        return Err(AppError::Conflict(format!(
            "{email} is already a member of \"{}\"",
            who.org.name
        )));
    }
    let token = new_token("cki_");
    let now = super::now();
    let audit = super::audit::entry(
        who,
        "member.invite",
        &format!("member:{email}"),
        &[],
        &format!("role {role}"),
    );
    state
        .store
        .create_invite(
            who.org.id,
            &email,
            role,
            &token_hash(&token),
            who.user_id,
            now,
            now + INVITE_TTL_SECS,
            audit,
        )
        .await?;
    Ok(token)
}

/// The link to send to the invited person.
pub fn invite_link(state: &AppState, token: &str) -> String {
    let base = state
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{base}/invite/{token}")
}

pub async fn change_role(state: &AppState, who: &Principal, email: &str, role: Role) -> Result<(), AppError> {
    check_grant(who, role)?;
    let mut tx = state.store.write().await?;
    let member = people::lock_member(&mut tx, &who.org, email).await?;
    if member.1 == Role::Owner {
        who.require(Role::Owner, "changing an owner's role")?;
    }
    if role != Role::Owner {
        keep_an_owner(&mut tx, who.org.id, member).await?;
    }
    people::set_role(&mut tx, who.org.id, member.0, role).await?;
    let object = format!("member:{}", normalize_email(email));
    let audit = super::audit::entry(who, "member.role", &object, &[], &format!("role {role}"));
    store::finish(tx, audit, ()).await
}

pub async fn remove_member(state: &AppState, who: &Principal, email: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "removing members")?;
    let mut tx = state.store.write().await?;
    let member = people::lock_member(&mut tx, &who.org, email).await?;
    if member.1 == Role::Owner {
        who.require(Role::Owner, "removing an owner")?;
    }
    keep_an_owner(&mut tx, who.org.id, member).await?;
    people::remove(&mut tx, who.org.id, member.0).await?;
    let object = format!("member:{}", normalize_email(email));
    let audit = super::audit::entry(who, "member.remove", &object, &[], "");
    store::finish(tx, audit, ()).await
}

/// Creates organization `name` with the caller as its owner. Anyone signed in may,
/// unless the `org_creation` setting keeps it to the instance's first owner.
pub async fn create_org(state: &AppState, who: &Principal, name: &str) -> Result<Org, AppError> {
    if state.config.org_creation == super::config::OrgCreation::FirstOwner
        && state.store.first_user_id().await? != Some(who.user_id)
    {
        return Err(AppError::Forbidden(
            "on this instance only its first owner creates organizations (setting org_creation)".into(),
        ));
    }
    let name = crate::validate::ResourceName::parse_as("organization name", name.trim())?;
    let audit = {
        let who = who.clone();
        Box::new(move |org: &Org| {
            let object = format!("org:{}", org.name);
            super::audit::entry_as(
                org.id,
                &who.email,
                who.via.as_str(),
                "org.create",
                &object,
                &[],
                "",
            )
        })
    };
    let org = state
        .store
        .create_org(name.as_str(), who.user_id, super::now(), audit)
        .await?;
    tracing::info!(org = %org.name, user = who.user_id, "organization created");
    Ok(org)
}

/// Withdraws a pending invitation; admins only. Its link stops working at once.
pub async fn revoke_invite(state: &AppState, who: &Principal, id: i64) -> Result<String, AppError> {
    who.require(Role::Admin, "withdrawing invitations")?;
    let audit = {
        let who = who.clone();
        Box::new(move |email: &String| {
            let object = format!("member:{email}");
            super::audit::entry(
                &who,
                "member.invite.revoke",
                &object,
                &[],
                &format!("invitation {id}"),
            )
        })
    };
    state
        .store
        .revoke_invite(who.org.id, id, audit)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no pending invitation {id} in \"{}\"", who.org.name)))
}

/// Only a signed-in person may create API tokens: a token that could mint tokens would
/// outlive its own revocation.
pub fn may_create_tokens(who: &Principal) -> Result<(), AppError> {
    if who.via == super::auth::Via::Ui {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "API tokens are created by a signed-in person on the API tokens page, not with another token".into(),
    ))
}

/// Creates an API token for the caller in this organization, with the caller's role;
/// returns its id and the token (shown once).
pub async fn create_token(state: &AppState, who: &Principal, name: &str) -> Result<(i64, String), AppError> {
    may_create_tokens(who)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX {
        return Err(AppError::validation(FieldError {
            field: "name".into(),
            message: format!("a token name must be 1 to {TOKEN_NAME_MAX} characters"),
        }));
    }
    super::auth::issue_api_token(state, who, name).await
}

/// Admins see every token of the organization; everyone else their own.
pub async fn tokens(state: &AppState, who: &Principal) -> Result<Vec<TokenInfo>, AppError> {
    let only = (who.role < Role::Admin).then_some(who.user_id);
    state.store.api_tokens(who.org.id, only).await
}

pub async fn revoke_token(state: &AppState, who: &Principal, id: i64) -> Result<(), AppError> {
    let only = (who.role < Role::Admin).then_some(who.user_id);
    let audit = super::audit::entry(who, "token.revoke", &format!("token:{id}"), &[], "");
    if state.store.delete_api_token(who.org.id, id, only, audit).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!(
            "no API token {id} in \"{}\"",
            who.org.name
        )))
    }
}

/// Deletes the organization and everything in it; owners only, and `confirm` must
/// repeat its name. The audit log keeps the deletion.
pub async fn delete_org(state: &AppState, who: &Principal, confirm: &str) -> Result<(), AppError> {
    who.require(Role::Owner, "deleting the organization")?;
    if confirm.trim() != who.org.name {
        return Err(AppError::validation(FieldError {
            field: "confirm".into(),
            message: format!(
                "type the organization's name \"{}\" to confirm deleting it",
                who.org.name
            ),
        }));
    }
    if state.store.is_personal(who.org.id).await? {
        return Err(AppError::Conflict(
            "a personal workspace cannot be deleted".into(),
        ));
    }
    let audit = super::audit::entry(who, "org.delete", &format!("org:{}", who.org.name), &[], "");
    state.store.delete_org(who.org.id, audit).await
}

pub fn invite_gone() -> AppError {
    AppError::NotFound("this invitation link was already used, has expired or does not exist".into())
}

/// The outcome of accepting an invitation.
pub struct Accepted {
    pub org: String,
    pub role: Role,
    /// A session for a new account, which is signed in right away.
    pub new_session: Option<String>,
}

/// Accepts the invitation behind `token`: for the signed-in user when that is the
/// invited email, else by creating the invited account with `password`. Single use.
/// The audit entry of `email` joining the invitation's organization.
fn joined(email: &str, note: &'static str) -> super::store::AuditWith<super::store::InviteRecord> {
    let email = email.to_owned();
    Box::new(move |invite: &super::store::InviteRecord| {
        let object = format!("member:{email}");
        let detail = format!("role {}{note}", invite.role);
        super::audit::entry_as(invite.org.id, &email, "ui", "member.join", &object, &[], &detail)
    })
}

pub async fn accept(
    state: &AppState,
    token: &str,
    signed_in: Option<&Principal>,
    password: &str,
) -> Result<Accepted, AppError> {
    let hash = token_hash(token);
    let now = super::now();
    let invite = state.store.invite(&hash, now).await?.ok_or_else(invite_gone)?;
    if let Some(who) = signed_in {
        if normalize_email(&who.email) != normalize_email(&invite.email) {
            return Err(AppError::Forbidden(format!(
                "this invitation is for {}, but you are signed in as {}; sign out and open the link again",
                invite.email, who.email
            )));
        }
        let accepted = state
            .store
            .accept_invite(&hash, who.user_id, now, joined(&who.email, ""))
            .await?;
        return Ok(Accepted {
            org: accepted.org.name,
            role: accepted.role,
            new_session: None,
        });
    }
    if state.store.user_by_email(&invite.email).await?.is_some() {
        return Err(AppError::Unauthorized);
    }
    if password.chars().count() < super::auth::MIN_PASSWORD_LEN {
        return Err(AppError::validation(FieldError {
            field: "password".into(),
            message: format!(
                "choose a password of at least {} characters",
                super::auth::MIN_PASSWORD_LEN
            ),
        }));
    }
    let password_hash = super::auth::new_password_hash(state, password).await?;
    let user_id = create_account(state, &invite.email, &password_hash, None).await?;
    let accepted = state
        .store
        .accept_invite(&hash, user_id, now, joined(&invite.email, ", new account"))
        .await?;
    let session = new_token("cks_");
    state
        .store
        .create_session(
            &token_hash(&session),
            user_id,
            accepted.org.id,
            now,
            now + state.config.session_ttl_secs,
            None,
        )
        .await?;
    Ok(Accepted {
        org: accepted.org.name,
        role: accepted.role,
        new_session: Some(session),
    })
}

pub fn org_exists(name: &str) -> AppError {
    AppError::Conflict(format!(
        "an organization named \"{name}\" already exists; choose another name"
    ))
}

/// The organization named `name`, created if missing (the admin command's first step).
pub async fn ensure_org(state: &AppState, name: &crate::validate::ResourceName) -> Result<Org, AppError> {
    state.store.ensure_org(name.as_str()).await
}

/// Who `email` acts as in organization `org` (on the admin command line), if they are a
/// member there.
pub async fn member_principal(
    state: &AppState,
    email: &str,
    org: &str,
) -> Result<Option<Principal>, AppError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        return Ok(None);
    };
    Ok(state
        .store
        .membership(user.id, org)
        .await?
        .map(|(org, role)| Principal {
            user_id: user.id,
            email: user.email,
            org,
            role,
            via: super::auth::Via::Cli,
        }))
}

/// A pending invitation by its link's token, and whether its email has an account.
pub async fn pending_invite(state: &AppState, token: &str) -> Result<(InviteRecord, bool), AppError> {
    let invite = state
        .store
        .invite(&token_hash(token), super::now())
        .await?
        .ok_or_else(invite_gone)?;
    let has_account = state.store.user_by_email(&invite.email).await?.is_some();
    Ok((invite, has_account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_workspace_names_are_valid_resource_names() {
        for (email, want) in [
            ("alice@example.com", "alice-personal"),
            ("Bob.Smith+x@example.com", "bob-smith-x-personal"),
            ("__@example.com", "user-personal"),
        ] {
            let name = personal_name(email);
            assert_eq!(name, want);
            assert!(
                crate::validate::ResourceName::parse_as("org", &name).is_ok(),
                "{name}"
            );
        }
    }
}
