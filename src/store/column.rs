//! TEXT columns with a closed set of values (states, purposes) as Rust
//! enums. `text_enum!` gives each enum `as_str`/`parse` and binds and
//! reads it as the same text, so the strings in the database do not change;
//! a string the enum does not know is refused with [`UnknownValue`].
//!
//! The sqlx impls are generic over the database: any driver that stores
//! `&str` stores these too.

/// A stored string that names no variant of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} in the database")]
pub struct UnknownValue {
    /// The enum's name, e.g. `MessageState`.
    pub kind: &'static str,
    pub value: String,
}

/// Declares `enum $name { $Variant = "text", .. }` with `as_str`, `parse`,
/// `ALL`, `Display` (padding honoured), `Serialize` as the text, and the
/// sqlx `Type`/`Encode`/`Decode` impls that bind and read it as TEXT.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The variant stored as `s` (exactly, case included).
            pub fn parse(s: &str) -> Result<$name, $crate::store::column::UnknownValue> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::store::column::UnknownValue {
                        kind: stringify!($name),
                        value: s.to_string(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::store::column::UnknownValue;
            fn from_str(s: &str) -> Result<$name, Self::Err> {
                $name::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let text: &'q str = self.as_str();
                <&'q str as sqlx::Encode<'q, DB>>::encode(text, buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<$name, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok($name::parse(text)?)
            }
        }
    };
}
pub(crate) use text_enum;

/// Asserts the round trip of every variant and the refusal of `unknown`.
#[cfg(test)]
macro_rules! assert_round_trip {
    ($name:ident, $($unknown:literal),+) => {
        for v in $name::ALL {
            assert_eq!($name::parse(v.as_str()), Ok(*v), "{v:?}");
            assert_eq!(v.to_string(), v.as_str());
        }
        let texts: std::collections::HashSet<&str> =
            $name::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(texts.len(), $name::ALL.len(), "two variants share a text");
        for u in [$($unknown),+] {
            let e = $name::parse(u).unwrap_err();
            assert_eq!(e.kind, stringify!($name));
            assert_eq!(e.value, u);
        }
    };
}
#[cfg(test)]
pub(crate) use assert_round_trip;

#[cfg(test)]
mod tests {
    text_enum! {
        enum Colour {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn a_text_enum_round_trips_and_refuses_what_it_does_not_know() {
        assert_round_trip!(Colour, "", "Red", "blue", " red");
        assert_eq!(format!("[{:<6}]", Colour::Red), "[red   ]");
        assert_eq!(
            serde_json::to_string(&Colour::DarkBlue).unwrap(),
            "\"dark_blue\""
        );
        assert_eq!(
            Colour::parse("x").unwrap_err().to_string(),
            "unknown Colour \"x\" in the database"
        );
    }

    #[tokio::test]
    async fn a_text_enum_is_stored_and_read_as_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.sqlite"))
            .await
            .unwrap();
        let pool = store.pool();
        sqlx::query("CREATE TABLE colours (c TEXT NOT NULL)")
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO colours (c) VALUES (?), ('green')")
            .bind(Colour::DarkBlue)
            .execute(pool)
            .await
            .unwrap();
        let texts: Vec<String> = sqlx::query_scalar("SELECT c FROM colours ORDER BY rowid")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(texts, ["dark_blue", "green"]);
        let first: Colour = sqlx::query_scalar("SELECT c FROM colours WHERE c = ?")
            .bind(Colour::DarkBlue)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(first, Colour::DarkBlue);
        let unknown = sqlx::query_scalar::<_, Colour>("SELECT c FROM colours WHERE c = 'green'")
            .fetch_one(pool)
            .await
            .unwrap_err();
        assert!(unknown.to_string().contains("unknown Colour"), "{unknown}");
    }
}
