//! A fenced register in a PostgreSQL row: `(id TEXT PRIMARY KEY, value BIGINT, fence BIGINT,
//! holder TEXT)`, each operation one conditional statement (atomic under the row lock).

use super::{FencedResource, Read, Write};
use std::fmt;
use std::sync::Arc;
use tokio_postgres::Client;

/// A fenced register: the row `id` of `table`.
#[derive(Clone)]
pub struct PostgresFenced {
    client: Arc<Client>,
    id: String,
    create: String,
    read: String,
    write: String,
    select_fence: String,
}

impl PostgresFenced {
    /// The register `id` in `table` (a plain table name, quoted as an identifier).
    pub fn new(client: Arc<Client>, table: &str, id: impl Into<String>) -> PostgresFenced {
        let t = format!("\"{}\"", table.replace('"', "\"\""));
        PostgresFenced {
            client,
            id: id.into(),
            create: format!(
                "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, \
                 value BIGINT NOT NULL DEFAULT 0, fence BIGINT NOT NULL DEFAULT 0); \
                 ALTER TABLE {t} ADD COLUMN IF NOT EXISTS holder TEXT NOT NULL DEFAULT ''"
            ),
            read: format!(
                "INSERT INTO {t} AS r (id, fence, holder) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET \
                   holder = CASE WHEN EXCLUDED.fence > r.fence THEN EXCLUDED.holder ELSE r.holder END, \
                   fence = GREATEST(r.fence, EXCLUDED.fence) \
                 RETURNING value, fence, holder"
            ),
            write: format!(
                "INSERT INTO {t} AS r (id, value, fence, holder) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, fence = EXCLUDED.fence, holder = EXCLUDED.holder \
                 WHERE r.fence < EXCLUDED.fence \
                    OR (r.fence = EXCLUDED.fence AND (r.holder = '' OR r.holder = EXCLUDED.holder))"
            ),
            select_fence: format!("SELECT fence FROM {t} WHERE id = $1"),
        }
    }

    /// Creates the table if it does not exist.
    pub async fn create_table(&self) -> Result<(), PostgresFenceError> {
        self.client.batch_execute(&self.create).await.map_err(PostgresFenceError::Db)
    }

    /// The largest token seen, to report with a rejected write.
    async fn fence(&self) -> Result<u64, PostgresFenceError> {
        let row = self.client.query_one(&self.select_fence, &[&self.id]).await.map_err(PostgresFenceError::Db)?;
        from_db(row.get(0))
    }
}

/// A database failure, or a number outside `BIGINT`'s range.
#[derive(Debug)]
pub enum PostgresFenceError {
    Db(tokio_postgres::Error),
    OutOfRange(u64),
    Negative(i64),
}

impl fmt::Display for PostgresFenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostgresFenceError::Db(e) => e.fmt(f),
            PostgresFenceError::OutOfRange(n) => write!(f, "{n} does not fit a BIGINT"),
            PostgresFenceError::Negative(n) => write!(f, "the register holds {n}, not a u64"),
        }
    }
}

impl std::error::Error for PostgresFenceError {}

fn to_db(n: u64) -> Result<i64, PostgresFenceError> {
    i64::try_from(n).map_err(|_| PostgresFenceError::OutOfRange(n))
}

fn from_db(n: i64) -> Result<u64, PostgresFenceError> {
    u64::try_from(n).map_err(|_| PostgresFenceError::Negative(n))
}

impl PostgresFenced {
    /// The register as it is, without presenting a token (the fence is left alone).
    pub async fn peek(&self) -> Result<Read, PostgresFenceError> {
        self.read(0, "").await
    }

    /// Reads the value, raising the fence to (`token`, `holder`) if `token` is larger (see
    /// [`FencedResource::read`]).
    pub async fn read(&self, token: u64, holder: &str) -> Result<Read, PostgresFenceError> {
        let row = self.client.query_one(&self.read, &[&self.id, &to_db(token)?, &holder]).await.map_err(PostgresFenceError::Db)?;
        Ok(Read { value: from_db(row.get(0))?, fence: from_db(row.get(1))?, holder: row.get(2) })
    }

    /// Writes `value` if the fence lets (`token`, `holder`) through (see
    /// [`FencedResource::write`]).
    pub async fn write(&self, token: u64, holder: &str, value: u64) -> Result<Write, PostgresFenceError> {
        let applied =
            self.client.execute(&self.write, &[&self.id, &to_db(value)?, &to_db(token)?, &holder]).await.map_err(PostgresFenceError::Db)?;
        Ok(if applied == 1 { Write::Applied } else { Write::Rejected { fence: self.fence().await? } })
    }
}

impl FencedResource for PostgresFenced {
    type Error = PostgresFenceError;

    async fn read(&self, token: u64, holder: &str) -> Result<Read, PostgresFenceError> {
        PostgresFenced::read(self, token, holder).await
    }

    async fn write(&self, token: u64, holder: &str, value: u64) -> Result<Write, PostgresFenceError> {
        PostgresFenced::write(self, token, holder, value).await
    }
}
