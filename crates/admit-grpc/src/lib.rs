//! gRPC on the same services (`admit serve --grpc-listen ADDR`): Binary Authorization v1 and
//! v1beta1 (management, system policy, validation helper), Grafeas v1 and v1beta1, Container
//! Analysis v1 and v1beta1,
//! Cloud KMS v1 and the IAM mixin, from the published protos (`/proto`, compiled at build time
//! by protox). Every unary method is transcoded onto admit's REST API by the method's own
//! `google.api.http` rule, as Google's gateways do: the protobuf request becomes the proto3
//! JSON of the REST call (path variables, body, query), the answer becomes the protobuf
//! response, and a google.rpc.Status error becomes the gRPC status with the same code, message
//! and a `google.rpc.Status` in its details. So authentication (bearer metadata), IAM,
//! validation and storage are exactly the REST API's, and nothing is implemented twice.
//!
//! Owns the gRPC wire (tonic, prost-reflect). Must not depend on the service, storage, the
//! webhook or the binary: it is handed the REST router to call.

mod codec;
mod error;
mod gateway;
mod rule;
mod serve;

pub use codec::RawCodec;
pub use error::GrpcError;
pub use gateway::Gateway;
pub use serve::{Tls, serve};
