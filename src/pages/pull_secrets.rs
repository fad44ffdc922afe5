use super::{role_in, route_org};
use crate::api::{deployment_url, list_pull_secrets, pull_secrets_url, with_param, DeletePullSecret};
use crate::components::{ConfirmButton, Flash, Layout, PullSecretForm};
use crate::model::format_time;
use crate::model::Role;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn PullSecretsPage() -> impl IntoView {
    let replace = use_query_map().with_untracked(|q| q.get("replace"));
    let org = route_org();
    let list_url = pull_secrets_url(&org);
    view! {
        <Title text="Image pull secrets · Cloakroom" />
        <Layout>
            <h1>"Image pull secrets"</h1>
            <p class="hint">
                "Credentials for private container registries. They are encrypted at rest and cannot be edited: "
                "to change one, use Replace, which deletes it and creates it again in one step. "
                "The Kubernetes Secret is available from the REST API ("
                <code>"GET /api/v1/orgs/ORG/image-pull-secrets/NAME/dockerconfigjson"</code>")."
            </p>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let admin = role_in(&org).await >= Role::Admin;
                    match list_pull_secrets(org.clone()).await {
                        Ok(list) => {
                            let current = replace
                                .as_ref()
                                .and_then(|r| list.iter().find(|p| &p.name == r).cloned());
                            let table = if list.is_empty() {
                                view! { <p class="empty">"No image pull secrets yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-box" role="region" aria-label="Image pull secrets" tabindex="0">
                                        <table class="list" aria-label="Image pull secrets">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Name"</th>
                                                    <th scope="col">"Registry"</th>
                                                    <th scope="col">"Username"</th>
                                                    <th scope="col">"Created"</th>
                                                <th scope="col">"Used by"</th>
                                                    <th scope="col">
                                                        <span class="visually-hidden">"Actions"</span>
                                                    </th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {list
                                                    .into_iter()
                                                    .map(|p| {
                                                        view! {
                                                            <tr>
                                                                <td>
                                                                    <code>{p.name.clone()}</code>
                                                                </td>
                                                                <td>{p.registry.clone()}</td>
                                                                <td>{p.username.clone()}</td>
                                                                <td>{format_time(p.created_at)}</td>
                                                            <td>
                                                                {p.used_by.clone()
                                                                    .into_iter()
                                                                    .map(|d| {
                                                                        view! {
                                                                            <a href=deployment_url(&org, &d)>{d.clone()}</a>
                                                                            " "
                                                                        }
                                                                    })
                                                                    .collect_view()}
                                                            </td>
                                                                <td>
                                                                    {admin
                                                                        .then(|| {
                                                                            view! {
                                                                                <div class="row-actions">
                                                                                    <a
                                                                                        href=format!(
                                                                                            "{}#new",
                                                                                            with_param(&list_url, "replace", &p.name),
                                                                                        )
                                                                                        aria-label=format!("Replace {}", p.name)
                                                                                    >
                                                                                        "Replace"
                                                                                    </a>
                                                                                    <ConfirmButton
                                                                                        action=DeletePullSecret::PATH.to_owned()
                                                                                        fields=vec![
                                                                                            ("org".to_owned(), org.clone()),
                                                                                            ("name".to_owned(), p.name.clone()),
                                                                                        ]
                                                                                        text="Delete".to_owned()
                                                                                        label=format!("Delete {}", p.name)
                                                                                    />
                                                                                </div>
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
                                }
                                    .into_any()
                            };
                            let form = match current.filter(|_| admin) {
                                _ if !admin => {
                                    view! {
                                        <p class="hint">
                                            "Only admins and owners can create, replace or delete image pull secrets."
                                        </p>
                                    }
                                        .into_any()
                                }
                                Some(p) => {
                                    view! {
                                        <section class="card" id="new">
                                            <h2>{format!("Replace \"{}\"", p.name)}</h2>
                                            <p class="hint">
                                                "Enter the new credentials. The old ones are deleted when you save; "
                                                <a href=list_url.clone()>"cancel"</a>
                                                " to keep them."
                                            </p>
                                            <PullSecretForm
                                                org=org.clone()
                                                replace=Some(p.name)
                                                registry=p.registry
                                                username=p.username
                                            />
                                        </section>
                                    }
                                        .into_any()
                                }
                                None => {
                                    view! {
                                        <section class="card" id="new">
                                            <h2>"New image pull secret"</h2>
                                            <PullSecretForm
                                                org=org.clone()
                                                replace=None
                                                registry=String::new()
                                                username=String::new()
                                            />
                                        </section>
                                    }
                                        .into_any()
                                }
                            };
                            view! {
                                {table}
                                {form}
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="problems">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
