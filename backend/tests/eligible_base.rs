//! Property test of a topic's eligible base (issue 15), on SQLite and on
//! PostgreSQL: over random sequences of residency approvals (through the
//! review queue or granted), moves away, opinions and topic moves
//! (announce, open, close), at every step
//! - the eligible residents per village the results show (read through the
//!   in-memory tally cache) equal a recount from the residencies while the
//!   topic is announced or open, and the recount taken at its close after;
//! - every participation shown is within [0, 1].
//!
//! One database per backend serves every case; each case makes its own
//! users and topics in villages the cases before it used least (so a
//! village's responses can outnumber its residents when one who answered
//! moves away), and the recount reads the residencies of everyone.
//! `PROPTEST_CASES` sets the number of cases (default 32 per backend).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Database, Statement};

use yishi::config::Settings;
use yishi::domain::authz::{Actor, Role};
use yishi::domain::divisions::{import, Level};
use yishi::domain::opinions::{self, ChoiceInput};
use yishi::domain::residency::{self, Decision};
use yishi::domain::results::{self, Freshness};
use yishi::domain::topics::{
    self, Category, Choice, Eligibility, Kind, State, TopicDraft, Trigger,
};
use yishi::domain::{roles, Services};
use yishi::error::Error;
use yishi::state::Clock;

/// 夏官营镇, the scope of one topic of each case; its villages are where the
/// case's residents live, and 城关镇 is the town they may move away to.
const TOWNSHIP: &str = "620123101";
const OTHER_TOWNSHIP: &str = "620123100";
/// 榆中县, where the case's organiser works: it reviews all three villages.
const COUNTY: &str = "620123";
/// Users of one case.
const USERS: usize = 4;

#[derive(Debug, Default)]
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.0.load(Ordering::SeqCst))
    }
}

impl TestClock {
    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// The user asks to live in the village and an organiser approves it
    /// (or, `granted`, it is recorded directly).
    Approve {
        user: usize,
        village: usize,
        granted: bool,
    },
    /// The user gives an opinion on the topic (refused when not eligible or
    /// not open).
    Opinion { user: usize, topic: usize },
    /// The topic's next move: announce, open or close, on time.
    Next { topic: usize },
}

/// Two villages of [`TOWNSHIP`] and one of [`OTHER_TOWNSHIP`].
const VILLAGES: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..USERS, 0..VILLAGES, any::<bool>())
            .prop_map(|(user, village, granted)| Op::Approve { user, village, granted }),
        3 => (0..USERS, 0..2usize).prop_map(|(user, topic)| Op::Opinion { user, topic }),
        2 => (0..2usize).prop_map(|topic| Op::Next { topic }),
    ]
}

struct World {
    svc: Services,
    clock: Arc<TestClock>,
    /// The villages of each township, and how many cases ran.
    villages: [Vec<String>; 2],
    cases: std::sync::atomic::AtomicUsize,
    _dir: tempfile::TempDir,
}

impl World {
    /// The villages of the next case.
    fn next_villages(&self) -> [String; VILLAGES] {
        let k = self.cases.fetch_add(1, Ordering::SeqCst);
        let [inside, outside] = &self.villages;
        [
            inside[(2 * k) % inside.len()].clone(),
            inside[(2 * k + 1) % inside.len()].clone(),
            outside[k % outside.len()].clone(),
        ]
    }
}

fn settings(url: &str, dir: &std::path::Path) -> Settings {
    let vars = [
        ("DATABASE_URL", url.to_owned()),
        ("YISHI_BIND", "127.0.0.1:0".to_owned()),
        (
            "YISHI_JWT_SECRET",
            "test-secret-test-secret-test-secret-0123".to_owned(),
        ),
        ("YISHI_DATA_DIR", dir.display().to_string()),
        ("YISHI_ARGON2_MEMORY_KIB", "256".to_owned()),
        ("YISHI_DEMO_DATA", "false".to_owned()),
        // Topics are announced whenever a case gets to it.
        ("YISHI_NOTICE_PERIOD_HOURS", "0".to_owned()),
    ];
    Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("settings")
}

