//! [`ResponseFuture`]: the future of [`JwtAuth`](super::JwtAuth) and
//! [`RequireScopesService`](super::RequireScopesService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Response};

use crate::http::rejection::DPOP_NONCE;

pin_project_lite::pin_project! {
    /// Response future of [`JwtAuth`](super::JwtAuth) and
    /// [`RequireScopesService`](super::RequireScopesService): the
    /// inner service's future, a ready rejection, or (only while keys are
    /// being fetched) a boxed validation.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        // With a `DPoP-Nonce` to add to the response (RFC 9449 §8.2).
        Inner { #[pin] future: F, nonce: Option<HeaderValue> },
        Ready { response: Option<Response<B>> },
        Boxed { future: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F) -> Self {
        Self::inner_with_nonce(future, None)
    }

    /// The inner service's future; its response gets `nonce` as
    /// `DPoP-Nonce`.
    pub(crate) fn inner_with_nonce(future: F, nonce: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Inner { future, nonce },
        }
    }

    pub(crate) fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn boxed(
        future: impl Future<Output = Result<Response<B>, E>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, nonce } => {
                let result = std::task::ready!(future.poll(cx));
                Poll::Ready(result.map(|mut res| {
                    if let Some(nonce) = nonce.take() {
                        res.headers_mut().insert(DPOP_NONCE, nonce);
                    }
                    res
                }))
            }
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
