//! `server --variant NAME --keys DIR [--listen ADDR]`: one axum service,
//! `GET /orders` answering a small JSON object built from the token's
//! claims, behind the variant's authentication. On a current-thread tokio
//! runtime (the run pins it to one core). Prints `listening on ADDR`, then
//! serves until `SIGTERM`. `GET /__stats` (outside any layer) answers with
//! the process's CPU time and, for jwt-gate, the token cache's counters.
//!
//! Variants:
//! - `none`: no authentication (the ceiling; the same headers arrive);
//! - `jwt-gate`: `JwtAuthLayer` with the default token cache;
//! - `jwt-gate-nocache`: the cache turned off (every request verifies);
//! - `jwt-gate-big`: the cache raised to 400 000 tokens and 1 GiB;
//! - `jwt-gate-dpop`: the default cache, and DPoP allowed (RFC 9449) with
//!   the in-process replay store, the public origin `DPOP_ORIGIN`, and a
//!   proof age of up to ten years (the proofs are minted ahead of the run;
//!   the check costs the same whatever the window);
//! - `jwt-authorizer`, `aliri`: the peers (feature `peers`), same keys,
//!   issuer, audience and algorithms;
//! - `grpc-none`, `grpc-jwt-gate`: the same answer from one unary gRPC
//!   method, `/load.Orders/Get`, served by tonic (HTTP/2), without
//!   authentication and behind `JwtAuthLayer` (default cache). Messages are
//!   UTF-8 strings (jwt-gate's `TextCodec`: no protoc). `GET /__stats` is
//!   then served on a second listener, printed as `stats on ADDR`.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::routing::get;
use jwt_gate::dpop::{Dpop, DpopRules};
use jwt_gate::{Algorithm, Claims, JwtAuthLayer, KeySet, Validator};
use jwt_gate_load::{AUDIENCE, DPOP_ORIGIN, ISSUER, JWKS_FILE, Order, TenantClaims};

fn main() {
    let mut variant = None;
    let mut keys = None;
    let mut listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--variant" => variant = Some(value()),
            "--keys" => keys = Some(value()),
            "--listen" => listen = value().parse().unwrap_or_else(|_| usage("--listen ADDR")),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let variant = variant.unwrap_or_else(|| usage("--variant is required"));
    let keys = keys.unwrap_or_else(|| usage("--keys is required"));
    let jwks = std::fs::read_to_string(std::path::Path::new(&keys).join(JWKS_FILE))
        .unwrap_or_else(|e| usage(&format!("{keys}/{JWKS_FILE}: {e} (run mint first)")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(serve(&variant, &jwks, listen));
}

fn usage(why: &str) -> ! {
    eprintln!("server: {why}\nusage: server --variant NAME --keys DIR [--listen ADDR]");
    std::process::exit(2);
}

async fn serve(variant: &str, jwks: &str, listen: SocketAddr) {
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = |cache: Option<(u64, u64)>, dpop: bool| {
        let builder = Validator::builder()
            .keys(KeySet::from_jwks_json(jwks).unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .algorithms([Algorithm::RS256, Algorithm::ES256]);
        let builder =
            if dpop {
                builder.dpop(Dpop::allowed().public_origin(DPOP_ORIGIN).rules(
                    DpopRules::new().max_age(std::time::Duration::from_secs(10 * 365 * 86_400)),
                ))
            } else {
                builder
            };
        let builder = match cache {
            Some((entries, bytes)) => builder.token_cache(entries, bytes),
            None => builder,
        };
        builder.build().unwrap()
    };
    let validator = match variant {
        "jwt-gate" => Some(gate(None, false)),
        "jwt-gate-nocache" => Some(gate(Some((0, 0)), false)),
        "jwt-gate-big" => Some(gate(Some((400_000, 1 << 30)), false)),
        "jwt-gate-dpop" => Some(gate(None, true)),
        "grpc-jwt-gate" => Some(gate(None, false)),
        _ => None,
    };
    println!("listening on {addr}");
    let stop = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            term.recv().await;
        }
    };
    match (variant, &validator) {
        ("grpc-none" | "grpc-jwt-gate", _) => grpc::serve(listener, validator, stop).await,
        ("none", _) => {
            let app = Router::new()
                .route("/orders", get(unprotected))
                .route("/__stats", get(|| stats(None)));
            run(listener, app, stop).await;
        }
        (_, Some(validator)) => {
            let counters = validator.clone();
            let app = Router::new()
                .route("/orders", get(protected))
                .layer(JwtAuthLayer::new(validator.clone()).claims::<TenantClaims>())
                .route("/__stats", get(move || stats(Some(counters.clone()))));
            run(listener, app, stop).await;
        }
        #[cfg(feature = "peers")]
        ("jwt-authorizer", _) => peers::jwt_authorizer(listener, jwks, stop).await,
        #[cfg(feature = "peers")]
        ("aliri", _) => peers::aliri(listener, jwks, stop).await,
        _ => usage(&format!(
            "unknown variant {variant} (peers need the feature `peers`)"
        )),
    }
}

async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .unwrap();
}

