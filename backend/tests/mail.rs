//! `yishi serve` and its email worker as an operator runs them: without
//! `SMTP_URL` messages wait in the outbox; restarted with it, they are
//! delivered to a real SMTP server, each once, and a stop (SIGTERM) leaves
//! nothing claimed.

#[allow(dead_code)]
#[path = "../../tests/src/smtp.rs"]
mod smtp;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait as _, Database, Statement};
use serde_json::json;

use smtp::SmtpServer;

const PASSWORD: &str = "议事-村口-2026-槐树";

struct Serve {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Serve {
    async fn start(dir: &Path, smtp_url: Option<&str>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = dir.join(format!("serve-{port}.log"));
        let out = File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_yishi"));
        cmd.arg("serve")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/yishi.db?mode=rwc", dir.display()),
            )
            .env("YISHI_BIND", format!("127.0.0.1:{port}"))
            .env("YISHI_DATA_DIR", dir.join("data"))
            .env("YISHI_STATIC_DIR", dir.join("static"))
            .env("YISHI_PUBLIC_URL", "https://yishi.example")
            .env("YISHI_DEMO_DATA", "false")
            .env("YISHI_ARGON2_MEMORY_KIB", "256")
            .env("YISHI_MAIL_FROM", "议事 <noreply@yishi.example>")
            .env("YISHI_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        if let Some(url) = smtp_url {
            cmd.env("SMTP_URL", url);
        }
        let mut serve = Self {
            child: cmd.spawn().expect("yishi serve starts"),
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("yishi serve exited with {status}:\n{}", serve.log_text());
            }
            if let Ok(resp) = client.get(format!("{}/readyz", serve.url)).send().await {
                if resp.status().is_success() {
                    return serve;
                }
            }
            assert!(
                Instant::now() < deadline,
                "not ready:\n{}",
                serve.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn register(&self) -> String {
        let email = format!("{}@example.cn", uuid::Uuid::new_v4().simple());
        let resp: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.url))
            .json(&json!({
                "query": "mutation($input: RegisterInput!) { register(input: $input) { email } }",
                "variables": { "input": { "email": email, "password": PASSWORD, "displayName": "居民" } },
            }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON");
        assert!(resp.get("errors").is_none(), "{resp}");
        email
    }

    /// SIGTERM, as a service manager stops it; waits for a clean exit.
    async fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "exit {status}:\n{}", self.log_text());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "did not stop:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn count(dir: &Path, sql: &str) -> i64 {
    let db = Database::connect(format!("sqlite://{}/yishi.db", dir.display()))
        .await
        .expect("database opens");
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("a row");
    let n = row.try_get_by_index::<i64>(0).expect("a number");
    db.close().await.expect("closed");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_emails_wait_for_smtp_and_are_delivered_once_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let smtp = SmtpServer::start().await;

    // No SMTP_URL: nothing is sent, everything waits in the outbox.
    let serve = Serve::start(dir.path(), None).await;
    let first = serve.register().await;
    let second = serve.register().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    serve.stop().await;
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE status = 'queued'"
        )
        .await,
        2
    );
    assert!(smtp.received().is_empty());

    // Restarted with a relay: the backlog goes out, and new mail too.
    let serve = Serve::start(dir.path(), Some(&smtp.url())).await;
    let third = serve.register().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while smtp.received().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "only {} of 3 arrived:\n{}",
            smtp.received().len(),
            serve.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve.stop().await;

    let received = smtp.received();
    assert_eq!(received.len(), 3, "none twice");
    for email in [&first, &second, &third] {
        let message = received
            .iter()
            .find(|m| m.to == [email.clone()])
            .unwrap_or_else(|| panic!("nothing for {email}"));
        assert_eq!(message.subject(), "请验证您的邮箱");
        assert!(message
            .part("text/plain")
            .expect("text part")
            .contains("https://yishi.example/verify-email?token="));
        assert!(message.part("text/html").is_some());
    }
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE status = 'sent'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'"
        )
        .await,
        0,
        "nothing left claimed after the stop"
    );
}
