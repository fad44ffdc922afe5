//! Where an invitation link leads: join with the account you are signed in with, sign
//! in first, or choose a password for a new account.

use crate::api::{invite_details, take_flash, AcceptInvite};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    let flash = take_flash();
    view! {
        <Title text="Invitation · Cloakroom" />
        <main class="narrow">
            <h1>"Invitation"</h1>
            {flash
                .map(|f| {
                    if f.error {
                        view! {
                            <ul class="problems flash" aria-label="Problems" tabindex="-1" autofocus>
                                {f.lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                            </ul>
                        }
                            .into_any()
                    } else {
                        view! {
                            <p class="notice" role="status" tabindex="-1" autofocus>
                                {f.lines.join(" ")}
                            </p>
                        }
                            .into_any()
                    }
                })}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let invite = match invite_details(token.clone()).await {
                        Ok(i) => i,
                        Err(e) => {
                            super::set_status(e.status_code());
                            return view! { <p class="problems">{e.to_string()}</p> }.into_any();
                        }
                    };
                    let intro = format!(
                        "{} is invited to join \"{}\" as {}.",
                        invite.email,
                        invite.org,
                        invite.role,
                    );
                    let action = match invite.signed_in_as.clone() {
                        Some(me) if crate::validate::normalize_email(&me) == crate::validate::normalize_email(&invite.email) => {
                            view! {
                                <form method="post" action=AcceptInvite::PATH>
                                    <input type="hidden" name="token" value=token.clone() />
                                    <button type="submit">{format!("Join {}", invite.org)}</button>
                                </form>
                            }
                                .into_any()
                        }
                        Some(me) => {
                            view! {
                                <p class="problems">
                                    {format!(
                                        "You are signed in as {me}. Sign out, then open this link again to accept it as {}.",
                                        invite.email,
                                    )}
                                </p>
                            }
                                .into_any()
                        }
                        None if invite.has_account => {
                            let next = format!("/login?next=/invite/{token}");
                            view! {
                                <p>
                                    <a href=next>{format!("Sign in as {} to accept", invite.email)}</a>
                                </p>
                            }
                                .into_any()
                        }
                        None => {
                            view! {
                                <form method="post" action=AcceptInvite::PATH>
                                    <input type="hidden" name="token" value=token.clone() />
                                    <label for="new-password">"Choose a password (at least 10 characters)"</label>
                                    <input
                                        id="new-password"
                                        name="password"
                                        type="password"
                                        required
                                        minlength="10"
                                        autocomplete="new-password"
                                    />
                                    <button type="submit">"Create account and join"</button>
                                </form>
                            }
                                .into_any()
                        }
                    };
                    view! {
                        <div class="card">
                            <p>{intro}</p>
                            {action}
                        </div>
                    }
                        .into_any()
                })}
            </Suspense>
        </main>
    }
}
