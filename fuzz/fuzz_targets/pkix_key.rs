//! PKIX public keys as attestors carry them (PEM around arbitrary DER, and arbitrary text),
//! for every declared algorithm, and a signature check with whatever parsed.
#![no_main]
use admit_model::SignatureAlgorithm as A;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

const ALGS: [A; 8] = [
    A::EcdsaP256Sha256,
    A::EcdsaP384Sha384,
    A::EcdsaP521Sha512,
    A::RsaPss2048Sha256,
    A::RsaSignPkcs12048Sha256,
    A::RsaSignPkcs14096Sha512,
    A::EcSignEd25519,
    A::Unspecified,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let alg = ALGS[usize::from(sel) % ALGS.len()];
    let pem = if sel & 0x80 == 0 {
        // Arbitrary DER inside well-formed armour reaches the DER parser.
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(rest)
        )
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    if let Ok(k) = admit_crypto::PkixKey::from_pem(&pem, alg) {
        let _ = k.key_id();
        let _ = k.verify(b"payload", rest);
    }
});
