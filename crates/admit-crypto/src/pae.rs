//! DSSE pre-authentication encoding, as gcloud's `--pae-encode-payload` signs it:
//! `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths in ASCII decimal.

/// The payload type gcloud uses unless `--dsse-type` says otherwise.
pub const DEFAULT_DSSE_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// The PAE byte string for `payload_type` and `payload`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn default_type_prefix_is_what_gcloud_sends() {
        let out = pae(DEFAULT_DSSE_TYPE, &[b'x'; 280]);
        assert!(
            out.starts_with(b"DSSEv1 48 application/vnd.dev.cosign.simplesigning.v1+json 280 x")
        );
    }
}
