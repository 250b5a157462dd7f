//! RFC 9728 OAuth 2.0 Protected Resource Metadata: what a client needs to
//! find out, from the resource server itself, which authorization servers
//! issue tokens for it and which scopes it knows.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde_json::{Map, Value};
use url::Url;

use crate::jose::error::ConfigError;
use crate::remote::fetch::parse_url;

/// The well-known path segment of RFC 9728 §3.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata document (RFC 9728 §2), built once and
/// served by [`service`](Self::service) at its well-known path.
///
/// The `resource` is the identifier clients ask tokens for (RFC 8707
/// `resource` parameter) and that the authorization server puts in `aud`:
/// configure the same string as the `Validator`'s audience.
///
/// ```
/// use jwt_gate::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/orders")
///     .authorization_server("https://auth.example.com")
///     .scopes_supported(["orders.read", "orders.write"])
///     .resource_name("Orders API")
///     .resource_documentation("https://docs.example.com/orders")
///     .build()?;
/// assert_eq!(
///     metadata.well_known_url(),
///     "https://api.example.com/.well-known/oauth-protected-resource/orders"
/// );
/// assert_eq!(metadata.to_json()["bearer_methods_supported"], serde_json::json!(["header"]));
///
/// // With axum: `Router::new().route_service(&metadata.well_known_path(), metadata.service())`,
/// // and `JwtAuthLayer::new(v).resource_metadata(metadata.well_known_url())` on the API.
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedResourceMetadata {
    resource: Url,
    document: Arc<str>,
}

/// Builds a [`ProtectedResourceMetadata`]; every field of RFC 9728 §2 has a
/// setter but `signed_metadata` (a JWT the application signs), which
/// [`field`](Self::field) takes like any extension member. Arrays left
/// empty are omitted, as §2 requires.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder {
    resource: String,
    allow_http: bool,
    members: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// Starts the document of `resource`: an `https` URL without a query or
    /// fragment (RFC 9728 §1.2).
    pub fn builder(resource: impl Into<String>) -> ProtectedResourceMetadataBuilder {
        let mut members = Map::new();
        // The layer reads the Authorization header only (RFC 6750 §2.1).
        members.insert("bearer_methods_supported".into(), Value::from(["header"]));
        ProtectedResourceMetadataBuilder {
            resource: resource.into(),
            allow_http: false,
            members,
        }
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        self.resource.as_str()
    }

    /// The path the document is served at: `/.well-known/oauth-protected-resource`
    /// followed by the resource's path, if it has one (RFC 9728 §3.1).
    pub fn well_known_path(&self) -> String {
        match self.resource.path() {
            "/" => WELL_KNOWN.to_owned(),
            path => format!("{WELL_KNOWN}{path}"),
        }
    }

    /// The full URL of the document, for the layer's
    /// [`resource_metadata`](crate::JwtAuthLayer::resource_metadata).
    pub fn well_known_url(&self) -> String {
        let mut url = self.resource.clone();
        url.set_path(&self.well_known_path());
        url.to_string()
    }

    /// The document as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.document).unwrap_or_default()
    }

    /// A tower service answering `GET`/`HEAD` of [`well_known_path`](Self::well_known_path)
    /// with the document (200, `application/json`, cacheable for an hour,
    /// readable cross-origin), other methods there with 405, and other
    /// paths with 404.
    pub fn service(&self) -> ProtectedResourceMetadataService {
        ProtectedResourceMetadataService {
            path: self.well_known_path().into(),
            document: Arc::clone(&self.document),
        }
    }
}

