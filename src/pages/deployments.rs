use super::{load_error, role_in, route_org};
use crate::api::{
    deployment_url, deployments_url, get_deployment, list_deployment_page, list_pull_secrets, list_set_page,
    new_deployment_url, set_url, take_revealed, DeleteDeployment, Redeploy, RotateRuntimeToken,
};
use crate::components::{ConfirmButton, DeployForm, Flash, Layout, ListSearch, PageLinks, ShownOnce};
use crate::model::{format_time, write_time, DeploymentSummary};
use crate::model::{Picker, Role, PICKER_SIZE};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The status badges of a deployment, as markup (the list writes its rows by hand).
fn push_status(out: &mut String, d: &DeploymentSummary) {
    out.push_str(if d.needs_redeploy {
        r#"<span class="badge warn">needs redeploy</span>"#
    } else {
        r#"<span class="badge ok">up to date</span>"#
    });
    // Someone who saw the runtime token lost access (or its set became protected).
    if d.rotate_token {
        out.push_str(
            r#" <span class="badge warn" title="Someone who saw this runtime token no longer should: rotate it">rotate token</span>"#,
        );
    }
}

fn status_badges(d: &DeploymentSummary) -> String {
    let mut out = String::new();
    push_status(&mut out, d);
    out
}

/// The list's rows, written into one buffer (as the set page's key rows are: a view per
/// row cost more than the rest of the page). Every text is escaped.
fn deployment_rows(org: &str, list: &[DeploymentSummary]) -> String {
    use super::push_escaped;
    let mut out = String::with_capacity(list.len() * 400);
    for d in list {
        out.push_str("<tr><td>");
        super::push_link(&mut out, &deployment_url(org, &d.spec.name), &d.spec.name);
        out.push_str("</td><td><code>");
        push_escaped(&mut out, &d.spec.image);
        out.push_str("</code></td><td>");
        push_escaped(&mut out, or_none(&d.spec.secret_set));
        out.push_str("</td><td>");
        push_escaped(&mut out, or_none(&d.spec.pull_secret));
        out.push_str("</td><td>");
        out.push_str(&d.revision.to_string());
        out.push_str("</td><td>");
        push_status(&mut out, d);
        out.push_str("</td><td>");
        write_time(&mut out, d.deployed_at);
        out.push_str("</td></tr>");
    }
    out
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

/// Names for the deploy form's pickers: the first [`PICKER_SIZE`] sets (and whether
/// there are more) and the pull secrets.
async fn picker_names(org: &str) -> (Picker, Vec<String>) {
    let page = list_set_page(org.to_owned(), None, None, Some(PICKER_SIZE))
        .await
        .unwrap_or_default();
    let sets = Picker {
        more: page.next.is_some(),
        names: page.sets.into_iter().map(|s| s.name).collect(),
    };
    let pulls = list_pull_secrets(org.to_owned())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .collect();
    (sets, pulls)
}

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let org = route_org();
    let place = super::ListPlace::read(deployments_url(&org));
    view! {
        <Title text="Deployments · Cloakroom" />
        <Layout>
            <h1>"Deployments"</h1>
            <p class="hint">
                "Each deploy records a revision: a snapshot of the secret set that the agents receive as environment variables until the next deploy."
            </p>
            <Flash />
            <ListSearch
                action=place.url.clone()
                name="Search deployments"
                label="Search deployments by name"
                all="Show all deployments"
                query=place.search.clone()
            />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let can_deploy = role_in(&org).await >= Role::Member;
                    let page = match list_deployment_page(org.clone(), place.q(), place.after.clone(), None).await {
                        Ok(page) => page,
                        Err(e) => return view! { <p class="problems">{e.to_string()}</p> }.into_any(),
                    };
                    let list = page.deployments;
                    let pages = view! {
                        <PageLinks name="Pages of deployments" back=place.first_page() on=place.next_page(page.next) />
                    };
                    let table = if list.is_empty() {
                        let text = place.empty_text("deployment", "deployments", "No deployments yet.");
                        view! { <p class="empty">{text}</p> {pages} }.into_any()
                    } else {
                        view! {
                            <div class="table-box" role="region" aria-label="Deployments" tabindex="0">
                                <table class="list" aria-label="Deployments">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Image"</th>
                                            <th scope="col">"Secret set"</th>
                                            <th scope="col">"Pull secret"</th>
                                            <th scope="col">"Revision"</th>
                                            <th scope="col">"Status"</th>
                                            <th scope="col">"Last deployed"</th>
                                        </tr>
                                    </thead>
                                    <tbody inner_html=deployment_rows(&org, &list)></tbody>
                                </table>
                            </div>
                            {pages}
                        }
                            .into_any()
                    };
                    view! {
                        {can_deploy
                            .then(|| {
                                view! {
                                    <p class="meta">
                                        <a href=new_deployment_url(&org)>"New deployment"</a>
                                    </p>
                                }
                            })}
                        {table}
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}

/// The form that creates a deployment, on a page of its own: its pickers read the
/// organization's set and pull-secret names, which the list of deployments has no use for.
#[component]
pub fn NewDeploymentPage() -> impl IntoView {
    let org = route_org();
    let list_url = deployments_url(&org);
    view! {
        <Title text="New deployment · Deployments · Cloakroom" />
        <Layout>
            <p class="crumbs">
                <a href=list_url.clone()>"Deployments"</a>
                " / "
            </p>
            <h1>"New deployment"</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let role = match crate::api::current_viewer(org.clone()).await {
                        Ok(viewer) => viewer.role,
                        Err(e) => return load_error(e, list_url.clone(), "Back to deployments"),
                    };
                    if role < Role::Member {
                        return view! {
                            <p class="empty">"Only members, admins and owners of this organization can deploy."</p>
                        }
                            .into_any();
                    }
                    let (sets, pulls) = picker_names(&org).await;
                    view! {
                        <section class="card">
                            <p class="hint">
                                "The first deploy records revision 1 and shows the runtime token the agents read their environment with."
                            </p>
                            <DeployForm org=org.clone() existing=None sets=sets pulls=pulls />
                        </section>
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
pub fn DeploymentPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    let org = route_org();
    let list_url = deployments_url(&org);
    let title = format!("{name} · Deployments · Cloakroom");
    let revealed = take_revealed("ckd_");
    view! {
        <Title text=title />
        <Layout>
            <p class="crumbs">
                <a href=list_url.clone()>"Deployments"</a>
                " / "
            </p>
            <h1>{name.clone()}</h1>
            <Flash />
            {revealed
                .map(|token| {
                    view! {
                        <ShownOnce heading="Runtime token" label="Runtime token" value=token>
                            <p>
                                "The agent reads its environment with this token from "
                                <code>"GET /api/v1/runtime/env"</code>
                                ". It is shown only now: copy it into the deployment's configuration."
                            </p>
                        </ShownOnce>
                    }
                })}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let can_deploy = role_in(&org).await >= Role::Member;
                    let d = match get_deployment(org.clone(), name.clone()).await {
                        Ok(d) => d,
                        Err(e) => return load_error(e, list_url.clone(), "Back to deployments"),
                    };
                    let (sets, pulls) = picker_names(&org).await;
                    let revisions = crate::api::list_deployment_revisions(org.clone(), name.clone())
                        .await
                        .unwrap_or_default();
                    let s = d.summary.clone();
                    let any_diff = !(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty());
                    view! {
                        <dl class="facts">
                            <dt>"Status"</dt>
                            <dd inner_html=status_badges(&s)></dd>
                            <dt>"Revision"</dt>
                            <dd>{s.revision}</dd>
                            <dt>"Image"</dt>
                            <dd>
                                <code>{s.spec.image.clone()}</code>
                            </dd>
                            <dt>"Secret set"</dt>
                            <dd>
                                {match s.spec.secret_set.clone() {
                                    Some(set) => view! { <a href=set_url(&org, &set)>{set.clone()}</a> }.into_any(),
                                    None => view! { "—" }.into_any(),
                                }}
                            </dd>
                            <dt>"Image pull secret"</dt>
                            <dd>{or_none(&s.spec.pull_secret).to_owned()}</dd>
                            <dt>"Region"</dt>
                            <dd>{s.spec.region.clone()}</dd>
                            <dt>"Scaling"</dt>
                            <dd>{format!("{} to {} agents", s.spec.min_agents, s.spec.max_agents)}</dd>
                            <dt>"Last deployed"</dt>
                            <dd>{format_time(s.deployed_at)}</dd>
                        </dl>
                        {can_deploy
                            .then(|| {
                                let fields = vec![("org".to_owned(), org.clone()), ("name".to_owned(), s.spec.name.clone())];
                                view! {
                                    <div class="row-actions start">
                                        <ConfirmButton
                                            action=Redeploy::PATH.to_owned()
                                            fields=fields.clone()
                                            text="Redeploy".to_owned()
                                            label=format!("Redeploy {}", s.spec.name)
                                        />
                                        <ConfirmButton
                                            action=RotateRuntimeToken::PATH.to_owned()
                                            fields=fields.clone()
                                            text="Rotate runtime token".to_owned()
                                            label=format!("Rotate runtime token of {}", s.spec.name)
                                        />
                                        <ConfirmButton
                                            action=DeleteDeployment::PATH.to_owned()
                                            fields=fields
                                            text="Delete".to_owned()
                                            label=format!("Delete deployment {}", s.spec.name)
                                        />
                                    </div>
                                }
                            })}
                        <section class="card">
                            <h2>{format!("Environment of revision {}", s.revision)}</h2>
                            {if d.env.is_empty() {
                                view! { <p class="empty">"No environment variables."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-box" role="region" aria-label="Environment" tabindex="0">
                                        <table class="list" aria-label="Environment">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Key"</th>
                                                    <th scope="col">"Fingerprint"</th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {d
                                                    .env
                                                    .iter()
                                                    .map(|k| {
                                                        view! {
                                                            <tr>
                                                                <td>
                                                                    <code>{k.key.clone()}</code>
                                                                </td>
                                                                <td>
                                                                    <code class="fingerprint">
                                                                        {k.fingerprint.clone().unwrap_or_else(|| super::secret_set::HIDDEN.into())}
                                                                    </code>
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
                            }}
                            {any_diff
                                .then(|| {
                                    view! {
                                        <section class="diff" aria-labelledby="diff-heading">
                                            <h3 id="diff-heading">"Changed in the secret set since this revision"</h3>
                                            <ul>
                                                {d
                                                    .added
                                                    .iter()
                                                    .map(|k| view! { <li class="added">{format!("added {k}")}</li> })
                                                    .collect_view()}
                                                {d
                                                    .removed
                                                    .iter()
                                                    .map(|k| view! { <li class="removed">{format!("removed {k}")}</li> })
                                                    .collect_view()}
                                                {d
                                                    .changed
                                                    .iter()
                                                    .map(|k| view! { <li class="changed">{format!("changed {k}")}</li> })
                                                    .collect_view()}
                                            </ul>
                                            <p class="hint">"Redeploy to give the agents these changes."</p>
                                        </section>
                                    }
                                })}
                        </section>
                        {revisions_section(&org, &s.spec.name, s.revision, revisions, can_deploy)}
                        {can_deploy
                            .then(|| {
                                view! {
                                    <section class="card">
                                        <h2>"Change and deploy"</h2>
                                        <DeployForm org=org.clone() existing=Some(s.spec.clone()) sets=sets pulls=pulls />
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

/// The kept revisions of a deployment, each with what it ran and a rollback to it.
fn revisions_section(
    org: &str,
    name: &str,
    current: i64,
    revisions: Vec<crate::model::DeploymentRevision>,
    can_deploy: bool,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="revisions-heading">
            <h2 id="revisions-heading">"Revisions"</h2>
            <p class="hint">
                "Rolling back makes a new revision that serves an earlier one's settings and exact environment again."
            </p>
            <div class="table-box" role="region" aria-label="Revisions" tabindex="0">
                <table class="list" aria-label="Revisions">
                    <thead>
                        <tr>
                            <th scope="col">"Revision"</th>
                            <th scope="col">"Deployed"</th>
                            <th scope="col">"By"</th>
                            <th scope="col">"Image"</th>
                            <th scope="col">"Secret set"</th>
                            <th scope="col">"Keys"</th>
                            <th scope="col">
                                <span class="visually-hidden">"Actions"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {revisions
                            .into_iter()
                            .map(|r| {
                                let set = match (&r.secret_set, r.set_version) {
                                    (Some(set), Some(v)) => {
                                        view! {
                                            <a href=crate::api::version_url(org, set, v)>{format!("{set} v{v}")}</a>
                                        }
                                            .into_any()
                                    }
                                    (Some(set), None) => view! { {set.clone()} }.into_any(),
                                    (None, _) => view! { "—" }.into_any(),
                                };
                                let label = match r.rollback_of {
                                    Some(of) => format!("{} (rollback to {of})", r.revision),
                                    None => r.revision.to_string(),
                                };
                                let action = if r.revision == current {
                                    view! { <span class="badge">"Current"</span> }.into_any()
                                } else if can_deploy {
                                    view! {
                                        <ConfirmButton
                                            action=crate::api::RollbackDeployment::PATH.to_owned()
                                            fields=vec![
                                                ("org".to_owned(), org.to_owned()),
                                                ("name".to_owned(), name.to_owned()),
                                                ("revision".to_owned(), r.revision.to_string()),
                                            ]
                                            text="Roll back".to_owned()
                                            label=format!("Roll back to revision {}", r.revision)
                                        />
                                    }
                                        .into_any()
                                } else {
                                    ().into_any()
                                };
                                view! {
                                    <tr>
                                        <td>{label}</td>
                                        <td>{format_time(r.at)}</td>
                                        <td>{r.actor.clone()}</td>
                                        <td>
                                            <code>{r.image.clone()}</code>
                                        </td>
                                        <td>{set}</td>
                                        <td>{r.keys}</td>
                                        <td>{action}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentSpec;

    fn deployment(name: &str, set: Option<&str>, stale: bool, rotate: bool) -> DeploymentSummary {
        DeploymentSummary {
            spec: DeploymentSpec {
                name: name.into(),
                image: "ghcr.io/acme/<agent>:1".into(),
                secret_set: set.map(Into::into),
                pull_secret: None,
                region: "us-west".into(),
                min_agents: 1,
                max_agents: 2,
            },
            revision: 3,
            needs_redeploy: stale,
            created_at: 0,
            deployed_at: 86_400 + 60,
            rotate_token: rotate,
        }
    }

    #[test]
    fn deployment_rows_are_escaped_and_carry_their_badges() {
        let rows = deployment_rows("acme", &[deployment("web", Some("app&co"), false, false)]);
        assert_eq!(
            rows,
            "<tr><td><a href=\"/orgs/acme/deployments/web\">web</a></td>\
             <td><code>ghcr.io/acme/&lt;agent&gt;:1</code></td><td>app&amp;co</td><td>—</td><td>3</td>\
             <td><span class=\"badge ok\">up to date</span></td><td>1970-01-02 00:01 UTC</td></tr>"
        );
        let stale = deployment_rows("acme", &[deployment("w", None, true, true)]);
        assert!(stale.contains(
            "<td><span class=\"badge warn\">needs redeploy</span> <span class=\"badge warn\" title="
        ));
        assert!(stale.contains(">rotate token</span></td>"));
        assert_eq!(
            deployment_rows("acme", &[deployment("a", None, false, false)])
                .matches("<tr>")
                .count(),
            1
        );
    }
}
