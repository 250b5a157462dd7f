//! A request's credentials judged as a whole: the token (Bearer or DPoP),
//! its client certificate when it is bound to one, and for DPoP its proof
//! against this request's method and public URL, the server nonce and the
//! replay store. The layer and [`Validator::validate_request`] (for callers
//! outside tower) both come here.

use http::header::{FORWARDED, HOST};
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Response, Uri};
use serde::de::DeserializeOwned;

use crate::http::client_cert;
use crate::http::extract::{Credential, DPOP, request_credential};
use crate::http::layer::Authenticated;
use crate::http::rejection::{self, Challenge, DpopChallenge};
use crate::jose::claims::Claims;
use crate::jose::dpop::{ProofRequest, check_bound};
use crate::jose::error::Error;
use crate::jose::time::UnixTime;
use crate::telemetry;
use crate::validator::Validator;
use crate::validator::dpop::{DpopMode, DpopSettings};

/// How the caller authenticated: [`AuthScheme::of`] the request extensions
/// the layer filled (an axum extractor too, and
/// `jwt_gate::tonic::auth_scheme` for tonic), and
/// [`Verified::scheme`] from [`Validator::validate_request`].
///
/// ```
/// use jwt_gate::AuthScheme;
///
/// fn handler(req: &http::Request<()>) -> &'static str {
///     match AuthScheme::of(req.extensions()) {
///         Some(AuthScheme::Dpop) => "proof of possession",
///         Some(_) => "bearer token",
///         None => "anonymous, or no layer in front",
///     }
/// }
/// # assert_eq!(handler(&http::Request::new(())), "anonymous, or no layer in front");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: Bearer`: possession of the token (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` with a proof signed by the key the token is
    /// bound to (RFC 9449); the key's thumbprint is
    /// [`Claims::dpop_thumbprint`].
    Dpop,
    /// An API key (`X-API-KEY`, or the header of
    /// [`ApiKeys::header`](crate::ApiKeys::header)).
    ApiKey,
}

impl AuthScheme {
    /// How the caller of a request the layer let in authenticated, from the
    /// request's extensions; `None` without the layer, or for a request an
    /// [`optional`](crate::JwtAuthLayer::optional) layer let through
    /// without a token.
    pub fn of(extensions: &http::Extensions) -> Option<Self> {
        extensions.get::<Authenticated>()?.scheme
    }
}

/// A request whose credentials verified: its claims, how the caller
/// authenticated, and the `DPoP-Nonce` to send back, if any.
#[derive(Debug, Clone)]
pub struct Verified<C = ()> {
    claims: Claims<C>,
    scheme: AuthScheme,
    dpop_nonce: Option<HeaderValue>,
}

impl<C> Verified<C> {
    /// The token's claims.
    pub fn claims(&self) -> &Claims<C> {
        &self.claims
    }

    /// The token's claims, owned.
    pub fn into_claims(self) -> Claims<C> {
        self.claims
    }

    /// How the caller authenticated.
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    /// A fresh server nonce for the response's `DPoP-Nonce` header (RFC
    /// 9449 §8.2): set when the proof's nonce is about to go stale.
    pub fn dpop_nonce(&self) -> Option<&HeaderValue> {
        self.dpop_nonce.as_ref()
    }

    pub(crate) fn map_claims(
        self,
        f: impl FnOnce(Claims<C>) -> Result<Claims<C>, Error>,
    ) -> Result<Self, Error> {
        Ok(Self {
            claims: f(self.claims)?,
            ..self
        })
    }

    pub(crate) fn into_parts(self) -> (Claims<C>, AuthScheme, Option<HeaderValue>) {
        (self.claims, self.scheme, self.dpop_nonce)
    }
}

/// What of a request the checks read: its head, and its extensions when
/// there are any (a certificate from the TLS stack is there).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: Option<&'a Extensions>,
}

impl<'a> Head<'a> {
    pub(crate) fn of<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: Some(request.extensions()),
        }
    }

    pub(crate) fn of_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: Some(&parts.extensions),
        }
    }
}

/// Where a request stands after what could be decided without waiting.
pub(crate) enum Pending<C> {
    Done(Result<Verified<C>, Error>),
    /// No usable keys yet, or an unknown `kid` that may be refetched.
    Fetch,
    /// Everything checked but the proof's first use, which the replay
    /// store answers asynchronously.
    Replay(Verified<C>, [u8; 32]),
}

