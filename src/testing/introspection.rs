//! The issuer's introspection endpoint (RFC 7662): client authentication
//! (`client_secret_basic`, `client_secret_post`, `private_key_jwt`), the
//! verdict on opaque tokens it minted and JWTs it signed, revocation, and
//! RFC 9701 JWT answers when asked for.

use serde_json::{Value, json};
use url::form_urlencoded;

use super::{INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, Shared, lock, signing_key};
use crate::jose::algorithm::Algorithm;
use crate::jose::jwks::KeySet;
use crate::jose::time::UnixTime;
use crate::jose::validate::verify_signed;
use crate::jose::validation::Validation;

const JWT_ANSWER: &str = "application/token-introspection+jwt";

/// (status, content type, body) for a `POST /introspect` with `head` and
/// form `body`.
pub(crate) fn answer(shared: &Shared, head: &str, body: &[u8]) -> (u16, &'static str, String) {
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if !client_authenticated(shared, header(head, "authorization"), field) {
        let error =
            json!({"error": "invalid_client", "error_description": "client authentication failed"});
        return (401, "application/json", error.to_string());
    }
    let Some(token) = field("token") else {
        let error = json!({"error": "invalid_request", "error_description": "no token"});
        return (400, "application/json", error.to_string());
    };
    let answer = match claims_of(shared, token) {
        Some(claims) if is_active(shared, token, &claims) => {
            let mut answer = json!({ "active": true, "token_type": "Bearer" });
            if claims.pointer("/cnf/jkt").is_some() {
                answer["token_type"] = "DPoP".into();
            }
            if let (Some(answer), Some(claims)) = (answer.as_object_mut(), claims.as_object()) {
                for (name, value) in claims {
                    answer.insert(name.clone(), value.clone());
                }
            }
            answer
        }
        _ => json!({ "active": false }),
    };
    let wants_jwt = header(head, "accept").is_some_and(|a| a.contains(JWT_ANSWER));
    if !wants_jwt {
        return (200, "application/json", answer.to_string());
    }
    let (kid, key) = signing_key(shared);
    let now = UnixTime::now().as_secs();
    let jwt = key.sign_token(
        &json!({ "kid": kid, "typ": "token-introspection+jwt" }),
        &json!({
            "iss": shared.issuer,
            "aud": INTROSPECTION_CLIENT_ID,
            "iat": now,
            "token_introspection": answer,
        }),
    );
    (200, JWT_ANSWER, jwt)
}

