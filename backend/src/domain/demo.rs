//! First-start data for `make run`: the Gansu divisions and a handful of demo
//! accounts, so a newcomer can sign in at every level right away.

use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::SecretString;

use super::authz::Role;
use super::divisions::import;
use super::{accounts, residency, roles, Services};
use crate::entities::{divisions, users};
use crate::error::Result;

/// The Gansu divisions (2023 codes), shipped inside the binary.
pub const GANSU_DIVISIONS_CSV: &[u8] = include_bytes!("../../seed/gansu-divisions-2023.csv");

/// A demo account as printed once on first start.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub email: &'static str,
    pub password: String,
    pub what: &'static str,
}

struct Spec {
    email: &'static str,
    name: &'static str,
    role: Option<(Role, &'static str)>,
    village: Option<&'static str>,
    what: &'static str,
}

/// 甘肃省 › 兰州市 › 榆中县 › 夏官营镇 › 过店子村 / 太平堡村
const SPECS: &[Spec] = &[
    Spec {
        email: "admin@yishi.example",
        name: "系统管理员",
        role: Some((Role::Admin, "62")),
        village: None,
        what: "admin, Gansu",
    },
    Spec {
        email: "county@yishi.example",
        name: "榆中县组织者",
        role: Some((Role::Organiser, "620123")),
        village: None,
        what: "organiser, 榆中县 (county)",
    },
    Spec {
        email: "township@yishi.example",
        name: "夏官营镇组织者",
        role: Some((Role::Organiser, "620123101")),
        village: None,
        what: "organiser, 夏官营镇 (township)",
    },
    Spec {
        email: "village@yishi.example",
        name: "过店子村组织者",
        role: Some((Role::Organiser, "620123101201")),
        village: None,
        what: "organiser, 过店子村 (village)",
    },
    Spec {
        email: "supervisor@yishi.example",
        name: "榆中县监督员",
        role: Some((Role::Supervisor, "620123")),
        village: None,
        what: "supervisor, 榆中县",
    },
    Spec {
        email: "expert@yishi.example",
        name: "水利专家",
        role: Some((Role::Expert, "620123")),
        village: None,
        what: "expert, 榆中县",
    },
    Spec {
        email: "resident1@yishi.example",
        name: "王大爷",
        role: None,
        village: Some("620123101201"),
        what: "resident, 过店子村",
    },
    Spec {
        email: "resident2@yishi.example",
        name: "李阿姨",
        role: None,
        village: Some("620123101201"),
        what: "resident, 过店子村",
    },
    Spec {
        email: "resident3@yishi.example",
        name: "张师傅",
        role: None,
        village: Some("620123101202"),
        what: "resident, 太平堡村",
    },
];

/// Imports the Gansu divisions when the table is empty.
///
/// # Errors
/// When the shipped file fails to import.
pub async fn ensure_divisions(svc: &Services) -> anyhow::Result<bool> {
    if divisions::Entity::find().count(svc.db.reader()).await? > 0 {
        return Ok(false);
    }
    let rows = import::parse(GANSU_DIVISIONS_CSV)?;
    import::import_rows(&svc.db, rows, |_, _| {}).await?;
    Ok(true)
}

/// Creates the demo accounts when there are no users yet; returns them with
/// their generated passwords (shown once, never stored in clear).
///
/// # Errors
/// Database errors.
pub async fn ensure_accounts(svc: &Services) -> Result<Vec<DemoAccount>> {
    if users::Entity::find().count(svc.db.reader()).await? > 0 {
        return Ok(Vec::new());
    }
    let mut created = Vec::new();
    for spec in SPECS {
        let password = generate_password();
        let user = accounts::create_verified_user(
            svc,
            svc.db.writer(),
            spec.email,
            &SecretString::from(password.clone()),
            spec.name,
        )
        .await?;
        if let Some((role, code)) = spec.role {
            roles::bootstrap(svc, user.id, role, code).await?;
        }
        if let Some(village) = spec.village {
            residency::grant(svc, user.id, village).await?;
        }
        created.push(DemoAccount {
            email: spec.email,
            password,
            what: spec.what,
        });
    }
    Ok(created)
}

/// Four random words' worth of entropy in a form easy to type on a phone.
pub fn generate_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let groups: Vec<String> = (0..3)
        .map(|_| {
            (0..4)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}
