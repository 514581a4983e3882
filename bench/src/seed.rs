//! Bench-only bulk seeding: the Gansu divisions, N verified residents spread
//! round-robin over the villages (one precomputed argon2 hash, set-based
//! INSERTs in a few big transactions), an organiser, open DECISION topics at
//! province, city and county scope, the province results topic answered by
//! every resident, and a file of access tokens for the load generator.
//!
//! The province and city topics are written straight into the database:
//! the domain only lets organisers scope a topic to a village, township or
//! county, and the benchmark wants the largest scopes.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use argon2::password_hash::{PasswordHasher, SaltString};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};
use yishi::auth::jwt::JwtKeys;
use yishi::db::Db;
use yishi::domain::demo::GANSU_DIVISIONS_CSV;
use yishi::domain::divisions::import;

/// Rows per transaction: a few big transactions, bounded memory.
const CHUNK: i64 = 250_000;
/// Access tokens for the load generator live this long.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, env = "YISHI_JWT_SECRET")]
    jwt_secret: String,
    /// Verified residents to create.
    #[arg(long, env = "BENCH_RESIDENTS", default_value_t = 1_000_000)]
    residents: i64,
    /// Residents (from the first) to mint access tokens for.
    #[arg(long, env = "BENCH_TOKENS", default_value_t = 300_000)]
    tokens: i64,
    /// Directory for seed.json and tokens.txt.
    #[arg(long)]
    out: PathBuf,
}

struct Seeder<'a> {
    db: &'a Db,
    backend: DatabaseBackend,
}