/// The server's CPU time and its token cache's counters, for the load
/// generator (outside the layer).
async fn stats(validator: Option<Validator>) -> Json<serde_json::Value> {
    let mut out = serde_json::json!({ "cpu_us": jwt_gate_load::cpu_time_us() });
    if let Some(validator) = validator {
        let stats = validator.token_cache_stats();
        out["cache_hits"] = stats.hits.into();
        out["cache_misses"] = stats.misses.into();
        out["cache_declined"] = stats.declined.into();
        out["cache_entries"] = stats.entries.into();
    }
    Json(out)
}

async fn unprotected() -> Json<Order> {
    answer("1741", "anonymous", false)
}

async fn protected(claims: Claims<TenantClaims>) -> Json<Order> {
    answer(
        &claims.tenant_id,
        claims.subject().unwrap_or(""),
        claims.admin,
    )
}

/// Every handler's answer: the same work and shape whichever library read
/// the claims, and without one.
fn answer(tenant: &str, subject: &str, admin: bool) -> Json<Order> {
    Json(Order {
        tenant: tenant.to_owned(),
        subject: subject.to_owned(),
        admin,
    })
}

mod grpc {
    //! `/load.Orders/Get` on tonic, with or without `JwtAuthLayer`.

    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use jwt_gate::testing::TextCodec;
    use tonic::Status;

    use super::*;

    #[derive(Clone)]
    struct Orders;

    impl tonic::server::NamedService for Orders {
        const NAME: &'static str = "load.Orders";
    }

    struct Get;

    impl tonic::server::UnaryService<String> for Get {
        type Response = String;
        type Future = std::future::Ready<Result<tonic::Response<String>, Status>>;
        fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
            let Json(order) = match jwt_gate::tonic::claims_as::<TenantClaims>(&request) {
                Some(claims) => answer(
                    &claims.tenant_id,
                    claims.subject().unwrap_or(""),
                    claims.admin,
                ),
                None => answer("1741", "anonymous", false),
            };
            let body = serde_json::to_string(&order).unwrap();
            std::future::ready(Ok(tonic::Response::new(body)))
        }
    }

    impl tower_service::Service<http::Request<tonic::body::Body>> for Orders {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
            Box::pin(async move { Ok(tonic::server::Grpc::new(TextCodec).unary(Get, req).await) })
        }
    }

    pub(super) async fn serve(
        listener: tokio::net::TcpListener,
        validator: Option<Validator>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        let stats_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("stats on {}", stats_listener.local_addr().unwrap());
        let counters = validator.clone();
        let stats_app = Router::new().route("/__stats", get(move || stats(counters.clone())));
        tokio::spawn(async move { axum::serve(stats_listener, stats_app).await });
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let served = match validator {
            Some(validator) => {
                tonic::transport::Server::builder()
                    .layer(JwtAuthLayer::new(validator).claims::<TenantClaims>())
                    .add_service(Orders)
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await
            }
            None => {
                tonic::transport::Server::builder()
                    .add_service(Orders)
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await
            }
        };
        served.unwrap();
    }
}

