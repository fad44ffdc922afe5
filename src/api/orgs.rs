//! Server functions for members, invitations and API tokens.

use crate::error::AppError;
use crate::model::{InviteInfo, MemberInfo, Role, TokenInfo, WriteOutcome};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{finish, reveal_once};

pub fn members_url(org: &str) -> String {
    super::org_url(org, "/members")
}

pub fn tokens_url(org: &str) -> String {
    super::org_url(org, "/tokens")
}

#[server(endpoint = "list_members")]
pub async fn list_members(org: String) -> Result<Vec<MemberInfo>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::orgs::members(&state, &who).await
}

#[server(endpoint = "list_invites")]
pub async fn list_invites(org: String) -> Result<Vec<InviteInfo>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::orgs::invites(&state, &who).await
}

/// Invites `email` with `role`; the link is shown once on the members page.
#[server(endpoint = "invite_member")]
pub async fn invite_member(org: String, email: String, role: String) -> Result<WriteOutcome, AppError> {
    let back = members_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let role = Role::parse(&role)?;
        let token = crate::domain::orgs::invite(&state, &who, &email, role).await?;
        reveal_once(&back, &token);
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: format!("Invited {} as {role}: send them the link below.", email.trim()),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Withdraws a pending invitation: its link stops working at once.
#[server(endpoint = "revoke_invite")]
pub async fn revoke_invite(org: String, id: i64) -> Result<WriteOutcome, AppError> {
    let back = members_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let email = crate::domain::orgs::revoke_invite(&state, &who, id).await?;
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: format!("Withdrew the invitation of {email}: its link no longer works."),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

#[server(endpoint = "change_member_role")]
pub async fn change_member_role(org: String, email: String, role: String) -> Result<WriteOutcome, AppError> {
    let back = members_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let role = Role::parse(&role)?;
        crate::domain::orgs::change_role(&state, &who, &email, role).await?;
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: format!("{} is now {role}.", email.trim()),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(org: String, email: String) -> Result<WriteOutcome, AppError> {
    let back = members_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::orgs::remove_member(&state, &who, &email).await?;
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: format!("Removed {} from \"{org}\".", email.trim()),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

#[server(endpoint = "list_tokens")]
pub async fn list_tokens(org: String) -> Result<Vec<TokenInfo>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::orgs::tokens(&state, &who).await
}

/// Creates an API token; it is shown once on the tokens page.
#[server(endpoint = "create_token")]
pub async fn create_token(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let back = tokens_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let (_, token) = crate::domain::orgs::create_token(&state, &who, &name).await?;
        reveal_once(&back, &token);
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: format!(
                "Created API token \"{}\": copy it now, it is shown only once.",
                name.trim()
            ),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

#[server(endpoint = "revoke_token")]
pub async fn revoke_token(org: String, id: i64) -> Result<WriteOutcome, AppError> {
    let back = tokens_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::orgs::revoke_token(&state, &who, id).await?;
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: "Revoked the API token; it no longer works.".into(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// What an invitation link offers, for the page it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    pub org: String,
    pub email: String,
    pub role: Role,
    /// Someone already has an account with this email (they sign in to accept).
    pub has_account: bool,
    /// Who is signed in in this browser, if anyone.
    pub signed_in_as: Option<String>,
}

#[server(endpoint = "invite_details")]
pub async fn invite_details(token: String) -> Result<InviteView, AppError> {
    let state = crate::domain::state::app_state()?;
    let (invite, has_account) = crate::domain::orgs::pending_invite(&state, &token).await?;
    let signed_in_as = crate::domain::auth::signed_in().await.ok().map(|(_, p)| p.email);
    Ok(InviteView {
        org: invite.org.name,
        email: invite.email,
        role: invite.role,
        has_account,
        signed_in_as,
    })
}

/// Accepts an invitation: signed in as the invited email, or (for a new account) by
/// choosing a password, which also signs in.
#[server(endpoint = "accept_invite")]
pub async fn accept_invite(
    token: String,
    #[server(default)] password: crate::model::Concealed,
) -> Result<WriteOutcome, AppError> {
    let back = format!("/invite/{token}");
    let result = async {
        let state = crate::domain::state::app_state()?;
        let signed_in = crate::domain::auth::signed_in().await.ok().map(|(_, p)| p);
        let accepted = crate::domain::orgs::accept(&state, &token, signed_in.as_ref(), &password.0).await?;
        if let Some(session) = accepted.new_session {
            crate::domain::auth::give_session(&state, &session)?;
        }
        Ok(WriteOutcome {
            redirect: super::org_url(&accepted.org, "/secrets"),
            notice: format!(
                "Welcome to \"{}\": you joined as {}.",
                accepted.org, accepted.role
            ),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

pub fn audit_url(org: &str) -> String {
    super::org_url(org, "/audit")
}

/// Audit entries of the organization, newest first.
#[server(endpoint = "list_audit")]
pub async fn list_audit(
    org: String,
    #[server(default)] filter: crate::model::AuditFilter,
) -> Result<Vec<crate::model::AuditEntry>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::audit::list(&state, &who, filter).await
}

/// Deletes the organization (owners only); `confirm` repeats its name.
#[server(endpoint = "delete_org")]
pub async fn delete_org(org: String, #[server(default)] confirm: String) -> Result<WriteOutcome, AppError> {
    let back = members_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::orgs::delete_org(&state, &who, &confirm).await?;
        Ok(WriteOutcome {
            redirect: "/secrets".into(),
            notice: format!("Deleted the organization \"{org}\" and everything in it."),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

pub fn account_url(org: &str) -> String {
    super::org_url(org, "/account")
}

/// Changes the signed-in user's password; every other session of theirs ends.
#[server(endpoint = "change_password")]
pub async fn change_password(
    org: String,
    current: crate::model::Concealed,
    new: crate::model::Concealed,
) -> Result<WriteOutcome, AppError> {
    let back = account_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let session = crate::domain::auth::change_password(&state, &who, &current.0, &new.0).await?;
        crate::domain::auth::give_session(&state, &session)?;
        Ok(WriteOutcome {
            redirect: back.clone(),
            notice: "Changed your password; you were signed out everywhere else.".into(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Whether `code` opens the setup page: it is the instance's setup code and no account
/// exists yet. Refused (403) otherwise.
#[server(endpoint = "setup_open")]
pub async fn setup_open(code: String) -> Result<(), AppError> {
    let state = crate::domain::state::app_state()?;
    if crate::domain::setup::is_open(&state, &code).await? {
        Ok(())
    } else {
        crate::api::set_status(403);
        Err(AppError::Forbidden(
            "this setup link is not valid: use the one the server printed when it started, \
             or sign in if the instance is set up already"
                .into(),
        ))
    }
}

/// Claims a new instance through its one-time setup link: creates the first owner and
/// organization and signs them in. Works only while no account exists.
#[server(endpoint = "setup_instance")]
pub async fn setup_instance(
    // Concealed: the generated argument struct's Debug must never print the code.
    code: crate::model::Concealed,
    email: String,
    password: crate::model::Concealed,
    org: String,
) -> Result<WriteOutcome, AppError> {
    let back = super::with_param("/setup", "code", &code.0);
    let result = async {
        let state = crate::domain::state::app_state()?;
        let claimed = crate::domain::setup::claim(&state, &code.0, &email, &password.0, &org).await?;
        crate::domain::auth::give_session(&state, &claimed.session)?;
        Ok(WriteOutcome {
            redirect: super::org_url(&claimed.org.name, "/secrets"),
            notice: format!(
                "Cloakroom is set up: you own \"{}\". Invite your team from the Members page.",
                claimed.org.name
            ),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// The page that creates an organization, from organization `org`'s header.
pub fn new_org_url(org: &str) -> String {
    super::org_url(org, "/new-organization")
}

/// Creates organization `name` with the signed-in user as its owner.
#[server(endpoint = "create_org")]
pub async fn create_org(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let back = new_org_url(&org);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let created = crate::domain::orgs::create_org(&state, &who, &name).await?;
        Ok(WriteOutcome {
            redirect: super::org_url(&created.name, "/secrets"),
            notice: format!("Created organization \"{}\": you are its owner.", created.name),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}