impl Validator {
    /// Authenticates a request from its method, URL and headers, for
    /// callers outside tower (a hyper service, another framework): the
    /// credentials the validator accepts (`Bearer`, and `DPoP` with its
    /// proof when [DPoP](crate::ValidatorBuilder::dpop) is on), validated
    /// like [`validate`](Self::validate).
    ///
    /// `uri` is the request's as the server saw it; for DPoP the URL a
    /// proof must name is built from it, the `Host` header and the
    /// validator's [public origin](crate::dpop::Dpop::public_origin).
    /// Answer a failure with [`reject`](Self::reject), and send
    /// [`Verified::dpop_nonce`] back as `DPoP-Nonce` on success.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate), plus the request's:
    /// [`Error::MissingToken`], [`Error::MalformedHeader`], the DPoP
    /// errors ([`Error::InvalidDpopProof`], [`Error::UseDpopNonce`],
    /// [`Error::NotDpopBound`], [`Error::DpopRequired`],
    /// [`Error::UnverifiedBinding`], [`Error::ReplayCheckUnavailable`]) and
    /// the certificate-binding ones ([`Error::CertificateMismatch`],
    /// [`Error::NotCertificateBound`]).
    ///
    /// Without the request's extensions, a certificate from the TLS stack
    /// is not seen here (a trusted proxy's header is): use
    /// [`validate_http_request`](Self::validate_http_request) then.
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use jwt_gate::{Claims, KeySet, Validator};
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// # let keys = KeySet::new().with_secret(None, &[7; 32])?;
    /// let validator = Validator::builder().keys(keys).audience("api://orders").build()?;
    /// let uri: Uri = "/orders".parse()?;
    /// let err = validator
    ///     .validate_request::<()>(&Method::GET, &uri, &HeaderMap::new())
    ///     .await
    ///     .unwrap_err();
    /// let response: http::Response<()> = validator.reject(&err, &HeaderMap::new());
    /// assert_eq!(response.status(), 401);
    /// # Ok(()) }
    /// ```
    pub async fn validate_request<C>(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Verified<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let head = Head {
            method,
            uri,
            headers,
            extensions: None,
        };
        self.validate_head(head).await
    }