/// A header's value (the first), by case-insensitive name.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Basic (id and secret form-encoded, RFC 6749 §2.3.1), the secret in the
/// form, or a client assertion verified with the registered keys.
fn client_authenticated<'f>(
    shared: &Shared,
    authorization: Option<&str>,
    field: impl Fn(&str) -> Option<&'f str>,
) -> bool {
    if let Some(basic) = authorization.and_then(|a| a.strip_prefix("Basic ")) {
        let Ok(decoded) = base64_simd::STANDARD.decode_to_vec(basic.trim()) else {
            return false;
        };
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        let Some((id, secret)) = decoded.split_once(':') else {
            return false;
        };
        let decode = |s: &str| -> String {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return decode(id) == INTROSPECTION_CLIENT_ID
            && decode(secret) == INTROSPECTION_CLIENT_SECRET;
    }
    if let Some(assertion) = field("client_assertion") {
        let Some(keys) = lock(&shared.client_keys).clone() else {
            return false;
        };
        let rules = Validation::new()
            .issuer(INTROSPECTION_CLIENT_ID)
            .audience(shared.issuer.clone())
            .require_claim("sub", INTROSPECTION_CLIENT_ID);
        return field("client_assertion_type")
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && crate::jose::validate::validate::<()>(assertion, &keys, &rules, UnixTime::now())
                .is_ok();
    }
    field("client_id") == Some(INTROSPECTION_CLIENT_ID)
        && field("client_secret") == Some(INTROSPECTION_CLIENT_SECRET)
}

/// The claims `token` stands for: an opaque token it minted, or a JWT
/// whose signature one of its keys verifies.
fn claims_of(shared: &Shared, token: &str) -> Option<Value> {
    if let Some(claims) = lock(&shared.opaque).get(token) {
        return Some(claims.clone());
    }
    let keys = KeySet::from_jwks(&super::server::jwks(shared)).ok()?;
    let signed = verify_signed(token, &keys, &Algorithm::ALL, 64 * 1024).ok()?;
    serde_json::from_slice(&signed.payload).ok()
}

/// Not revoked, not expired, already valid.
fn is_active(shared: &Shared, token: &str, claims: &Value) -> bool {
    let now = UnixTime::now().as_secs();
    !lock(&shared.revoked).contains(token)
        && claims["exp"].as_u64().is_none_or(|exp| exp > now)
        && claims["nbf"].as_u64().is_none_or(|nbf| nbf <= now)
}

/// RFC 9701 answers as this issuer signs them, read by the resource
/// server's check, rule by rule.
#[cfg(test)]
mod jwt_answers {
    use serde_json::json;

    use crate::jose::algorithm::Algorithm;
    use crate::jose::introspection::{JwtResponseRules, Verdict, read_jwt};
    use crate::jose::time::UnixTime;
    use crate::testing::SigningKey;

    const AS: &str = "https://as.example";
    const NOW: u64 = 1_767_225_600;

    fn rules() -> JwtResponseRules<'static> {
        JwtResponseRules {
            issuer: AS,
            client_id: "rs",
            algorithms: &[Algorithm::ES256],
            leeway_secs: 60,
        }
    }

    fn answer(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
        key.sign_token(&header, &claims)
    }

    fn good_claims() -> serde_json::Value {
        json!({
            "iss": AS, "aud": "rs", "iat": NOW,
            "token_introspection": {"active": true, "sub": "u1", "exp": NOW + 60},
        })
    }

    #[test]
    fn a_signed_answer_is_read() {
        let key = SigningKey::generate(Algorithm::ES256);
        let keys = key.key_set("k");
        let header = json!({"kid": "k", "typ": "token-introspection+jwt"});
        let jwt = answer(&key, header, good_claims());
        let Verdict::Active(claims) =
            read_jwt(jwt.as_bytes(), &keys, rules(), UnixTime::from_secs(NOW)).unwrap()
        else {
            panic!("inactive")
        };
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["iss"], AS);
        let typ = json!({"kid": "k", "typ": "application/token-introspection+jwt"});
        assert!(
            read_jwt(
                answer(&key, typ, good_claims()).as_bytes(),
                &keys,
                rules(),
                UnixTime::from_secs(NOW)
            )
            .is_ok()
        );
    }

    #[test]
    fn each_rule_of_rfc_9701_refuses_alone() {
        let key = SigningKey::generate(Algorithm::ES256);
        let keys = key.key_set("k");
        let header = json!({"kid": "k", "typ": "token-introspection+jwt"});
        let with = |name: &str, value: serde_json::Value| {
            let mut claims = good_claims();
            claims[name] = value;
            claims
        };
        let without = |name: &str| {
            let mut claims = good_claims();
            claims.as_object_mut().unwrap().remove(name);
            claims
        };
        let cases = [
            (
                "wrong typ",
                json!({"kid": "k", "typ": "JWT"}),
                good_claims(),
            ),
            ("no typ", json!({"kid": "k"}), good_claims()),
            (
                "wrong iss",
                header.clone(),
                with("iss", json!("https://evil")),
            ),
            (
                "wrong aud",
                header.clone(),
                with("aud", json!("someone-else")),
            ),
            ("no iat", header.clone(), without("iat")),
            ("future iat", header.clone(), with("iat", json!(NOW + 3600))),
            (
                "no token_introspection",
                header.clone(),
                without("token_introspection"),
            ),
            (
                "string active",
                header.clone(),
                with("token_introspection", json!({"active": "true"})),
            ),
        ];
        for (why, header, claims) in cases {
            let jwt = answer(&key, header, claims);
            assert!(
                read_jwt(jwt.as_bytes(), &keys, rules(), UnixTime::from_secs(NOW)).is_err(),
                "{why}"
            );
        }
        // Another key's signature, or an algorithm not allowed.
        let other = SigningKey::generate(Algorithm::ES256);
        let jwt = answer(&other, header.clone(), good_claims());
        assert!(read_jwt(jwt.as_bytes(), &keys, rules(), UnixTime::from_secs(NOW)).is_err());
        let rsa = SigningKey::generate(Algorithm::RS256);
        let jwt = answer(&rsa, header, good_claims());
        assert!(
            read_jwt(
                jwt.as_bytes(),
                &rsa.key_set("k"),
                rules(),
                UnixTime::from_secs(NOW)
            )
            .is_err()
        );
        assert!(
            read_jwt(
                b"{\"active\":true}",
                &keys,
                rules(),
                UnixTime::from_secs(NOW)
            )
            .is_err()
        );
    }
}