async fn world(url: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::default());
    let svc = yishi::init_services_with_clock(settings(url, dir.path()), clock.clone())
        .await
        .expect("services");
    svc.db.migrate().await.expect("migrations");
    let rows: Vec<import::Row> = import::parse(yishi::domain::demo::GANSU_DIVISIONS_CSV)
        .unwrap()
        .into_iter()
        .filter(|r| {
            [OTHER_TOWNSHIP, TOWNSHIP]
                .iter()
                .any(|k| r.code.starts_with(k) || k.starts_with(r.code.as_str()))
        })
        .collect();
    let villages = [TOWNSHIP, OTHER_TOWNSHIP].map(|town| {
        rows.iter()
            .filter(|r| r.code.len() == 12 && r.code.starts_with(town))
            .map(|r| r.code.clone())
            .collect::<Vec<_>>()
    });
    import::import_rows(&svc.db, rows, |_, _| {}).await.unwrap();
    World {
        svc,
        clock,
        villages,
        cases: std::sync::atomic::AtomicUsize::new(0),
        _dir: dir,
    }
}

async fn new_user(svc: &Services) -> i32 {
    let now = svc.now();
    yishi::entities::users::ActiveModel {
        email: Set(format!("{}@example.cn", uuid::Uuid::new_v4().simple())),
        password_hash: Set("x".to_owned()),
        display_name: Set("居民".to_owned()),
        locale: Set("zh-CN".to_owned()),
        email_verified_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(svc.db.writer())
    .await
    .unwrap()
    .id
}

/// What a case keeps of one topic.
struct CaseTopic {
    id: i64,
    scope: String,
    stakeholders: Option<Vec<i32>>,
    /// The recount taken when it closed: the frozen base.
    frozen: Option<BTreeMap<String, i64>>,
}

/// Eligible residents per village of `topic`, counted from the residencies
/// here and now (no zero rows).
async fn recount(svc: &Services, topic: &CaseTopic) -> BTreeMap<String, i64> {
    let backend = svc.db.backend();
    let listed = match &topic.stakeholders {
        Some(users) => format!(
            " AND user_id IN ({})",
            users
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => String::new(),
    };
    let rows = svc
        .db
        .writer()
        .query_all(Statement::from_string(
            backend,
            format!(
                "SELECT division_code, CAST(COUNT(*) AS BIGINT) FROM residencies \
                 WHERE status = 'approved' AND division_code LIKE '{}%'{listed} GROUP BY division_code",
                topic.scope
            ),
        ))
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap(),
                r.try_get_by_index::<i64>(1).unwrap(),
            )
        })
        .collect()
}

async fn state_of(svc: &Services, id: i64) -> State {
    State::parse(&topics::get(svc.db.reader(), id).await.unwrap().state).unwrap()
}

/// Checks both properties for one topic.
async fn check(svc: &Services, organiser: &Actor, topic: &CaseTopic) -> Result<(), TestCaseError> {
    let shown = results::results(
        svc,
        Some(organiser),
        topic.id,
        Level::Village,
        None,
        Freshness::WithinLag,
    )
    .await
    .unwrap();
    prop_assert!(shown.full_detail);
    let mut eligible = BTreeMap::new();
    for row in shown.rows.iter().chain([&shown.overall]) {
        if let Some(p) = row.participation() {
            prop_assert!((0.0..=1.0).contains(&p), "participation {p} in {row:?}");
        }
    }
    for row in shown.rows.iter().filter(|r| r.eligible != 0) {
        eligible.insert(row.code.clone(), row.eligible);
    }
    let expected = match state_of(svc, topic.id).await {
        State::Draft => BTreeMap::new(),
        State::Announced | State::Open => recount(svc, topic).await,
        _ => topic.frozen.clone().expect("recounted at its close"),
    };
    prop_assert_eq!(eligible, expected, "topic {}", topic.id);
    Ok(())
}

