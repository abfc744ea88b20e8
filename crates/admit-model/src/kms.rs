//! Cloud KMS enums for the asymmetric-signing subset.

wire_enum!(
    /// `CryptoKeyVersion.CryptoKeyVersionAlgorithm`: every asymmetric-signing value, plus the
    /// symmetric default so it can be recognised and refused with a clear message.
    CryptoKeyVersionAlgorithm, "algorithm" {
        Unspecified = "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED",
        GoogleSymmetricEncryption = "GOOGLE_SYMMETRIC_ENCRYPTION",
        EcSignP256Sha256 = "EC_SIGN_P256_SHA256",
        EcSignP384Sha384 = "EC_SIGN_P384_SHA384",
        EcSignSecp256k1Sha256 = "EC_SIGN_SECP256K1_SHA256",
        EcSignEd25519 = "EC_SIGN_ED25519",
        RsaSignPss2048Sha256 = "RSA_SIGN_PSS_2048_SHA256",
        RsaSignPss3072Sha256 = "RSA_SIGN_PSS_3072_SHA256",
        RsaSignPss4096Sha256 = "RSA_SIGN_PSS_4096_SHA256",
        RsaSignPss4096Sha512 = "RSA_SIGN_PSS_4096_SHA512",
        RsaSignPkcs12048Sha256 = "RSA_SIGN_PKCS1_2048_SHA256",
        RsaSignPkcs13072Sha256 = "RSA_SIGN_PKCS1_3072_SHA256",
        RsaSignPkcs14096Sha256 = "RSA_SIGN_PKCS1_4096_SHA256",
        RsaSignPkcs14096Sha512 = "RSA_SIGN_PKCS1_4096_SHA512",
        RsaSignRawPkcs12048 = "RSA_SIGN_RAW_PKCS1_2048",
        RsaSignRawPkcs13072 = "RSA_SIGN_RAW_PKCS1_3072",
        RsaSignRawPkcs14096 = "RSA_SIGN_RAW_PKCS1_4096",
        PqSignMlDsa65 = "PQ_SIGN_ML_DSA_65",
        PqSignSlhDsaSha2128s = "PQ_SIGN_SLH_DSA_SHA2_128S",
        PqSignHashSlhDsaSha2128sSha256 = "PQ_SIGN_HASH_SLH_DSA_SHA2_128S_SHA256",
    }
);

wire_enum!(
    /// `CryptoKey.CryptoKeyPurpose`.
    CryptoKeyPurpose, "purpose" {
        Unspecified = "CRYPTO_KEY_PURPOSE_UNSPECIFIED",
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        AsymmetricSign = "ASYMMETRIC_SIGN",
        AsymmetricDecrypt = "ASYMMETRIC_DECRYPT",
        RawEncryptDecrypt = "RAW_ENCRYPT_DECRYPT",
        Mac = "MAC",
    }
);

wire_enum!(
    /// `ProtectionLevel`.
    ProtectionLevel, "protectionLevel" {
        Unspecified = "PROTECTION_LEVEL_UNSPECIFIED",
        Software = "SOFTWARE",
        Hsm = "HSM",
        External = "EXTERNAL",
        ExternalVpc = "EXTERNAL_VPC",
    }
);

wire_enum!(
    /// `CryptoKeyVersion.CryptoKeyVersionState`.
    CryptoKeyVersionState, "state" {
        Unspecified = "CRYPTO_KEY_VERSION_STATE_UNSPECIFIED",
        PendingGeneration = "PENDING_GENERATION",
        Enabled = "ENABLED",
        Disabled = "DISABLED",
        Destroyed = "DESTROYED",
        DestroyScheduled = "DESTROY_SCHEDULED",
        PendingImport = "PENDING_IMPORT",
        ImportFailed = "IMPORT_FAILED",
        GenerationFailed = "GENERATION_FAILED",
        PendingExternalDestruction = "PENDING_EXTERNAL_DESTRUCTION",
        ExternalDestructionFailed = "EXTERNAL_DESTRUCTION_FAILED",
    }
);