    /// [`validate_request`](Self::validate_request) for a whole
    /// `http::Request` (the body is not read): its extensions too, where
    /// the server's TLS accept loop put the
    /// [`ClientCertificate`](crate::mtls::ClientCertificate) a
    /// certificate-bound token is checked against.
    ///
    /// # Errors
    ///
    /// As [`validate_request`](Self::validate_request).
    ///
    /// ```
    /// use jwt_gate::mtls::{CertificateBinding, ClientCertificate};
    /// use jwt_gate::{KeySet, Validator};
    ///
    /// # async fn f(der: &[u8], token: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// # let keys = KeySet::new().with_secret(None, &[7; 32])?;
    /// let validator = Validator::builder()
    ///     .keys(keys)
    ///     .audience("api://orders")
    ///     .certificate_binding(CertificateBinding::allowed())
    ///     .build()?;
    /// let mut request = http::Request::get("/orders")
    ///     .header("authorization", format!("Bearer {token}"))
    ///     .body(())?;
    /// // What the TLS accept loop does for each request of a connection.
    /// request.extensions_mut().insert(ClientCertificate::from_der(der));
    /// let verified = validator.validate_http_request::<(), _>(&request).await?;
    /// # Ok(()) }
    /// ```
    pub fn validate_http_request<'a, C, B>(
        &'a self,
        request: &'a Request<B>,
    ) -> impl Future<Output = Result<Verified<C>, Error>> + Send + 'a
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        // The head is taken before awaiting: the future holds no reference
        // to the body (a body that is not `Sync` keeps it `Send`).
        self.validate_head(Head::of(request))
    }

    async fn validate_head<C>(&self, head: Head<'_>) -> Result<Verified<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let result = async {
            let credential = self.credential(head)?.ok_or(Error::MissingToken)?;
            let pending = match self.authenticate_now(head, credential) {
                Pending::Fetch => self.authenticate_fetching(head).await?,
                pending => pending,
            };
            self.finish(pending).await
        }
        .await;
        telemetry::judged(&result);
        result
    }

    /// The response refusing a request with `error`, as the layer builds
    /// it: status, `WWW-Authenticate` (`Bearer`, and `DPoP` with `algs`
    /// when DPoP is on; the error on the challenge of the scheme the
    /// request used), `DPoP-Nonce` when nonces are on, `Retry-After` on
    /// 503, and gRPC's trailers-only form for a gRPC request.
    pub fn reject<B: Default>(&self, error: &Error, request_headers: &HeaderMap) -> Response<B> {
        let challenge = Challenge {
            dpop: self.dpop_challenge(),
            api_key: self.api_keys().map(|k| std::sync::Arc::clone(&k.display)),
            ..Challenge::default()
        };
        rejection::response(error, &challenge, Some(request_headers), B::default)
    }

    /// The `DPoP` challenge this validator's rejections carry.
    pub(crate) fn dpop_challenge(&self) -> Option<std::sync::Arc<DpopChallenge>> {
        let settings = self.dpop()?;
        let algs: Vec<&str> = settings
            .rules
            .allowed_algorithms()
            .map(|a| a.as_str())
            .collect();
        Some(std::sync::Arc::new(DpopChallenge {
            algs: algs.join(" ").into(),
            bearer: settings.mode == DpopMode::Allowed,
            nonces: settings.nonces.clone(),
        }))
    }

    /// The request's credential: an API key when keys are accepted and one
    /// is there, else its token (see `extract`).
    pub(crate) fn credential<'h>(&self, head: Head<'h>) -> Result<Option<Credential<'h>>, Error> {
        request_credential(head.headers, head.uri, self.dpop_mode(), self.api_keys())
    }

    /// What can be decided now: the token from the cache or the keys held,
    /// then its certificate, and (DPoP) the proof, the nonce, and an
    /// in-process replay store.
    pub(crate) fn authenticate_now<C>(
        &self,
        head: Head<'_>,
        credential: Credential<'_>,
    ) -> Pending<C>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        if let Credential::ApiKey(key) = credential {
            return Pending::Done(self.api_key_claims(key));
        }
        match self.validate_if_ready::<C>(credential.token()) {
            None => Pending::Fetch,
            Some(Err(e)) => Pending::Done(Err(e)),
            Some(Ok(claims)) => self.check_credential(claims, credential, head),
        }
    }

    /// The token awaiting the key store, then the same checks.
    pub(crate) async fn authenticate_fetching<C>(&self, head: Head<'_>) -> Result<Pending<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let credential = self.credential(head)?.ok_or(Error::MissingToken)?;
        let claims = self.validate_fetching::<C>(credential.token()).await?;
        Ok(self.check_credential(claims, credential, head))
    }

    /// A request to tonic's interceptor: its API key when the validator
    /// accepts keys and it carries one, else its bearer token as
    /// [`bearer_without_waiting`](Self::bearer_without_waiting) takes it.
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(crate) fn intercepted<C>(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let result =
            match request_credential(headers, &Uri::default(), DpopMode::Off, self.api_keys()) {
                Err(e) => Err(e),
                Ok(Some(Credential::ApiKey(key))) => {
                    self.api_key_claims(key).map(Verified::into_claims)
                }
                Ok(Some(credential)) => {
                    self.bearer_without_waiting(credential.token(), headers, extensions)
                }
                Ok(None) => Err(Error::MissingToken),
            };
        telemetry::judged(&result);
        result
    }

    /// A bearer token with the keys held, never waiting (tonic's
    /// interceptor): its client certificate checked when it is bound to
    /// one; a DPoP-bound token refused (no proof can be checked here), and
    /// every token where DPoP is required.
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(crate) fn bearer_without_waiting<C>(
        &self,
        token: &str,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let claims = self.validate_with_held_keys(token)?;
        client_cert::check(self.mtls(), &claims, headers, Some(extensions))?;
        if self.dpop_mode() == DpopMode::Required {
            return Err(Error::DpopRequired);
        }
        not_dpop_bound(claims)
    }

    /// The replay store's answer, awaited when it has to be.
    pub(crate) async fn finish<C>(&self, pending: Pending<C>) -> Result<Verified<C>, Error> {
        match pending {
            Pending::Done(result) => result,
            Pending::Fetch => Err(Error::KeysUnavailable {
                source: None,
                retry_after: None,
            }),
            Pending::Replay(verified, key) => {
                let Some(settings) = self.dpop() else {
                    return Ok(verified);
                };
                let first = settings
                    .replay
                    .first_use(key, settings.rules.window())
                    .await;
                replay_verdict(first).map(|()| verified)
            }
        }
    }

    /// The credential's own checks on validated claims: the client
    /// certificate a token is bound to (before a proof is consumed); a
    /// DPoP-bound token never as `Bearer`; for DPoP the proof, the binding,
    /// the nonce, and the proof's first use.
    fn check_credential<C>(
        &self,
        claims: Claims<C>,
        credential: Credential<'_>,
        head: Head<'_>,
    ) -> Pending<C> {
        if let Err(e) = client_cert::check(self.mtls(), &claims, head.headers, head.extensions) {
            return Pending::Done(Err(e));
        }
        let headers = head.headers;
        let (token, proof) = match credential {
            // A token alone proves no key: as on the token-only entry points.
            Credential::Bearer(_) => {
                let verified = not_dpop_bound(claims).and_then(|claims| {
                    // A proof beside a bearer token: the client meant DPoP
                    // and named the wrong scheme (RFC 9449 §7.2;
                    // oidc-provider answers the same).
                    if self.dpop().is_some() && headers.contains_key(DPOP) {
                        return Err(Error::MalformedHeader);
                    }
                    Ok(Verified {
                        claims,
                        scheme: AuthScheme::Bearer,
                        dpop_nonce: None,
                    })
                });
                return Pending::Done(verified);
            }
            Credential::Dpop { token, proof } => (token, proof),
            // Answered by `authenticate_now` before any token check.
            Credential::ApiKey(_) => return Pending::Done(Err(Error::MalformedApiKey)),
        };
        let Some(settings) = self.dpop() else {
            return Pending::Done(Err(Error::MalformedHeader));
        };
        match check_dpop(settings, &claims, token, proof, head) {
            Err(e) => Pending::Done(Err(e)),
            Ok((key, dpop_nonce)) => {
                let verified = Verified {
                    claims,
                    scheme: AuthScheme::Dpop,
                    dpop_nonce,
                };
                let ttl = settings.rules.window();
                match settings.replay.first_use_now(key, ttl) {
                    Some(first) => Pending::Done(replay_verdict(first).map(|()| verified)),
                    None => Pending::Replay(verified, key),
                }
            }
        }
    }
}