async fn run_case(world: &World, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let svc = &world.svc;
    let organiser_id = new_user(svc).await;
    roles::bootstrap(svc, organiser_id, Role::Organiser, COUNTY)
        .await
        .unwrap();
    let organiser = Actor::load(svc.db.reader(), organiser_id).await.unwrap();
    let villages = world.next_villages();
    let mut users = Vec::new();
    for i in 0..USERS {
        let id = new_user(svc).await;
        // Half start as residents of the first village.
        if i < USERS / 2 {
            residency::grant(svc, id, &villages[0]).await.unwrap();
        }
        users.push(id);
    }
    let now = svc.now();
    let draft = |scope: &str, stakeholders: &[i32]| TopicDraft {
        title: "村道硬化工程".to_owned(),
        body: "拟对三组至五组村道进行硬化。".to_owned(),
        category: Some(Category::TransportWater),
        kind: Some(Kind::Decision),
        scope_code: scope.to_owned(),
        eligibility: Some(if stakeholders.is_empty() {
            Eligibility::Residents
        } else {
            Eligibility::Stakeholders
        }),
        stakeholder_user_ids: stakeholders.to_vec(),
        opens_at: Some(now + Duration::days(1)),
        closes_at: Some(now + Duration::days(2)),
        ..TopicDraft::default()
    };
    let listed = vec![users[0], users[1]];
    let mut case_topics = Vec::new();
    for (scope, stakeholders) in [(TOWNSHIP, None), (villages[0].as_str(), Some(listed))] {
        let made = topics::create(
            svc,
            &organiser,
            draft(scope, stakeholders.as_deref().unwrap_or_default()),
        )
        .await
        .unwrap();
        case_topics.push(CaseTopic {
            id: made.id,
            scope: scope.to_owned(),
            stakeholders,
            frozen: None,
        });
    }

    for op in ops {
        match op {
            Op::Approve {
                user,
                village,
                granted,
            } => {
                let (user, village) = (users[user], villages[village].as_str());
                if granted {
                    residency::grant(svc, user, village).await.unwrap();
                } else {
                    match residency::request(svc, user, village, None).await {
                        Ok(asked) => {
                            residency::decide(svc, &organiser, asked.id, Decision::Approve)
                                .await
                                .unwrap();
                        }
                        // Already lives there.
                        Err(Error::Conflict(_)) => {}
                        Err(other) => panic!("request: {other:?}"),
                    }
                }
            }
            Op::Opinion { user, topic } => {
                let input = ChoiceInput {
                    stance: Some(Choice::Support),
                    option_id: None,
                };
                match opinions::submit(svc, users[user], case_topics[topic].id, input, None).await {
                    // Not eligible, not open, or a draft nobody sees yet.
                    Ok(_) | Err(Error::Forbidden(_) | Error::Conflict(_) | Error::NotFound(_)) => {}
                    Err(other) => panic!("opinion: {other:?}"),
                }
            }
            Op::Next { topic } => {
                let topic = &mut case_topics[topic];
                match state_of(svc, topic.id).await {
                    State::Draft => {
                        // Its times from now, whenever this comes.
                        let now = svc.now();
                        svc.db
                            .writer()
                            .execute(Statement::from_sql_and_values(
                                svc.db.backend(),
                                format!(
                                    "UPDATE topics SET opens_at = {}, closes_at = {} WHERE id = {}",
                                    yishi::db::param(svc.db.backend(), 1),
                                    yishi::db::param(svc.db.backend(), 2),
                                    topic.id
                                ),
                                [
                                    (now + Duration::hours(1)).into(),
                                    (now + Duration::hours(2)).into(),
                                ],
                            ))
                            .await
                            .unwrap();
                        topics::announce(svc, Trigger::Schedule, topic.id)
                            .await
                            .unwrap();
                    }
                    State::Announced => {
                        world.clock.advance(Duration::hours(1));
                        topics::open(svc, Trigger::Schedule, topic.id)
                            .await
                            .unwrap();
                    }
                    State::Open => {
                        world.clock.advance(Duration::hours(1));
                        topics::close(svc, Trigger::Schedule, topic.id)
                            .await
                            .unwrap();
                        topic.frozen = Some(recount(svc, topic).await);
                    }
                    _ => {}
                }
            }
        }
        for topic in &case_topics {
            check(svc, &organiser, topic).await?;
        }
    }
    Ok(())
}

fn property_holds_on(url: String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = rt.block_on(world(&url));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..60), |ops| {
        rt.block_on(run_case(&world, ops))
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    drop(world);
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
}

#[test]
fn the_eligible_base_is_a_recount_and_participation_stays_within_one_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    property_holds_on(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("yishi.db").display()
    ));
}

#[test]
fn the_eligible_base_is_a_recount_and_participation_stays_within_one_on_postgres() {
    let admin = std::env::var("YISHI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("yishi_prop_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ddl = |sql: String| {
        rt.block_on(async {
            // No skipping: a missing PostgreSQL must fail the test.
            let conn = Database::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin}: {e}"));
            conn.execute_unprepared(&sql).await.unwrap();
            let _ = conn.close().await;
        });
    };
    ddl(format!("CREATE DATABASE {name}"));
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let outcome = std::panic::catch_unwind(|| property_holds_on(format!("{base}/{name}")));
    ddl(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
