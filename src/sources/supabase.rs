//! Supabase: PostgreSQL + pgvector behind Supabase's endpoints. The reading
//! is the pgvector source's; this file only builds the connection URL from a
//! project ref (or takes `--url`).
//!
//! The pgvector source uses unnamed statements inside one transaction per
//! page, so it works through the transaction-mode pooler (port 6543), which
//! forbids named prepared statements and session state.
//!
//! Endpoints (Supabase "Connecting to Postgres"):
//! - transaction pooler: `postgres.<ref>@aws-0-<region>.pooler.supabase.com:6543`
//! - session pooler:     same host, port 5432
//! - direct:             `postgres@db.<ref>.supabase.co:5432` (IPv6 unless the IPv4 add-on)
//!
//! The role needs USAGE on the table's schema and SELECT on the table (the
//! `postgres` role has both); catalog reads (pg_class, pg_index, pg_attribute)
//! are open to every role.

use super::pgvector;
use crate::error::{Error, Result};

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pg: pgvector::Args,
    #[command(flatten)]
    pub conn: Conn,
}

/// How to reach the project without `--url` (shared by `export supabase`
/// and `discover supabase`).
#[derive(Clone, Debug, clap::Args)]
pub struct Conn {
    /// Supabase project ref: the URL is built from it (with --password,
    /// --region, --pooler), and it wins over --url / DATABASE_URL.
    #[arg(long)]
    pub project_ref: Option<String>,
    /// Database password (used with --project-ref; never written or printed).
    #[arg(long, env = "SUPABASE_DB_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Project region (pooler host aws-0-<region>.pooler.supabase.com).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Endpoint: transaction (pooler, port 6543), session (pooler, port 5432) or direct.
    #[arg(long, default_value = "transaction")]
    pub pooler: String,
}

/// Percent-encode a URL userinfo component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The connection URL for these arguments.
pub fn url(a: &Args) -> Result<String> {
    conn_url(a.pg.url.as_deref(), &a.conn)
}

/// The URL `conn` builds from the project ref (which wins), else `url`.
pub fn conn_url(url: Option<&str>, a: &Conn) -> Result<String> {
    let Some(r) = &a.project_ref else {
        return url.map(str::to_owned).ok_or_else(|| Error::Usage("pass --url (or DATABASE_URL), or --project-ref with --password (or SUPABASE_DB_PASSWORD)".into()));
    };
    let Some(pw) = &a.password else {
        return Err(Error::Usage(format!("--project-ref {r} needs the database password: --password or SUPABASE_DB_PASSWORD")));
    };
    let (user, host, port) = match a.pooler.as_str() {
        "transaction" => (format!("postgres.{r}"), format!("aws-0-{}.pooler.supabase.com", a.region), 6543),
        "session" => (format!("postgres.{r}"), format!("aws-0-{}.pooler.supabase.com", a.region), 5432),
        "direct" => ("postgres".to_owned(), format!("db.{r}.supabase.co"), 5432),
        other => return Err(Error::Usage(format!("--pooler {other}: use transaction, session or direct"))),
    };
    Ok(format!("postgres://{}:{}@{host}:{port}/postgres?sslmode=require", encode(&user), encode(pw)))
}

pub async fn connect(a: Args) -> Result<pgvector::Pgvector> {
    let mut pg = a.pg.clone();
    pg.url = Some(url(&a)?);
    pgvector::Pgvector::connect_as("supabase", pg).await
}

/// Every table with a vector column, as `export supabase` would see it
/// (only those of `schema` when given).
pub async fn discover(url: Option<&str>, conn: &Conn, schema: Option<&str>) -> Result<Vec<super::Discovered>> {
    pgvector::discover_in("supabase", &conn_url(url, conn)?, schema).await
}

/// `--all`: every exportable table (see [`pgvector::connect_all`]).
pub async fn connect_all(a: Args) -> Result<(Vec<pgvector::Pgvector>, Vec<super::Skipped>)> {
    let mut pg = a.pg.clone();
    pg.url = Some(url(&a)?);
    pgvector::connect_all("supabase", pg).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn builds_pooler_urls() {
        let t = T::parse_from(["t", "--table", "docs", "--project-ref", "abcd", "--password", "p@ss:w/rd", "--region", "eu-west-2"]);
        assert_eq!(url(&t.a).unwrap(), "postgres://postgres.abcd:p%40ss%3Aw%2Frd@aws-0-eu-west-2.pooler.supabase.com:6543/postgres?sslmode=require");
        let t = T::parse_from(["t", "--table", "docs", "--project-ref", "abcd", "--password", "x", "--pooler", "direct"]);
        assert_eq!(url(&t.a).unwrap(), "postgres://postgres:x@db.abcd.supabase.co:5432/postgres?sslmode=require");
        let t = T::parse_from(["t", "--table", "docs"]);
        assert!(url(&t.a).is_err() || std::env::var("DATABASE_URL").is_ok());
        // The project ref wins over a URL (from --url or DATABASE_URL).
        let t = T::parse_from(["t", "--table", "docs", "--url", "postgres://elsewhere/db", "--project-ref", "abcd", "--password", "x", "--pooler", "session"]);
        assert_eq!(url(&t.a).unwrap(), "postgres://postgres.abcd:x@aws-0-us-east-1.pooler.supabase.com:5432/postgres?sslmode=require");
        let t = T::parse_from(["t", "--table", "docs", "--url", "postgres://elsewhere/db", "--project-ref", "abcd"]);
        let e = url(&t.a).unwrap_err().to_string();
        assert!(e.contains("--project-ref abcd needs the database password"), "{e}");
    }
}