impl Validator {
    /// The claims an API key stands for.
    fn api_key_claims<C>(&self, key: &str) -> Result<Verified<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let keys = self.api_keys().ok_or(Error::InvalidApiKey)?;
        Ok(Verified {
            claims: keys.claims(key, self.rules())?,
            scheme: AuthScheme::ApiKey,
            dpop_nonce: None,
        })
    }
}

/// A DPoP-bound token sent as `Bearer` proves no key (RFC 9449 §7.2).
fn not_dpop_bound<C>(claims: Claims<C>) -> Result<Claims<C>, Error> {
    match claims.dpop_thumbprint() {
        Some(_) => Err(Error::UnverifiedBinding),
        None => Ok(claims),
    }
}

fn replay_verdict(first: Result<bool, crate::remote::replay::ReplayError>) -> Result<(), Error> {
    match first {
        Ok(true) => Ok(()),
        Ok(false) => {
            telemetry::dpop_replay();
            Err(Error::InvalidDpopProof {
                reason: "the proof was used before",
            })
        }
        Err(e) => Err(Error::ReplayCheckUnavailable {
            source: Some(std::sync::Arc::from(e)),
        }),
    }
}

/// The proof against this request and the token's binding, and the nonce:
/// the proof's replay key, and a fresh nonce to send when the proof's is
/// about to go stale.
fn check_dpop<C>(
    settings: &DpopSettings,
    claims: &Claims<C>,
    token: &str,
    proof: &str,
    head: Head<'_>,
) -> Result<([u8; 32], Option<HeaderValue>), Error> {
    let url = request_url(settings, head.uri, head.headers).ok_or(Error::InvalidDpopProof {
        reason: "the request URL cannot be determined",
    })?;
    let now = UnixTime::now();
    let request = ProofRequest::new(head.method.as_str(), &url, token);
    let proof = check_bound(
        claims,
        proof,
        &request,
        &settings.rules,
        now,
        |segment, header| settings.proof_key(segment, header),
    )?;
    let mut fresh = None;
    if let Some(nonces) = &settings.nonces {
        match proof.nonce().and_then(|n| nonces.accepted_slot(n, now)) {
            None => return Err(Error::UseDpopNonce),
            Some(0) => {}
            Some(_) => fresh = HeaderValue::from_str(&nonces.issue(now)).ok(),
        }
    }
    Ok((proof.replay_key(), fresh))
}