#[cfg(feature = "peers")]
mod peers {
    //! The same service behind the peers' layers.

    use super::*;

    #[derive(Debug, Clone, serde::Deserialize)]
    struct PeerClaims {
        sub: String,
        #[serde(flatten)]
        tenant: TenantClaims,
    }

    /// jwt-authorizer 0.15 (axum 0.7, jsonwebtoken 9): the JWK Set as
    /// text, issuer and audience checked.
    pub(super) async fn jwt_authorizer(
        listener: tokio::net::TcpListener,
        jwks: &str,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        use jwt_authorizer::{IntoLayer, JwtAuthorizer, JwtClaims, Validation};
        let authorizer = JwtAuthorizer::<PeerClaims>::from_jwks_text(jwks)
            .validation(Validation::new().iss(&[ISSUER]).aud(&[AUDIENCE]))
            .build()
            .await
            .unwrap();
        async fn handler(JwtClaims(claims): JwtClaims<PeerClaims>) -> axum07::Json<Order> {
            axum07::Json(answer(&claims.tenant.tenant_id, &claims.sub, claims.tenant.admin).0)
        }
        let app = axum07::Router::new()
            .route("/orders", axum07::routing::get(handler))
            .layer(authorizer.into_layer())
            .route(
                "/__stats",
                axum07::routing::get(|| async { axum07::Json(stats(None).await.0) }),
            );
        axum07::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .unwrap();
    }

    #[derive(Debug, Clone, serde::Deserialize)]
    struct AliriClaims {
        #[serde(flatten)]
        basic: aliri_oauth2::scope::BasicClaimsWithScope,
        #[serde(flatten)]
        tenant: TenantClaims,
    }

    impl aliri::jwt::CoreClaims for AliriClaims {
        fn nbf(&self) -> Option<aliri_clock::UnixTime> {
            self.basic.nbf()
        }
        fn exp(&self) -> Option<aliri_clock::UnixTime> {
            self.basic.exp()
        }
        fn aud(&self) -> &aliri::jwt::Audiences {
            self.basic.aud()
        }
        fn iss(&self) -> Option<&aliri::jwt::IssuerRef> {
            self.basic.iss()
        }
        fn sub(&self) -> Option<&aliri::jwt::SubjectRef> {
            self.basic.sub()
        }
    }

    impl aliri_oauth2::HasScope for AliriClaims {
        fn scope(&self) -> &aliri_oauth2::scope::Scope {
            &self.basic.scope
        }
    }

    /// aliri_tower 0.6 (aliri 0.6, ring): the JWK Set as an `Authority`,
    /// issuer, audience and algorithms checked, claims in the extensions.
    pub(super) async fn aliri(
        listener: tokio::net::TcpListener,
        jwks: &str,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        use aliri::jwt;
        let jwks: aliri::Jwks = serde_json::from_str(jwks).unwrap();
        let validator = jwt::CoreValidator::default()
            .add_approved_algorithm(aliri::jwa::Algorithm::RS256)
            .add_approved_algorithm(aliri::jwa::Algorithm::ES256)
            .add_allowed_audience(jwt::Audience::from_static(AUDIENCE))
            .require_issuer(jwt::Issuer::from_static(ISSUER));
        let authority = aliri_oauth2::Authority::new(jwks, validator);
        let authorizer = aliri_tower::Oauth2Authorizer::new()
            .with_claims::<AliriClaims>()
            .with_terse_error_handler();
        async fn handler(axum::Extension(claims): axum::Extension<AliriClaims>) -> Json<Order> {
            use aliri::jwt::CoreClaims as _;
            let subject = claims.sub().map_or("", |s| s.as_str());
            answer(&claims.tenant.tenant_id, subject, claims.tenant.admin)
        }
        let app = Router::new()
            .route("/orders", get(handler))
            .layer(authorizer.jwt_layer(authority))
            .route("/__stats", get(|| stats(None)));
        run(listener, app, stop).await;
    }
}
