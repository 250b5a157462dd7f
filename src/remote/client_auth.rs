//! How the resource server authenticates to the authorization server as an
//! OAuth client (for introspection, RFC 7662 §2.1): `client_secret_basic`
//! and `client_secret_post` (RFC 6749 §2.3.1), or `private_key_jwt` (RFC
//! 7523 §2.2, OpenID Connect Core §9) with a [`ClientKey`] the application
//! gives.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair};
use url::form_urlencoded;

use crate::jose::algorithm::{Algorithm, Family};
use crate::jose::cnf::pem_block;
use crate::jose::error::ConfigError;
use crate::jose::time::UnixTime;

/// A private key the resource server signs its client assertions with
/// (`private_key_jwt`): RSA (RS256/384/512, PS256/384/512), ECDSA
/// (ES256/384/512) or Ed25519 (EdDSA), from PKCS#8. Its public key is
/// registered with the authorization server (the client's `jwks`).
///
/// ```
/// use jwt_gate::Algorithm;
/// use jwt_gate::introspection::ClientKey;
///
/// let pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----";
/// assert!(ClientKey::from_pkcs8_pem(Algorithm::ES256, pem).is_err());
/// ```
#[derive(Clone)]
pub struct ClientKey {
    alg: Algorithm,
    kid: Option<Box<str>>,
    /// Key pairs are not `Clone`: shared.
    key: Arc<PrivateKey>,
}

enum PrivateKey {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A key from PKCS#8 DER, to sign with `alg` (which must fit it).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `ClientKey`) when `alg` is symmetric or
    /// the DER is not a private key for it.
    pub fn from_pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        let bad = |e: aws_lc_rs::error::KeyRejected| {
            ConfigError::new(
                "ClientKey",
                format!("not a PKCS#8 private key for {alg}: {e}"),
            )
        };
        let ec = |alg: &'static sig::EcdsaSigningAlgorithm| {
            EcdsaKeyPair::from_pkcs8(alg, der).map(PrivateKey::Ec)
        };
        let key = match alg.family() {
            Family::Rsa => PrivateKey::Rsa(rsa::KeyPair::from_pkcs8(der).map_err(bad)?),
            Family::P256 => ec(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(bad)?,
            Family::P384 => ec(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).map_err(bad)?,
            Family::P521 => ec(&sig::ECDSA_P521_SHA512_FIXED_SIGNING).map_err(bad)?,
            Family::Ed25519 => {
                PrivateKey::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(bad)?)
            }
            Family::Hmac => {
                return Err(ConfigError::new(
                    "ClientKey",
                    "private_key_jwt signs with a private key: HS* is client_secret_jwt, not supported",
                ));
            }
        };
        Ok(Self {
            alg,
            kid: None,
            key: Arc::new(key),
        })
    }

    /// A key from a PEM `PRIVATE KEY` (PKCS#8) document.
    ///
    /// # Errors
    ///
    /// As [`from_pkcs8_der`](Self::from_pkcs8_der), and when the PEM holds
    /// no single `PRIVATE KEY` block.
    pub fn from_pkcs8_pem(alg: Algorithm, pem: &str) -> Result<Self, ConfigError> {
        let der = pem_block(pem, "PRIVATE KEY").ok_or_else(|| {
            ConfigError::new(
                "ClientKey",
                "not a PEM document with one PRIVATE KEY (PKCS#8) block",
            )
        })?;
        Self::from_pkcs8_der(alg, &der)
    }

    /// The `kid` the assertion's header names, for an authorization server
    /// that holds several keys of the client.
    ///
    /// Defaults to none.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into().into_boxed_str());
        self
    }

    /// A signed client assertion for `client_id` to present at `audience`
    /// (RFC 7523 §3): `iss` = `sub` = the client, `aud`, a random `jti`,
    /// `iat` now, `exp` a minute later.
    fn assertion(&self, client_id: &str, audience: &str, now: UnixTime) -> String {
        let b64 = |bytes: &[u8]| base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes);
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).expect("the system random generator");
        let mut header = serde_json::json!({ "alg": self.alg.as_str(), "typ": "JWT" });
        if let Some(kid) = &self.kid {
            header["kid"] = kid.as_ref().into();
        }
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": b64(&jti),
            "iat": now.as_secs(),
            "exp": now.as_secs() + 60,
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &*self.key {
            PrivateKey::Rsa(kp) => sign_rsa(kp, self.alg, message),
            PrivateKey::Ec(kp) => sign_ecdsa(kp, message),
            PrivateKey::Ed(kp) => kp.sign(message).as_ref().to_vec(),
        }
    }
}

