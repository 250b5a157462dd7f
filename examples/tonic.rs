//! A tonic gRPC server behind `JwtAuthLayer`, and a tonic client calling it
//! with and without a token. No protoc: messages are UTF-8 strings with a
//! tiny codec, so the example needs nothing but cargo.
//!
//! ```text
//! cargo run --example tonic
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use jwt_gate::testing::TestIssuer;
use jwt_gate::{JwtAuthLayer, Validator};
use tonic::Status;

use jwt_gate::testing::TextCodec as Text;

/// `/demo.Greeter/Hello`, answering with the caller's `sub`.
#[derive(Clone)]
struct Greeter;

impl tonic::server::NamedService for Greeter {
    const NAME: &'static str = "demo.Greeter";
}

struct Hello;

impl tonic::server::UnaryService<String> for Hello {
    type Response = String;
    type Future = std::future::Ready<Result<tonic::Response<String>, Status>>;
    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        let sub = jwt_gate::tonic::claims(&request)
            .and_then(|c| c.subject().map(str::to_owned))
            .unwrap_or_default();
        std::future::ready(Ok(tonic::Response::new(format!("hello, {sub}"))))
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move { Ok(tonic::server::Grpc::new(Text).unary(Hello, req).await) })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api://greeter")
        .allow_http()
        .build()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tonic::transport::Server::builder()
        .layer(JwtAuthLayer::new(validator))
        .add_service(Greeter)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    let channel = tonic::transport::Channel::from_shared(url)?
        .connect()
        .await?;
    let good = issuer
        .token()
        .audience("api://greeter")
        .subject("ada")
        .sign();
    let other = issuer.token().audience("api://billing").sign();
    for (name, token) in [
        ("valid token", Some(good)),
        ("no token", None),
        ("other audience", Some(other)),
    ] {
        let mut client = tonic::client::Grpc::new(channel.clone());
        client.ready().await?;
        let mut request = tonic::Request::new(String::new());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        let path = http::uri::PathAndQuery::from_static("/demo.Greeter/Hello");
        match client.unary(request, path, Text).await {
            Ok(response) => println!("{name:<15} OK: {}", response.into_inner()),
            Err(status) => println!("{name:<15} {:?}: {}", status.code(), status.message()),
        }
    }
    Ok(())
}
