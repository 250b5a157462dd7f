//! The introspection call (RFC 7662 §2.1): one form POST of the token to
//! the authorization server's introspection endpoint (configured, or found
//! by discovery once), authenticated as the resource server's client, under
//! a timeout and a body cap.

use http::header::{ACCEPT, CONTENT_TYPE};
use url::{Url, form_urlencoded};

use crate::remote::client_auth::ClientAuth;
use crate::remote::discovery::discover_introspection;
use crate::remote::fetch::{FetchConfig, FetchError, exchange};

/// The media type of an RFC 9701 JWT response.
pub(crate) const JWT_RESPONSE: &str = "application/token-introspection+jwt";

/// Where the endpoint comes from.
#[derive(Debug)]
pub(crate) enum Endpoint {
    Fixed(Url),
    /// The issuer's `introspection_endpoint`, looked up on first use (a
    /// failed lookup is retried by the next call).
    Discovered {
        issuer: String,
        url: tokio::sync::OnceCell<Url>,
    },
}

/// The client that asks the authorization server about tokens.
#[derive(Debug)]
pub(crate) struct IntrospectionClient {
    pub(crate) endpoint: Endpoint,
    pub(crate) auth: ClientAuth,
    pub(crate) client: reqwest::Client,
    /// Timeout and URL rules (`allow_http`); the timeout covers the whole
    /// exchange, discovery included.
    pub(crate) fetch: FetchConfig,
    pub(crate) max_bytes: usize,
    /// Ask for an RFC 9701 JWT response (and accept only that).
    pub(crate) jwt: bool,
    /// The issuer, when known: the audience of a client assertion.
    pub(crate) issuer: Option<String>,
}

/// The authorization server's answer, not yet read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
    /// Served as `application/token-introspection+jwt`.
    pub(crate) jwt: bool,
}

impl IntrospectionClient {
    /// Asks about `token`. `Status(401)`/`Status(403)` mean our client
    /// credentials were refused (RFC 7662 §2.3).
    pub(crate) async fn introspect(&self, token: &str) -> Result<Answer, FetchError> {
        let call = async {
            let url = self.endpoint().await?;
            let accept = if self.jwt {
                JWT_RESPONSE
            } else {
                "application/json"
            };
            let request = self
                .client
                .post(url.clone())
                .header(ACCEPT, accept)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            let audience = self.issuer.as_deref().unwrap_or(url.as_str());
            // The form's serializer is not `Send`: finished before awaiting.
            let (request, body) = {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("token", token);
                form.append_pair("token_type_hint", "access_token");
                let request = self.auth.apply(request, &mut form, audience);
                (request, form.finish())
            };
            let (body, headers) =
                exchange(request.body(body), url, &self.fetch, self.max_bytes).await?;
            let jwt = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(JWT_RESPONSE));
            Ok(Answer { body, jwt })
        };
        tokio::time::timeout(self.fetch.timeout, call)
            .await
            .unwrap_or_else(|_| Err(FetchError::Network("timed out".into())))
    }

    /// The endpoint: the configured one, or the discovered one (looked up
    /// now if it has not been yet).
    pub(crate) async fn endpoint(&self) -> Result<&Url, FetchError> {
        match &self.endpoint {
            Endpoint::Fixed(url) => Ok(url),
            Endpoint::Discovered { issuer, url } => {
                url.get_or_try_init(|| discover_introspection(&self.client, issuer, &self.fetch))
                    .await
            }
        }
    }
}
