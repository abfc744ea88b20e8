//! A macro for proto3 enums that travel as their exact string names.
//!
//! `Display`/`FromStr`/serde all use the same table, so a value always round-trips and an
//! unknown name is rejected with the list of accepted ones.

/// Declares a wire enum: `wire_enum!(Name, "what it is" { Variant = "WIRE_NAME", ... })`.
/// The first variant is the `Default` (proto3's zero value).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $first:ident = $first_wire:literal $(, $variant:ident = $wire:literal)* $(,)? }) => {
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
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
