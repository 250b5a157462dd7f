//! [`TextCodec`]: gRPC without protoc or prost, to test a tonic service's
//! authentication.

use bytes::{Buf, BufMut};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// A tonic codec whose messages are UTF-8 strings: a gRPC client or server
/// for tests without a `.proto` file.
///
/// ```
/// use jwt_gate::testing::TextCodec;
///
/// // A client call: `tonic::client::Grpc::new(channel).unary(request, path, TextCodec)`.
/// // A server method: `tonic::server::Grpc::new(TextCodec).unary(service, request)`.
/// let codec = TextCodec;
/// # let _ = codec;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TextCodec;

impl Codec for TextCodec {
    type Encode = String;
    type Decode = String;
    type Encoder = Self;
    type Decoder = Self;
    fn encoder(&mut self) -> Self {
        Self
    }
    fn decoder(&mut self) -> Self {
        Self
    }
}

impl Encoder for TextCodec {
    type Item = String;
    type Error = Status;
    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for TextCodec {
    type Item = String;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::internal("not UTF-8"))
    }
}
