//! proto3 `bytes`: base64 on the wire. gcloud sends URL-safe with padding and crashes on
//! unpadded input, so we accept both alphabets, padded or not, and always emit padded standard.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ModelError;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// A proto3 `bytes` value.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// Decodes base64 in the standard or URL-safe alphabet, with or without padding.
    /// Whitespace (as in `base64` tool output wrapped at 76 columns) is ignored.
    pub fn from_base64(text: &str) -> Result<Self, ModelError> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let engine = if compact.contains(['-', '_']) {
            &URL_SAFE_LENIENT
        } else {
            &STANDARD_LENIENT
        };
        engine
            .decode(compact.as_bytes())
            .map(Bytes)
            .map_err(|e| ModelError::Base64(e.to_string()))
    }

    /// Padded standard base64.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({})", self.to_base64())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Bytes::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::standard_padded("+/8=", &[0xfb, 0xff])]
    #[case::standard_unpadded("+/8", &[0xfb, 0xff])]
    #[case::url_safe_padded("-_8=", &[0xfb, 0xff])]
    #[case::url_safe_unpadded("-_8", &[0xfb, 0xff])]
    #[case::wrapped_lines("aGVs\nbG8=", b"hello")]
    fn decodes_every_alphabet_and_padding(#[case] text: &str, #[case] want: &[u8]) {
        assert_eq!(
            Bytes::from_base64(text).map(|b| b.0).ok(),
            Some(want.to_vec())
        );
    }

    #[test]
    fn emits_padded_standard() {
        assert_eq!(Bytes(vec![0xfb, 0xff]).to_base64(), "+/8=");
    }

    #[test]
    fn rejects_garbage() {
        assert!(Bytes::from_base64("not base64!").is_err());
    }
}