impl Seeder<'_> {
    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        let sql = match self.backend {
            DatabaseBackend::Postgres => sql.to_owned(),
            // `$n` → `?n`: SQLite accepts numbered `?` parameters.
            _ => sql.replace('$', "?"),
        };
        Statement::from_sql_and_values(self.backend, sql, values)
    }

    async fn scalar(&self, sql: &str, values: Vec<Value>) -> anyhow::Result<i64> {
        let row = self
            .db
            .writer()
            .query_one(self.stmt(sql, values))
            .await?
            .context("no row")?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    fn is_pg(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }
}

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.jwt_secret.len() < 32 {
        bail!("YISHI_JWT_SECRET must be at least 32 characters (the server refuses shorter)");
    }
    if args.residents < 1 {
        bail!("--residents must be positive");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let db = Db::connect(&args.database_url).await?;
    db.migrate().await?;
    let s = Seeder {
        db: &db,
        backend: db.backend(),
    };

    let users = s.scalar("SELECT COUNT(*) FROM users", vec![]).await?;
    if users > 0 {
        bail!("the database already has {users} users; the bench seeds a fresh database");
    }
    let t = Instant::now();
    if s.scalar("SELECT COUNT(*) FROM divisions", vec![]).await? == 0 {
        let rows = import::parse(GANSU_DIVISIONS_CSV)?;
        import::import_rows(&db, rows, |_, _| {}).await?;
    }
    let villages = s
        .scalar(
            "SELECT COUNT(*) FROM divisions WHERE level = 'village'",
            vec![],
        )
        .await?;
    eprintln!(
        "divisions: {villages} villages ({:.1}s)",
        t.elapsed().as_secs_f64()
    );
    if villages == 0 {
        bail!("no villages imported");
    }

    // Largest city and county by villages: the city and county topics.
    let biggest = |len: i32| {
        let sql = "SELECT substr(code, 1, $1) AS c FROM divisions WHERE level = 'village' \
                   GROUP BY substr(code, 1, $1) ORDER BY COUNT(*) DESC, c LIMIT 1";
        s.stmt(sql, vec![len.into()])
    };
    let pick = |stmt: Statement| async {
        let row = db.writer().query_one(stmt).await?.context("no division")?;
        anyhow::Ok(row.try_get_by_index::<String>(0)?)
    };
    let city = pick(biggest(4)).await?;
    let county = pick(biggest(6)).await?;
    let township = pick(biggest(9)).await?;
    let province = city[..2].to_owned();

    let now = Utc::now();
    let hash = argon2::Argon2::default()
        .hash_password(
            b"bench-password",
            &SaltString::from_b64("YmVuY2hzYWx0YmVuY2g").map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string();

    // The organiser (province-wide) who created the topics.
    let txn = db.begin().await?;
    let organiser = txn
        .query_one(s.stmt(
            "INSERT INTO users (email, password_hash, display_name, locale, email_verified_at, created_at, updated_at) \
             VALUES ('organiser@bench.invalid', $1, '组织者', 'zh-CN', $2, $2, $2) RETURNING id",
            vec![hash.clone().into(), now.into()],
        ))
        .await?
        .context("no organiser id")?
        .try_get_by_index::<i32>(0)?;
    txn.execute(s.stmt(
        "INSERT INTO role_assignments (user_id, role, division_code, created_at, created_by) \
         VALUES ($1, 'organiser', $2, $3, NULL)",
        vec![organiser.into(), province.clone().into(), now.into()],
    ))
    .await?;
    let topic = |title: &'static str, scope: String| {
        let stmt = s.stmt(
            "INSERT INTO topics (title, body, category, kind, scope_code, technical, \
             reason_required_for_dissent, quorum_percent, eligibility, state, notice_at, opens_at, \
             closes_at, announced_at, opened_at, closed_at, withdrawn_at, withdraw_reason, created_by, \
             created_at, updated_at, deadline, completed_at) \
             VALUES ($1, $2, 'other', 'decision', $3, $4, $4, NULL, 'residents', 'open', $5, $6, $7, $5, $6, \
             NULL, NULL, NULL, $8, $5, $6, NULL, NULL) RETURNING id",
            vec![
                title.into(),
                format!("{title}（基准测试）").into(),
                scope.into(),
                false.into(),
                (now - chrono::Duration::hours(2)).into(),
                (now - chrono::Duration::hours(1)).into(),
                (now + chrono::Duration::days(7)).into(),
                organiser.into(),
            ],
        );
        let txn = &txn;
        async move {
            let row = txn.query_one(stmt).await?.context("no topic id")?;
            anyhow::Ok(row.try_get_by_index::<i64>(0)?)
        }
    };
    let results_topic = topic("全省决策：结果", province.clone()).await?;
    let submit_topic = topic("全省决策：提交", province.clone()).await?;
    let baseline_topic = topic("基准：原始插入", province.clone()).await?;
    let city_topic = topic("市级决策", city.clone()).await?;
    let county_topic = topic("县级决策", county.clone()).await?;
    // Villages numbered 0..n in code order, for the round-robin.
    txn.execute_unprepared("DROP TABLE IF EXISTS bench_villages")
        .await?;
    txn.execute_unprepared(
        "CREATE TABLE bench_villages (idx BIGINT PRIMARY KEY, code VARCHAR(12) NOT NULL)",
    )
    .await?;
    txn.execute_unprepared(
        "INSERT INTO bench_villages (idx, code) \
         SELECT ROW_NUMBER() OVER (ORDER BY code) - 1, code FROM divisions WHERE level = 'village'",
    )
    .await?;
    txn.commit().await?;

    // Residents, their residencies and their opinions on the results topic.
    let base = i64::from(organiser) + 1;
    let t = Instant::now();
    let mut lo = 0;
    while lo < args.residents {
        let hi = (lo + CHUNK).min(args.residents) - 1;
        let (first, last) = (base + lo, base + hi);
        let txn = db.begin().await?;
        let series = if s.is_pg() {
            "SELECT n FROM generate_series($1::BIGINT, $2::BIGINT) AS g(n)"
        } else {
            "WITH RECURSIVE seq(n) AS (SELECT $1 UNION ALL SELECT n + 1 FROM seq WHERE n < $2) SELECT n FROM seq"
        };
        txn.execute(s.stmt(
            &format!(
                "INSERT INTO users (id, email, password_hash, display_name, locale, email_verified_at, created_at, updated_at) \
                 SELECT CAST(n AS INTEGER), 'r' || CAST(n AS VARCHAR(12)) || '@bench.invalid', $3, '居民', 'zh-CN', $4, $4, $4 \
                 FROM ({series}) AS s"
            ),
            vec![first.into(), last.into(), hash.clone().into(), now.into()],
        ))
        .await?;
        txn.execute(s.stmt(
            "INSERT INTO residencies (user_id, division_code, status, note, decision_reason, requested_at, decided_at, decided_by) \
             SELECT u.id, v.code, 'approved', NULL, NULL, $1, $1, NULL FROM users u \
             JOIN bench_villages v ON v.idx = (u.id - $2) % $3 WHERE u.id BETWEEN $4 AND $5",
            vec![now.into(), base.into(), villages.into(), first.into(), last.into()],
        ))
        .await?;
        txn.execute(s.stmt(
            "INSERT INTO opinions (topic_id, user_id, village_code, choice, reason, proxy, proxy_name, meeting_id, \
             recorded_by, confirmed_at, revision, created_at, updated_at) \
             SELECT $1, user_id, division_code, \
             CASE user_id % 5 WHEN 3 THEN 'oppose' WHEN 4 THEN 'abstain' ELSE 'support' END, \
             NULL, $2, NULL, NULL, NULL, NULL, 1, $3, $3 FROM residencies \
             WHERE status = 'approved' AND user_id BETWEEN $4 AND $5",
            vec![results_topic.into(), false.into(), now.into(), first.into(), last.into()],
        ))
        .await?;
        txn.execute(s.stmt(
            "INSERT INTO opinion_revisions (topic_id, opinion_id, revision, village_code, choice, reason, proxy, \
             recorded_by, created_at) \
             SELECT topic_id, id, 1, village_code, choice, NULL, proxy, NULL, created_at FROM opinions \
             WHERE topic_id = $1 AND user_id BETWEEN $2 AND $3",
            vec![results_topic.into(), first.into(), last.into()],
        ))
        .await?;
        txn.commit().await?;
        eprintln!(
            "residents {}..={} ({:.1}s)",
            lo + 1,
            hi + 1,
            t.elapsed().as_secs_f64()
        );
        lo = hi + 1;
    }
    let residents_secs = t.elapsed().as_secs_f64();

    let txn = db.begin().await?;
    txn.execute(s.stmt(
        "INSERT INTO tallies (topic_id, village_code, choice, count) \
         SELECT topic_id, village_code, choice, COUNT(*) FROM opinions WHERE topic_id = $1 \
         GROUP BY topic_id, village_code, choice",
        vec![results_topic.into()],
    ))
    .await?;
    // The eligible snapshot taken when a topic opens (lifecycle.rs).
    for (id, scope) in [
        (results_topic, &province),
        (submit_topic, &province),
        (baseline_topic, &province),
        (city_topic, &city),
        (county_topic, &county),
    ] {
        txn.execute(s.stmt(
            "INSERT INTO topic_eligible (topic_id, village_code, count) \
             SELECT $1, division_code, COUNT(*) FROM residencies \
             WHERE status = 'approved' AND division_code LIKE $2 GROUP BY division_code",
            vec![id.into(), format!("{scope}%").into()],
        ))
        .await?;
    }
    txn.execute_unprepared("DROP TABLE bench_villages").await?;
    if s.is_pg() {
        txn.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
        )
        .await?;
    }
    txn.commit().await?;
    db.writer().execute_unprepared("ANALYZE").await?;
    if !s.is_pg() {
        db.writer()
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }

    // Tokens for the first residents, and the organiser's.
    let t = Instant::now();
    let keys = JwtKeys::new(args.jwt_secret.as_bytes(), TOKEN_TTL);
    let count = args.tokens.clamp(1, args.residents);
    let path = args.out.join("tokens.txt");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    for uid in base..base + count {
        let (token, _) = keys.issue(i32::try_from(uid)?, now);
        writeln!(file, "{token}")?;
    }
    file.flush()?;
    let (organiser_token, _) = keys.issue(organiser, now);
    let tokens_secs = t.elapsed().as_secs_f64();

    let summary = serde_json::json!({
        "backend": if s.is_pg() { "postgres" } else { "sqlite" },
        "residents": args.residents,
        "villages": villages,
        "first_user_id": base,
        "organiser_id": organiser,
        "tokens": count,
        "tokens_file": path,
        "organiser_token": organiser_token,
        "codes": { "province": province, "city": city, "county": county, "township": township },
        "topics": {
            "results": results_topic,
            "submit": submit_topic,
            "baseline": baseline_topic,
            "city": city_topic,
            "county": county_topic,
        },
        "seconds": {
            "residents_and_opinions": residents_secs,
            "tokens": tokens_secs,
            "total": started.elapsed().as_secs_f64(),
        },
        "seeded_at": rfc3339(now),
    });
    std::fs::write(
        args.out.join("seed.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    eprintln!(
        "seeded {} residents in {:.1}s (residents+opinions {residents_secs:.1}s, tokens {tokens_secs:.1}s)",
        args.residents,
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}
