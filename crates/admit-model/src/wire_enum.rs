//! A macro for proto3 enums on the wire.
//!
//! Values are written as their exact string names. They are read as names, and, for enums
//! declared `numbered` with their proto numbers, also as numbers: proto3's JSON mapping allows
//! both, and Google's client libraries send numbers (`$alt=json;enum-encoding=int`).
//! `Display`/`FromStr`/serde use the same table, so a value always round-trips and an unknown
//! name or number is rejected with the list of accepted names.

/// Declares a wire enum:
/// `wire_enum!(Name, "what it is" { Variant = "WIRE_NAME", ... })`, or
/// `wire_enum!(Name, "what it is" numbered { Variant = "WIRE_NAME" => 3, ... })` with the proto
/// numbers (`-1` for a value the proto does not have). The first variant is the `Default`
/// (proto3's zero value).
macro_rules! wire_enum {
    (@common $(#[$meta:meta])* $name:ident, $what:literal, $first:ident = $first_wire:literal $(, $variant:ident = $wire:literal)*) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            #[default]
            $first,
            $($variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$name::$first, $($name::$variant,)*];

            /// The exact wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $name::$first => $first_wire,
                    $($name::$variant => $wire,)*
                }
            }

            /// Whether this is the proto3 zero value (`*_UNSPECIFIED`).
            pub fn is_unspecified(&self) -> bool {
                *self == $name::$first
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ModelError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $first_wire => Ok($name::$first),
                    $($wire => Ok($name::$variant),)*
                    other => Err($crate::ModelError::UnknownEnumValue {
                        what: $what,
                        value: other.to_owned(),
                        expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a {} name", $what)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        s.parse().map_err(E::custom)
                    }
                    fn visit_i64<E: ::serde::de::Error>(self, n: i64) -> Result<$name, E> {
                        $name::from_number(n).ok_or_else(|| {
                            E::custom($crate::ModelError::UnknownEnumValue {
                                what: $what,
                                value: n.to_string(),
                                expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                            })
                        })
                    }
                    fn visit_u64<E: ::serde::de::Error>(self, n: u64) -> Result<$name, E> {
                        self.visit_i64(i64::try_from(n).unwrap_or(-1))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, $what:literal { $first:ident = $first_wire:literal $(, $variant:ident = $wire:literal)* $(,)? }) => {
        wire_enum!(@common $(#[$meta])* $name, $what, $first = $first_wire $(, $variant = $wire)*);

        impl $name {
            /// Not a proto enum: no numeric form.
            pub fn from_number(_n: i64) -> Option<$name> {
                None
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, $what:literal numbered { $first:ident = $first_wire:literal => $first_num:literal $(, $variant:ident = $wire:literal => $num:literal)* $(,)? }) => {
        wire_enum!(@common $(#[$meta])* $name, $what, $first = $first_wire $(, $variant = $wire)*);

        impl $name {
            /// The value with proto number `n` (the first declared, for aliases).
            pub fn from_number(n: i64) -> Option<$name> {
                if n == $first_num {
                    return Some($name::$first);
                }
                $(if n == $num && n >= 0 {
                    return Some($name::$variant);
                })*
                None
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::{CryptoKeyPurpose, EnforcementMode, NoteKind, SignatureAlgorithm};

    #[test]
    fn numbered_enums_read_names_and_proto_numbers() {
        let e: EnforcementMode = serde_json::from_str("2").unwrap_or_default();
        assert_eq!(e, EnforcementMode::DryrunAuditLogOnly);
        let p: CryptoKeyPurpose = serde_json::from_str("5").unwrap_or_default();
        assert_eq!(p, CryptoKeyPurpose::AsymmetricSign);
        let k: NoteKind = serde_json::from_str("\"ATTESTATION\"").unwrap_or_default();
        assert_eq!(k, NoteKind::Attestation);
        // An alias reads as the first name declared for its number.
        let a: SignatureAlgorithm = serde_json::from_str("9").unwrap_or_default();
        assert_eq!(a, SignatureAlgorithm::EcdsaP256Sha256);
        // Numbers the proto does not have, and admit's own extension's -1, are refused.
        for bad in ["4", "-1", "1.5", "true"] {
            assert!(
                serde_json::from_str::<EnforcementMode>(bad).is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<SignatureAlgorithm>("-1").is_err());
        let err = serde_json::from_str::<EnforcementMode>("7")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown enforcementMode `7`"), "{err}");
    }
}
