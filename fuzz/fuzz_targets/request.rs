//! A request's headers as the layer reads them: `Authorization` (Bearer,
//! DPoP, repeated, odd spacing), `DPoP`, a proxy's client-certificate
//! header in each format, `X-API-KEY`, and the query string. Input: the
//! first byte picks the certificate header's format, then the target URI
//! up to a newline, then `name: value` lines.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use jwt_gate::dpop::Dpop;
use jwt_gate::mtls::{CertificateBinding, HeaderFormat};
use jwt_gate::{ApiKeys, Validator};
use libfuzzer_sys::fuzz_target;

const FORMATS: [HeaderFormat; 4] = [
    HeaderFormat::ByteSequence,
    HeaderFormat::EnvoyXfcc,
    HeaderFormat::EscapedPem,
    HeaderFormat::Base64Der,
];

/// One validator per certificate header format, with DPoP allowed and an
/// API key: every credential reader is on.
static VALIDATORS: LazyLock<Vec<Validator>> = LazyLock::new(|| {
    FORMATS
        .iter()
        .map(|&format| {
            Validator::builder()
                .keys(common::KEYS.clone())
                .validation(common::RULES.clone())
                .dpop(Dpop::allowed().public_origin("https://api.example.com"))
                .certificate_binding(
                    CertificateBinding::allowed().from_header("client-cert", format),
                )
                .api_keys(
                    ApiKeys::new().key("the-fuzzing-api-key", serde_json::json!({"sub": "k"})),
                )
                .token_cache(0, 0)
                .build()
                .expect("the fuzzing validator")
        })
        .collect()
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let validator = &VALIDATORS[usize::from(pick) % FORMATS.len()];
    let mut lines = rest.split(|&b| b == b'\n');
    let uri = lines
        .next()
        .and_then(|u| Uri::try_from(u).ok())
        .unwrap_or_else(|| Uri::from_static("/orders"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let result = RUNTIME.block_on(validator.validate_request::<serde_json::Value>(
        &Method::GET,
        &uri,
        &headers,
    ));
    if let Err(error) = result {
        // The response built for it: status, challenges, headers.
        let _: http::Response<()> = validator.reject(&error, &headers);
    }
});
