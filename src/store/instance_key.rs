//! The per-instance secret that keys postbote's Message-IDs
//! (`instance_key`, one row): made with `rand` when first needed, kept for
//! the life of the store.

use super::{Store, now};
use anyhow::Context;

/// The secret's length in bytes.
pub const LEN: usize = 32;

/// The stored secret, if there is one.
pub async fn get(store: &Store) -> anyhow::Result<Option<[u8; LEN]>> {
    let secret: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT secret FROM instance_key WHERE id = 1")
            .fetch_optional(store.pool())
            .await
            .context("cannot read the instance key")?;
    secret
        .map(|s| {
            <[u8; LEN]>::try_from(s.as_slice())
                .map_err(|_| anyhow::anyhow!("the stored instance key is not {LEN} bytes"))
        })
        .transpose()
}

/// The stored secret; when there is none yet, `fresh` is stored and returned
/// (two processes starting at once agree on the first one written).
pub async fn get_or_create(store: &Store, fresh: [u8; LEN]) -> anyhow::Result<[u8; LEN]> {
    if let Some(secret) = get(store).await? {
        return Ok(secret);
    }
    sqlx::query(
        "INSERT INTO instance_key (id, secret, created_at) VALUES (1, ?, ?) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(fresh.as_slice())
    .bind(now())
    .execute(store.pool())
    .await
    .context("cannot store the instance key")?;
    get(store)
        .await?
        .context("the instance key is missing after it was written")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_key_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        assert_eq!(get(&store).await.unwrap(), None);
        assert_eq!(get_or_create(&store, [1; LEN]).await.unwrap(), [1; LEN]);
        assert_eq!(get_or_create(&store, [2; LEN]).await.unwrap(), [1; LEN]);
    }
}
