//! Cloud KMS enums for the asymmetric-signing subset.

wire_enum!(
    /// `CryptoKeyVersion.CryptoKeyVersionAlgorithm`: every asymmetric-signing value, plus the
    /// symmetric default so it can be recognised and refused with a clear message.
    CryptoKeyVersionAlgorithm, "algorithm" numbered {
        Unspecified = "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED" => 0,
        GoogleSymmetricEncryption = "GOOGLE_SYMMETRIC_ENCRYPTION" => 1,
        EcSignP256Sha256 = "EC_SIGN_P256_SHA256" => 12,
        EcSignP384Sha384 = "EC_SIGN_P384_SHA384" => 13,
        EcSignSecp256k1Sha256 = "EC_SIGN_SECP256K1_SHA256" => 31,
        EcSignEd25519 = "EC_SIGN_ED25519" => 40,
        RsaSignPss2048Sha256 = "RSA_SIGN_PSS_2048_SHA256" => 2,
        RsaSignPss3072Sha256 = "RSA_SIGN_PSS_3072_SHA256" => 3,
        RsaSignPss4096Sha256 = "RSA_SIGN_PSS_4096_SHA256" => 4,
        RsaSignPss4096Sha512 = "RSA_SIGN_PSS_4096_SHA512" => 15,
        RsaSignPkcs12048Sha256 = "RSA_SIGN_PKCS1_2048_SHA256" => 5,
        RsaSignPkcs13072Sha256 = "RSA_SIGN_PKCS1_3072_SHA256" => 6,
        RsaSignPkcs14096Sha256 = "RSA_SIGN_PKCS1_4096_SHA256" => 7,
        RsaSignPkcs14096Sha512 = "RSA_SIGN_PKCS1_4096_SHA512" => 16,
        RsaSignRawPkcs12048 = "RSA_SIGN_RAW_PKCS1_2048" => 28,
        RsaSignRawPkcs13072 = "RSA_SIGN_RAW_PKCS1_3072" => 29,
        RsaSignRawPkcs14096 = "RSA_SIGN_RAW_PKCS1_4096" => 30,
        PqSignMlDsa65 = "PQ_SIGN_ML_DSA_65" => 56,
        PqSignSlhDsaSha2128s = "PQ_SIGN_SLH_DSA_SHA2_128S" => 57,
        PqSignHashSlhDsaSha2128sSha256 = "PQ_SIGN_HASH_SLH_DSA_SHA2_128S_SHA256" => 60,
    }
);

wire_enum!(
    /// `CryptoKey.CryptoKeyPurpose`.
    CryptoKeyPurpose, "purpose" numbered {
        Unspecified = "CRYPTO_KEY_PURPOSE_UNSPECIFIED" => 0,
        EncryptDecrypt = "ENCRYPT_DECRYPT" => 1,
        AsymmetricSign = "ASYMMETRIC_SIGN" => 5,
        AsymmetricDecrypt = "ASYMMETRIC_DECRYPT" => 6,
        RawEncryptDecrypt = "RAW_ENCRYPT_DECRYPT" => 7,
        Mac = "MAC" => 9,
    }
);

wire_enum!(
    /// `ProtectionLevel`.
    ProtectionLevel, "protectionLevel" numbered {
        Unspecified = "PROTECTION_LEVEL_UNSPECIFIED" => 0,
        Software = "SOFTWARE" => 1,
        Hsm = "HSM" => 2,
        External = "EXTERNAL" => 3,
        ExternalVpc = "EXTERNAL_VPC" => 4,
    }
);

wire_enum!(
    /// `CryptoKeyVersion.CryptoKeyVersionState`.
    CryptoKeyVersionState, "state" numbered {
        Unspecified = "CRYPTO_KEY_VERSION_STATE_UNSPECIFIED" => 0,
        PendingGeneration = "PENDING_GENERATION" => 5,
        Enabled = "ENABLED" => 1,
        Disabled = "DISABLED" => 2,
        Destroyed = "DESTROYED" => 3,
        DestroyScheduled = "DESTROY_SCHEDULED" => 4,
        PendingImport = "PENDING_IMPORT" => 6,
        ImportFailed = "IMPORT_FAILED" => 7,
        GenerationFailed = "GENERATION_FAILED" => 8,
        PendingExternalDestruction = "PENDING_EXTERNAL_DESTRUCTION" => 9,
        ExternalDestructionFailed = "EXTERNAL_DESTRUCTION_FAILED" => 10,
    }
);
