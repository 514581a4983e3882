use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use secrecy::SecretString;

use super::context::{claim_password_work, optional_user_id, rate_limit, services, user_id};
use super::types::{AuthPayload, User};
use crate::domain::accounts;
use crate::rate_limit::Action;

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user, or null when the request carries no token.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = optional_user_id(ctx)? else {
            return Ok(None);
        };
        Ok(Some(User(
            accounts::get(services(ctx).db.reader(), id).await?,
        )))
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    #[graphql(secret)]
    pub password: String,
    pub display_name: String,
    /// `zh-CN` (default) or `en`.
    pub locale: Option<String>,
}

/// The answer to `register`, the same whether the address was free or
/// already had an account (whose owner is then emailed instead).
#[derive(SimpleObject)]
pub struct RegisterPayload {
    /// The address as it will be used (trimmed, lower-case). Sign in with it
    /// and the password to continue.
    pub email: String,
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account and emails a verification link; `login` next. The
    /// answer is the same for an address that already has an account, whose
    /// owner is emailed instead, so this never tells who has an account.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<RegisterPayload> {
        claim_password_work(ctx)?;
        rate_limit(ctx, Action::Register, Some(&input.email))?;
        let registration = accounts::register(
            services(ctx),
            accounts::RegisterRequest {
                email: input.email,
                password: SecretString::from(input.password),
                display_name: input.display_name,
                locale: input.locale,
            },
        )
        .await?;
        Ok(RegisterPayload {
            email: registration.email,
        })
    }

    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(secret)] password: String,
    ) -> Result<AuthPayload> {
        claim_password_work(ctx)?;
        rate_limit(ctx, Action::Login, Some(&email))?;
        let session = accounts::login(services(ctx), &email, &SecretString::from(password)).await?;
        Ok(AuthPayload(session))
    }

    /// Trades a refresh token for a new access and refresh token. Presenting
    /// a refresh token twice signs out every session descended from it.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<AuthPayload> {
        Ok(AuthPayload(
            accounts::refresh(services(ctx), &refresh_token).await?,
        ))
    }

    /// Signs out the session of this refresh token.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<bool> {
        accounts::logout(services(ctx), &refresh_token).await?;
        Ok(true)
    }

    /// Sets the language of my emails and pages: `zh-CN` or `en`.
    async fn set_my_locale(&self, ctx: &Context<'_>, locale: String) -> Result<User> {
        Ok(User(
            accounts::set_locale(services(ctx), user_id(ctx)?, &locale).await?,
        ))
    }

    /// Changes the password; every session, this one included, is signed
    /// out: sign in again with the new password.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] current_password: String,
        #[graphql(secret)] new_password: String,
    ) -> Result<bool> {
        let user_id = user_id(ctx)?;
        claim_password_work(ctx)?;
        rate_limit(ctx, Action::PasswordChange, Some(&user_id.to_string()))?;
        accounts::change_password(
            services(ctx),
            user_id,
            &SecretString::from(current_password),
            &SecretString::from(new_password),
        )
        .await?;
        Ok(true)
    }

    /// Emails a reset link if the address has an account; answers true
    /// either way.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        rate_limit(ctx, Action::PasswordReset, Some(&email))?;
        accounts::request_password_reset(services(ctx), &email).await?;
        Ok(true)
    }

    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] token: String,
        #[graphql(secret)] new_password: String,
    ) -> Result<bool> {
        // The token is single-use and its requests are limited per account,
        // so the address is what remains to limit.
        claim_password_work(ctx)?;
        rate_limit(ctx, Action::PasswordReset, None)?;
        accounts::reset_password(services(ctx), &token, &SecretString::from(new_password)).await?;
        Ok(true)
    }

    /// Confirms the email address with the token from the verification email.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] token: String,
    ) -> Result<User> {
        Ok(User(accounts::verify_email(services(ctx), &token).await?))
    }

    async fn resend_verification_email(&self, ctx: &Context<'_>) -> Result<bool> {
        accounts::resend_verification(services(ctx), user_id(ctx)?).await?;
        Ok(true)
    }
}
