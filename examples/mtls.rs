//! Certificate-bound access tokens (RFC 8705) with TLS ending in this
//! process: an axum API over rustls that asks each client for a
//! certificate, jwt-gate checking each token's `cnf.x5t#S256` against the
//! certificate of the connection it came on.
//!
//! Starts a test issuer on loopback, the API on `https://127.0.0.1:…`
//! (its own CA and `localhost` certificate), and calls it with reqwest
//! presenting client certificates: the one the token is bound to (200),
//! another (401), none (401), and an unbound token (200: binding is
//! allowed, not required). Needs no network beyond loopback.
//!
//! ```text
//! cargo run --example mtls
//! ```
//!
//! `support/tls.rs` is the part to copy: a rustls client-certificate
//! verifier for self-signed client certificates, and an accept loop that
//! hands each connection's certificate to jwt-gate as a request extension.

#[path = "support/tls.rs"]
mod tls;

use axum::Router;
use axum::routing::get;
use jwt_gate::mtls::CertificateBinding;
use jwt_gate::testing::{TestCertificate, TestIssuer};
use jwt_gate::{Claims, JwtAuthLayer, Validator};

async fn whoami(claims: Claims) -> String {
    match claims.certificate_thumbprint() {
        Some(thumbprint) => format!("bound to the certificate {thumbprint}"),
        None => "an unbound token".to_owned(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api://orders")
        .allow_http() // the test issuer speaks plain http on 127.0.0.1
        // The certificate comes from the TLS stack: the accept loop below.
        .certificate_binding(CertificateBinding::allowed())
        .build()?;
    validator.warm_up().await?;
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(JwtAuthLayer::new(validator));

    // The server's identity: a CA of its own and a `localhost` certificate.
    let ca = TestCertificate::ca("example CA");
    let server = TestCertificate::signed_by("localhost", &ca);
    let config = tls::server_config(server.der(), &server.key_der(), false)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://localhost:{}/whoami", listener.local_addr()?.port());
    tokio::spawn(tls::serve(listener, config, app));

    // Two clients, each with a self-signed certificate.
    let alice = TestCertificate::self_signed("alice");
    let mallory = TestCertificate::self_signed("mallory");
    let client = |identity: Option<&TestCertificate>| {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes())?])
            .resolve("localhost", ([127, 0, 0, 1], 0).into());
        if let Some(identity) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(
                identity.identity_pem().as_bytes(),
            )?);
        }
        builder.build()
    };
    let bound = issuer
        .token()
        .audience("api://orders")
        .certificate_bound(&alice)
        .sign();
    let unbound = issuer.token().audience("api://orders").sign();
    let cases = [
        ("alice's token, alice's certificate", &bound, Some(&alice)),
        (
            "alice's token, mallory's certificate",
            &bound,
            Some(&mallory),
        ),
        ("alice's token, no certificate", &bound, None),
        ("an unbound token, no certificate", &unbound, None),
    ];
    for (name, token, identity) in cases {
        let response = client(identity)?
            .get(&url)
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let body = response.text().await?;
        println!("{name}: {status}");
        match challenge {
            Some(challenge) => println!("    {challenge}"),
            None => println!("    {body}"),
        }
    }
    Ok(())
}