/// An RSA signature with `alg`'s padding and hash (RS* PKCS#1 v1.5, PS*
/// PSS); RS256 for anything else.
pub(crate) fn sign_rsa(kp: &rsa::KeyPair, alg: Algorithm, message: &[u8]) -> Vec<u8> {
    let padding: &'static dyn sig::RsaEncoding = match alg {
        Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_SHA512,
        _ => &sig::RSA_PKCS1_SHA256,
    };
    let mut out = vec![0; kp.public_modulus_len()];
    kp.sign(padding, &SystemRandom::new(), message, &mut out)
        .expect("RSA signing with a key that loaded");
    out
}

/// An ECDSA signature in JOSE's fixed-length form.
pub(crate) fn sign_ecdsa(kp: &EcdsaKeyPair, message: &[u8]) -> Vec<u8> {
    kp.sign(&SystemRandom::new(), message)
        .expect("ECDSA signing with a key that loaded")
        .as_ref()
        .to_vec()
}

/// How the resource server authenticates as a client.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    /// `Authorization: Basic` of the form-encoded id and secret (RFC 6749
    /// §2.3.1).
    Basic { id: Box<str>, header: Box<str> },
    /// `client_id` and `client_secret` in the form body.
    Post { id: Box<str>, secret: Box<str> },
    /// `client_assertion` (RFC 7523), signed per request.
    PrivateKeyJwt { id: Box<str>, key: ClientKey },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        let (method, id) = match self {
            Self::Basic { id, .. } => ("client_secret_basic", id),
            Self::Post { id, .. } => ("client_secret_post", id),
            Self::PrivateKeyJwt { id, .. } => ("private_key_jwt", id),
        };
        f.debug_struct("ClientAuth")
            .field("method", &method)
            .field("client_id", id)
            .finish()
    }
}

impl ClientAuth {
    pub(crate) fn basic(id: &str, secret: &str) -> Self {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = format!("{}:{}", encode(id), encode(secret));
        let header = format!(
            "Basic {}",
            base64_simd::STANDARD.encode_to_string(credentials.as_bytes())
        );
        Self::Basic {
            id: id.into(),
            header: header.into(),
        }
    }

    pub(crate) fn post(id: &str, secret: &str) -> Self {
        Self::Post {
            id: id.into(),
            secret: secret.into(),
        }
    }

    pub(crate) fn private_key_jwt(id: &str, key: ClientKey) -> Self {
        Self::PrivateKeyJwt { id: id.into(), key }
    }

    /// The client id.
    pub(crate) fn client_id(&self) -> &str {
        match self {
            Self::Basic { id, .. } | Self::Post { id, .. } | Self::PrivateKeyJwt { id, .. } => id,
        }
    }

    /// The secret or key is there (an empty secret is a setup mistake).
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            Self::Basic { id, header } => !id.is_empty() && !header.ends_with("Og=="),
            Self::Post { id, secret } => !id.is_empty() && !secret.is_empty(),
            Self::PrivateKeyJwt { id, .. } => !id.is_empty(),
        }
    }

    /// Adds the credentials to a form request to `audience` (the
    /// assertion's `aud`): a header, or members of `form`.
    pub(crate) fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut form_urlencoded::Serializer<'_, String>,
        audience: &str,
    ) -> reqwest::RequestBuilder {
        match self {
            Self::Basic { header, .. } => {
                return request.header(http::header::AUTHORIZATION, &**header);
            }
            Self::Post { id, secret } => {
                form.append_pair("client_id", id);
                form.append_pair("client_secret", secret);
            }
            Self::PrivateKeyJwt { id, key } => {
                form.append_pair("client_id", id);
                form.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                );
                form.append_pair(
                    "client_assertion",
                    &key.assertion(id, audience, UnixTime::now()),
                );
            }
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // RFC 6749 §2.3.1: application/x-www-form-urlencoded, then Basic.
        let ClientAuth::Basic { header, .. } = ClientAuth::basic("my client", "p@ss:w/rd+") else {
            unreachable!()
        };
        let decoded = base64_simd::STANDARD
            .decode_to_vec(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my+client:p%40ss%3Aw%2Frd%2B"
        );
    }

    #[test]
    fn secrets_never_debug_printed() {
        let auth = ClientAuth::post("rs", "s3cret");
        assert!(!format!("{auth:?}").contains("s3cret"));
        let auth = ClientAuth::basic("rs", "s3cret");
        assert!(!format!("{auth:?}").contains("czNjcmV0"));
    }
}