impl ProtectedResourceMetadataBuilder {
    /// Adds an authorization server's issuer identifier
    /// (`authorization_servers`), for clients to discover with RFC 8414.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.push("authorization_servers", issuer.into());
        self
    }

    /// `authorization_servers`, replacing those set so far.
    pub fn authorization_servers<I, S>(self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.strings("authorization_servers", issuers)
    }

    /// `jwks_uri`: the resource's own public keys (for signed responses).
    pub fn jwks_uri(self, url: impl Into<String>) -> Self {
        self.field("jwks_uri", url.into())
    }

    /// `scopes_supported`.
    pub fn scopes_supported<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.strings("scopes_supported", scopes)
    }

    /// `bearer_methods_supported`. Defaults to `["header"]`, the only one
    /// [`JwtAuthLayer`](crate::JwtAuthLayer) accepts.
    pub fn bearer_methods_supported<I, S>(self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.strings("bearer_methods_supported", methods)
    }

    /// `resource_signing_alg_values_supported`.
    pub fn resource_signing_alg_values_supported<I, S>(self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.strings("resource_signing_alg_values_supported", algs)
    }

    /// `resource_name`: a human-readable name.
    pub fn resource_name(self, name: impl Into<String>) -> Self {
        self.field("resource_name", name.into())
    }

    /// `resource_documentation`: a page for developers.
    pub fn resource_documentation(self, url: impl Into<String>) -> Self {
        self.field("resource_documentation", url.into())
    }

    /// `resource_policy_uri`.
    pub fn resource_policy_uri(self, url: impl Into<String>) -> Self {
        self.field("resource_policy_uri", url.into())
    }

    /// `resource_tos_uri`.
    pub fn resource_tos_uri(self, url: impl Into<String>) -> Self {
        self.field("resource_tos_uri", url.into())
    }

    /// `tls_client_certificate_bound_access_tokens` (RFC 8705).
    pub fn tls_client_certificate_bound_access_tokens(self, bound: bool) -> Self {
        self.field("tls_client_certificate_bound_access_tokens", bound)
    }

    /// `authorization_details_types_supported` (RFC 9396).
    pub fn authorization_details_types_supported<I, S>(self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.strings("authorization_details_types_supported", types)
    }

    /// `dpop_signing_alg_values_supported` (RFC 9449).
    pub fn dpop_signing_alg_values_supported<I, S>(self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.strings("dpop_signing_alg_values_supported", algs)
    }

    /// `dpop_bound_access_tokens_required` (RFC 9449).
    pub fn dpop_bound_access_tokens_required(self, required: bool) -> Self {
        self.field("dpop_bound_access_tokens_required", required)
    }

    /// Any other member (an extension registered or private), replacing
    /// one of the same name. `resource` cannot be set this way.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if name != "resource" {
            self.members.insert(name, value.into());
        }
        self
    }

    /// Allows an `http://` resource on a loopback host, for development
    /// and tests (RFC 9728 requires `https`).
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the resource identifier and freezes the document.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `resource`) when `resource` is not an
    /// absolute `https` URL (or loopback `http` with
    /// [`allow_http`](Self::allow_http)), or has a query, a fragment or
    /// user information (`https://user:password@…`: a resource identifier
    /// names a server, never credentials, and the document is public).
    pub fn build(self) -> Result<ProtectedResourceMetadata, ConfigError> {
        let invalid =
            |why: String| ConfigError::new("resource", format!("{:?}: {why}", self.resource));
        let resource = parse_url(&self.resource, self.allow_http).map_err(invalid)?;
        if resource.query().is_some() || resource.fragment().is_some() {
            return Err(invalid(
                "a resource identifier has no query or fragment".into(),
            ));
        }
        if !resource.username().is_empty() || resource.password().is_some() {
            return Err(invalid(
                "a resource identifier has no user information".into(),
            ));
        }
        // Exactly the string given: clients compare it byte for byte
        // (RFC 9728 §3.3), and `Url` would add a `/` to a bare origin.
        let mut document = Map::new();
        document.insert("resource".into(), Value::from(self.resource.clone()));
        for (name, value) in self.members {
            let empty = value.as_array().is_some_and(Vec::is_empty);
            if !empty {
                document.insert(name, value);
            }
        }
        Ok(ProtectedResourceMetadata {
            resource,
            document: Value::Object(document).to_string().into(),
        })
    }

    fn push(&mut self, name: &str, value: String) {
        let entry = self
            .members
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(value.into());
        }
    }

    fn strings<I, S>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        // Each value once, in the order first given.
        let mut list: Vec<Value> = Vec::new();
        for value in values {
            let value = Value::from(value.into());
            if !list.contains(&value) {
                list.push(value);
            }
        }
        self.members.insert(name.into(), Value::Array(list));
        self
    }
}

