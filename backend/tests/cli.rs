//! The `yishi` command as a user runs it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn yishi(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yishi"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/yishi.db?mode=rwc", dir.display()),
        )
        .env("YISHI_DATA_DIR", dir.join("data"))
        .env("YISHI_ARGON2_MEMORY_KIB", "256")
        .env("YISHI_LOG", "warn");
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    yishi(dir, args).output().expect("yishi runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let help = run(dir.path(), &["--help"]);
    assert!(help.status.success());
    let out = text(&help.stdout);
    for command in [
        "serve",
        "migrate",
        "import-divisions",
        "create-admin",
        "schema",
        "check",
        "report",
        "backup",
        "verify-record",
    ] {
        assert!(out.contains(command), "{command} missing from:\n{out}");
        let sub = run(dir.path(), &[command, "--help"]);
        assert!(sub.status.success(), "{command} --help failed");
        assert!(text(&sub.stdout).contains("Usage: yishi"), "{command}");
    }
}

#[test]
fn invalid_configuration_exits_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = yishi(dir.path(), &["migrate"])
        .env("YISHI_BIND", "port-eighty")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("invalid configuration: YISHI_BIND:"),
        "{err}"
    );
}

#[test]
fn schema_prints_the_committed_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["schema"]);
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert_eq!(text(&out.stdout), committed, "run `make schema`");
}

#[test]
fn a_bad_file_imports_nothing_and_a_good_one_imports_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "code,name,level,parent_code\n62,甘肃省,province,\n6201,兰州市,city,62\n620102,城关区,district,6201\n6202,嘉峪关市,city,99\n",
    )
    .unwrap();
    let out = run(dir.path(), &["import-divisions", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(err.contains("line 4: unknown level \"district\""), "{err}");
    assert!(err.contains("line 5: parent 99"), "{err}");

    // gzip works too; the rows of the bad file were not kept.
    let good = dir.path().join("good.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&good).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(
        "code,name,level,parent_code\n62,甘肃省,province,\n6201,兰州市,city,62\n".as_bytes(),
    )
    .unwrap();
    gz.finish().unwrap();
    let first = run(dir.path(), &["import-divisions", good.to_str().unwrap()]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("imported 2 rows") && text(&first.stdout).contains("2 new"),
        "{}",
        text(&first.stdout)
    );
    let second = run(dir.path(), &["import-divisions", good.to_str().unwrap()]);
    assert!(
        text(&second.stdout).contains("0 new, 0 updated, 2 unchanged"),
        "{}",
        text(&second.stdout)
    );
}

#[test]
fn create_admin_prints_a_generated_password_once_and_refuses_a_weak_one() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("g.csv");
    std::fs::write(&csv, "code,name,level,parent_code\n62,甘肃省,province,\n").unwrap();
    assert!(
        run(dir.path(), &["import-divisions", csv.to_str().unwrap()])
            .status
            .success()
    );

    let out = run(dir.path(), &["create-admin", "--email", "Root@Example.cn"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("created admin root@example.cn for division 62"),
        "{stdout}"
    );
    assert!(stdout.contains("password (shown once): "), "{stdout}");

    let mut child = yishi(
        dir.path(),
        &[
            "create-admin",
            "--email",
            "weak@example.cn",
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"12345678\n")
        .unwrap();
    let weak = child.wait_with_output().unwrap();
    assert!(!weak.status.success());
    assert!(
        text(&weak.stderr).contains("too easy to guess"),
        "{}",
        text(&weak.stderr)
    );

    let dup = run(dir.path(), &["create-admin", "--email", "root@example.cn"]);
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );
}

#[tokio::test]
async fn check_passes_on_consistent_counters_and_fails_on_a_drifted_one() {
    use sea_orm::ConnectionTrait as _;
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"]).status.success());
    let clean = run(dir.path(), &["check"]);
    assert!(clean.status.success(), "{}", text(&clean.stderr));
    assert!(text(&clean.stdout).contains("counters match"));

    // A counter with no opinion behind it, as a lost write would leave.
    let db = yishi::db::Db::connect(&format!("sqlite://{}/yishi.db", dir.path().display()))
        .await
        .unwrap();
    db.writer()
        .execute_unprepared("INSERT INTO tallies (topic_id, village_code, choice, count) VALUES (7, '620123101201', 'support', 3)")
        .await
        .unwrap();
    db.close().await;
    let drifted = run(dir.path(), &["check"]);
    assert_eq!(drifted.status.code(), Some(1));
    assert!(
        text(&drifted.stdout)
            .contains("topic 7 village 620123101201 support: counter 3, opinions 0"),
        "{}",
        text(&drifted.stdout)
    );
}

#[tokio::test]
async fn verify_record_passes_on_an_untouched_record_and_fails_on_an_edited_one() {
    use sea_orm::ConnectionTrait as _;
    use yishi::domain::record::{self, Entry, Move, Who};
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"]).status.success());
    let db = yishi::db::Db::connect(&format!("sqlite://{}/yishi.db", dir.path().display()))
        .await
        .unwrap();
    for (moved, reason) in [
        (Move::Opened, None),
        (Move::EarlyCloseRequested, Some("汛期将至")),
    ] {
        record::append(
            db.writer(),
            7,
            Entry {
                moved,
                who: Who::Schedule,
                reason,
                detail: serde_json::json!({}),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    }
    db.close().await;
    for args in [&["verify-record", "7"][..], &["verify-record", "--all"][..]] {
        let intact = run(dir.path(), args);
        assert!(intact.status.success(), "{}", text(&intact.stderr));
        assert!(
            text(&intact.stdout).contains("topic 7: 2 entries intact"),
            "{}",
            text(&intact.stdout)
        );
    }

    let db = yishi::db::Db::connect(&format!("sqlite://{}/yishi.db", dir.path().display()))
        .await
        .unwrap();
    db.writer()
        .execute_unprepared("UPDATE procedure_record SET reason = '正常结束' WHERE seq = 2")
        .await
        .unwrap();
    db.close().await;
    let edited = run(dir.path(), &["verify-record", "7"]);
    assert_eq!(edited.status.code(), Some(1));
    assert!(
        text(&edited.stdout).contains("topic 7: BROKEN at entry 2"),
        "{}",
        text(&edited.stdout)
    );
}
