//! Members of an organization: list, invite, change roles, remove.

use super::{role_in, route_org};
use crate::api::{
    list_invites, list_members, take_revealed, ChangeMemberRole, DeleteOrg, InviteMember, RemoveMember,
    RevokeInvite,
};
use crate::components::{ConfirmButton, Flash, Layout, ShownOnce};
use crate::model::{format_time, Role};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

/// A `<select name="role">` with `selected` chosen; owners are offered only to owners.
fn role_select(selected: Role, can_grant_owner: bool, label: String) -> impl IntoView {
    view! {
        <select name="role" aria-label=label>
            {Role::ALL
                .into_iter()
                .filter(move |r| *r != Role::Owner || can_grant_owner)
                .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.as_str()}</option> })
                .collect_view()}
        </select>
    }
}

/// The full invitation link, for the admin to send. Server-side only.
fn invite_link(token: &str) -> String {
    #[cfg(feature = "ssr")]
    {
        if let Ok(state) = crate::domain::state::app_state() {
            let link = crate::domain::orgs::invite_link(&state, token);
            if link.starts_with("http") {
                return link;
            }
            if let Some(parts) = use_context::<axum::http::request::Parts>() {
                let host = parts
                    .headers
                    .get(axum::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("");
                let scheme = if crate::domain::auth::is_secure(&state, &parts.headers) {
                    "https"
                } else {
                    "http"
                };
                return format!("{scheme}://{host}{link}");
            }
            return link;
        }
    }
    format!("/invite/{token}")
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let org = route_org();
    let revealed = take_revealed("cki_").map(|t| invite_link(&t));
    view! {
        <Title text="Members · Cloakroom" />
        <Layout>
            <h1>"Members"</h1>
            <p class="hint">
                "Viewers see names, keys and fingerprints; members change secret sets and deployments; "
                "admins also manage members, image pull secrets and deleting sets; owners can do everything."
            </p>
            <Flash />
            {revealed
                .map(|link| {
                    view! {
                        <ShownOnce heading="Invitation link" label="Invitation link" value=link>
                            <p>
                                "Send this link to the person you invited. It works once, for 7 days, and is shown only now."
                            </p>
                        </ShownOnce>
                    }
                })}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let role = role_in(&org).await;
                    let admin = role >= Role::Admin;
                    let owner = role >= Role::Owner;
                    let members = match list_members(org.clone()).await {
                        Ok(m) => m,
                        Err(e) => return super::load_error(e, "/secrets".into(), "Back to your workspace"),
                    };
                    let invites = if admin { list_invites(org.clone()).await.unwrap_or_default() } else { Vec::new() };
                    view! {
                        <div class="table-box" role="region" aria-label="Members" tabindex="0">
                            <table class="list" aria-label="Members">
                                <thead>
                                    <tr>
                                        <th scope="col">"Email"</th>
                                        <th scope="col">"Role"</th>
                                        <th scope="col">"Joined"</th>
                                        <th scope="col">
                                            <span class="visually-hidden">"Actions"</span>
                                        </th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {members
                                        .into_iter()
                                        .map(|m| {
                                            let manageable = admin && (owner || m.role != Role::Owner);
                                            view! {
                                                <tr>
                                                    <td>{m.email.clone()}</td>
                                                    <td>
                                                        {if manageable {
                                                            view! {
                                                                <form method="post" action=ChangeMemberRole::PATH class="inline">
                                                                    <input type="hidden" name="org" value=org.clone() />
                                                                    <input type="hidden" name="email" value=m.email.clone() />
                                                                    {role_select(m.role, owner, format!("Role of {}", m.email))}
                                                                    <button type="submit" aria-label=format!("Save role of {}", m.email)>
                                                                        "Save"
                                                                    </button>
                                                                </form>
                                                            }
                                                                .into_any()
                                                        } else {
                                                            view! { <span class="badge">{m.role.as_str()}</span> }.into_any()
                                                        }}
                                                    </td>
                                                    <td>{format_time(m.joined_at)}</td>
                                                    <td>
                                                        {manageable
                                                            .then(|| {
                                                                view! {
                                                                    <ConfirmButton
                                                                        action=RemoveMember::PATH.to_owned()
                                                                        fields=vec![
                                                                            ("org".to_owned(), org.clone()),
                                                                            ("email".to_owned(), m.email.clone()),
                                                                        ]
                                                                        text="Remove".to_owned()
                                                                        label=format!("Remove {}", m.email)
                                                                    />
                                                                }
                                                            })}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                        {(!invites.is_empty())
                            .then(|| {
                                view! {
                                    <h2>"Pending invitations"</h2>
                                    <div class="table-box" role="region" aria-label="Pending invitations" tabindex="0">
                                        <table class="list" aria-label="Pending invitations">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Email"</th>
                                                    <th scope="col">"Role"</th>
                                                    <th scope="col">"Expires"</th>
                                                    <th scope="col">
                                                        <span class="visually-hidden">"Actions"</span>
                                                    </th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {invites
                                                    .into_iter()
                                                    .map(|i| {
                                                        view! {
                                                            <tr>
                                                                <td>{i.email.clone()}</td>
                                                                <td>{i.role.as_str()}</td>
                                                                <td>{format_time(i.expires_at)}</td>
                                                                <td>
                                                                    <ConfirmButton
                                                                        action=RevokeInvite::PATH.to_owned()
                                                                        fields=vec![
                                                                            ("org".to_owned(), org.clone()),
                                                                            ("id".to_owned(), i.id.to_string()),
                                                                        ]
                                                                        text="Withdraw".to_owned()
                                                                        label=format!("Withdraw the invitation of {}", i.email)
                                                                    />
                                                                </td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                }
                            })}
                        {admin
                            .then(|| {
                                view! {
                                    <section class="card">
                                        <h2>"Invite someone"</h2>
                                        <form method="post" action=InviteMember::PATH>
                                            <input type="hidden" name="org" value=org.clone() />
                                            <label for="invite-email">"Email"</label>
                                            <input id="invite-email" name="email" type="email" required autocomplete="off" />
                                            <label for="invite-role">"Role"</label>
                                            <select id="invite-role" name="role">
                                                {Role::ALL
                                                    .into_iter()
                                                    .filter(|r| *r != Role::Owner || owner)
                                                    .map(|r| {
                                                        view! {
                                                            <option value=r.as_str() selected=r == Role::Member>{r.as_str()}</option>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </select>
                                            <button type="submit">"Create invitation"</button>
                                        </form>
                                    </section>
                                }
                            })}
                        {owner
                            .then(|| {
                                view! {
                                    <section class="card danger-zone">
                                        <h2>"Delete this organization"</h2>
                                        <p>
                                            "Removes every secret set, image pull secret, deployment, member and API token of \""
                                            {org.clone()}
                                            "\". The audit log keeps the deletion. This cannot be undone."
                                        </p>
                                        <form method="post" action=DeleteOrg::PATH>
                                            <input type="hidden" name="org" value=org.clone() />
                                            <label for="confirm-org">{format!("Type \"{org}\" to confirm")}</label>
                                            <input id="confirm-org" name="confirm" autocomplete="off" spellcheck="false" />
                                            <button type="submit" class="danger">"Delete organization"</button>
                                        </form>
                                    </section>
                                }
                            })}
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}
