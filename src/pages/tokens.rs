//! API tokens of the signed-in user in an organization (admins see everyone's).

use super::route_org;
use crate::api::{list_tokens, take_revealed, CreateToken, RevokeToken};
use crate::components::{ConfirmButton, Flash, Layout, ShownOnce};
use crate::model::format_time;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let org = route_org();
    let revealed = take_revealed("ckr_");
    view! {
        <Title text="API tokens · Cloakroom" />
        <Layout>
            <h1>"API tokens"</h1>
            <p class="hint">
                "A token works for this organization only, with your role here at most, for the REST API and the "
                <code>"cloakroom"</code>
                " command line. Only a hash is stored: a token is shown once, when it is created."
            </p>
            <Flash />
            {revealed
                .map(|token| {
                    view! {
                        <ShownOnce heading="New API token" label="API token" value=token>
                            <p>"Copy it now; it is shown only once."</p>
                        </ShownOnce>
                    }
                })}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let tokens = match list_tokens(org.clone()).await {
                        Ok(t) => t,
                        Err(e) => return super::load_error(e, "/secrets".into(), "Back to your workspace"),
                    };
                    let table = if tokens.is_empty() {
                        view! { <p class="empty">"No API tokens yet."</p> }.into_any()
                    } else {
                        view! {
                            <div class="table-box" role="region" aria-label="API tokens" tabindex="0">
                                <table class="list" aria-label="API tokens">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Owner"</th>
                                            <th scope="col">"Role"</th>
                                            <th scope="col">"Created"</th>
                                            <th scope="col">"Last used"</th>
                                            <th scope="col">
                                                <span class="visually-hidden">"Actions"</span>
                                            </th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {tokens
                                            .into_iter()
                                            .map(|t| {
                                                view! {
                                                    <tr>
                                                        <td>{t.name.clone()}</td>
                                                        <td>{t.owner.clone()}</td>
                                                        <td>{t.role.as_str()}</td>
                                                        <td>{format_time(t.created_at)}</td>
                                                        <td>{t.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                                        <td>
                                                            <ConfirmButton
                                                                action=RevokeToken::PATH.to_owned()
                                                                fields=vec![
                                                                    ("org".to_owned(), org.clone()),
                                                                    ("id".to_owned(), t.id.to_string()),
                                                                ]
                                                                text="Revoke".to_owned()
                                                                label=format!("Revoke {}", t.name)
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
                            .into_any()
                    };
                    view! {
                        {table}
                        <section class="card">
                            <h2>"New API token"</h2>
                            <form method="post" action=CreateToken::PATH>
                                <input type="hidden" name="org" value=org.clone() />
                                <label for="token-name">"Name"</label>
                                <input id="token-name" name="name" required maxlength="100" placeholder="e.g. laptop or ci" autocomplete="off" />
                                <button type="submit">"Create token"</button>
                            </form>
                        </section>
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}