/// The URL the client used (RFC 9449 `htu`): the configured public origin
/// and the request's path; else scheme and host from trusted forwarded
/// headers, else from the request (its absolute URI, or `http` and its
/// `Host` header). `None` when no valid host is known.
pub(crate) fn request_url(
    settings: &DpopSettings,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<String> {
    let path = uri.path();
    if let Some((base, prefix)) = &settings.origin.public {
        return Some(format!("{base}{prefix}{path}"));
    }
    let mut scheme = uri.scheme_str().unwrap_or("http").to_owned();
    let mut host = match uri.authority() {
        Some(authority) => Some(authority.as_str().to_owned()),
        None => header_str(headers, &HOST).map(str::to_owned),
    };
    if settings.origin.forwarded {
        let (proto, fwd_host) = forwarded(headers);
        if let Some(proto) = proto {
            scheme = proto;
        }
        if let Some(fwd_host) = fwd_host {
            host = Some(fwd_host);
        }
    }
    let host = host.filter(|h| valid_host(h))?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    Some(format!("{scheme}://{host}{path}"))
}

/// A `Host` value that is a host and optional port only: nothing that
/// would move part of it into the path, query or user info.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && !host.contains(['/', '?', '#', '@', '\\', ' ', '%'])
        && host.parse::<http::uri::Authority>().is_ok()
}

fn header_str<'h>(headers: &'h HeaderMap, name: &http::HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// (proto, host) from `Forwarded` (its first element), else from
/// `X-Forwarded-Proto` / `X-Forwarded-Host` (their first values).
fn forwarded(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    if let Some(value) = header_str(headers, &FORWARDED) {
        let first = value.split(',').next().unwrap_or_default();
        let mut proto = None;
        let mut host = None;
        for pair in first.split(';') {
            let Some((name, val)) = pair.trim().split_once('=') else {
                continue;
            };
            let val = val.trim().trim_matches('"').to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "proto" => proto = Some(val),
                "host" => host = Some(val),
                _ => {}
            }
        }
        if proto.is_some() || host.is_some() {
            return (proto, host);
        }
    }
    let first = |name: &'static str| {
        header_str(headers, &http::HeaderName::from_static(name))
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    (first("x-forwarded-proto"), first("x-forwarded-host"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::dpop::Dpop;

    fn settings(dpop: Dpop) -> std::sync::Arc<DpopSettings> {
        dpop.build().unwrap().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn public_origin_wins() {
        let s = settings(Dpop::allowed().public_origin("https://api.example.com/orders"));
        let uri: Uri = "/a?q=1".parse().unwrap();
        let h = headers(&[
            ("host", "internal:8080"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert_eq!(
            request_url(&s, &uri, &h).unwrap(),
            "https://api.example.com/orders/a"
        );
    }

    #[test]
    fn untrusted_x_forwarded_host_ignored() {
        let s = settings(Dpop::allowed());
        let uri: Uri = "/a".parse().unwrap();
        let h = headers(&[
            ("host", "api.example.com"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            request_url(&s, &uri, &h).unwrap(),
            "http://api.example.com/a"
        );
    }

    #[test]
    fn trusted_forwarded_headers_used() {
        let s = settings(Dpop::allowed().trust_forwarded_headers());
        let uri: Uri = "/a".parse().unwrap();
        let h = headers(&[
            ("host", "internal"),
            ("x-forwarded-host", "api.example.com, proxy2"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            request_url(&s, &uri, &h).unwrap(),
            "https://api.example.com/a"
        );
        let h = headers(&[
            ("host", "internal"),
            (
                "forwarded",
                r#"for=1.2.3.4;proto=https;host="api.example.com:8443", for=5.6.7.8"#,
            ),
        ]);
        assert_eq!(
            request_url(&s, &uri, &h).unwrap(),
            "https://api.example.com:8443/a"
        );
    }

    #[test]
    fn host_with_path_rejected() {
        let s = settings(Dpop::allowed());
        let uri: Uri = "/a".parse().unwrap();
        for host in [
            "api.example.com/x",
            "api.example.com?x",
            "u@api.example.com",
            "",
            "a b",
        ] {
            let h = headers(&[("host", host)]);
            assert_eq!(request_url(&s, &uri, &h), None, "{host}");
        }
        let absolute: Uri = "https://api.example.com/a".parse().unwrap();
        assert_eq!(
            request_url(&s, &absolute, &HeaderMap::new()).unwrap(),
            "https://api.example.com/a"
        );
    }
}