/// The tower service of [`ProtectedResourceMetadata::service`].
#[derive(Clone)]
pub struct ProtectedResourceMetadataService {
    path: Arc<str>,
    document: Arc<str>,
}

impl fmt::Debug for ProtectedResourceMetadataService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectedResourceMetadataService")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<Request<B>> for ProtectedResourceMetadataService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        std::future::ready(Ok(self.answer(req.method(), req.uri().path())))
    }
}

impl ProtectedResourceMetadataService {
    fn answer(&self, method: &Method, path: &str) -> Response<String> {
        let status = |status: StatusCode| {
            let mut res = Response::new(String::new());
            *res.status_mut() = status;
            res
        };
        if path != &*self.path {
            return status(StatusCode::NOT_FOUND);
        }
        let cors = HeaderValue::from_static("*");
        match *method {
            Method::GET | Method::HEAD => {
                let body = if method == Method::GET {
                    self.document.to_string()
                } else {
                    String::new()
                };
                let mut res = Response::new(body);
                let headers = res.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(
                    CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                );
                headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, cors);
                res
            }
            Method::OPTIONS => {
                let mut res = status(StatusCode::NO_CONTENT);
                let headers = res.headers_mut();
                headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, cors);
                headers.insert(
                    http::header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                res
            }
            _ => {
                let mut res = status(StatusCode::METHOD_NOT_ALLOWED);
                res.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                res
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_paths_follow_rfc_9728_section_3_1() {
        let path = |resource: &str| {
            ProtectedResourceMetadata::builder(resource)
                .build()
                .unwrap()
                .well_known_path()
        };
        assert_eq!(path("https://api.example.com"), WELL_KNOWN);
        assert_eq!(path("https://api.example.com/"), WELL_KNOWN);
        assert_eq!(
            path("https://api.example.com/orders"),
            "/.well-known/oauth-protected-resource/orders"
        );
        assert_eq!(
            path("https://api.example.com/v1/orders/"),
            "/.well-known/oauth-protected-resource/v1/orders/"
        );
    }

    #[test]
    fn resources_must_be_https_urls_without_query_or_fragment() {
        for bad in [
            "api.example.com",
            "http://api.example.com/orders",
            "https://api.example.com/orders?x=1",
            "https://api.example.com/orders#f",
            "urn:example:orders",
            "https://user:secret@api.example.com/orders",
            "https://user@api.example.com/orders",
            "https://:secret@api.example.com/orders",
        ] {
            assert!(
                ProtectedResourceMetadata::builder(bad).build().is_err(),
                "{bad}"
            );
        }
        assert!(
            ProtectedResourceMetadata::builder("http://127.0.0.1:8080/orders")
                .allow_http()
                .build()
                .is_ok()
        );
    }

    #[test]
    fn the_resource_is_kept_byte_for_byte_and_empty_arrays_are_omitted() {
        let md = ProtectedResourceMetadata::builder("https://api.example.com")
            .scopes_supported(Vec::<String>::new())
            .field("resource", "https://evil.example")
            .build()
            .unwrap();
        assert_eq!(
            md.to_json(),
            serde_json::json!({
                "resource": "https://api.example.com",
                "bearer_methods_supported": ["header"],
            })
        );
        assert_eq!(
            md.well_known_url(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn the_service_answers_its_path_only() {
        let md = ProtectedResourceMetadata::builder("https://api.example.com/orders")
            .build()
            .unwrap();
        let svc = md.service();
        let path = md.well_known_path();
        let ok = svc.answer(&Method::GET, &path);
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            serde_json::from_str::<Value>(ok.body()).unwrap(),
            md.to_json()
        );
        assert_eq!(svc.answer(&Method::HEAD, &path).body(), "");
        assert_eq!(svc.answer(&Method::POST, &path).status(), 405);
        assert_eq!(svc.answer(&Method::OPTIONS, &path).status(), 204);
        assert_eq!(svc.answer(&Method::GET, WELL_KNOWN).status(), 404);
    }
}
