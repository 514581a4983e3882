//! What a request may cost: lists cost their page, fragments count where
//! they are spread, per-item lookups are batched, exports are streamed and
//! safe to open in a spreadsheet.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, error_code, fast_resident, spawn_app, topic_input, Account, Backend, TestApp,
};

/// An open DECISION topic titled `title` over `scope`, run by a fresh
/// organiser of it.
async fn open_topic(app: &TestApp, scope: &str, title: &str) -> (String, Account) {
    let mut input = topic_input(scope, "DECISION");
    input["title"] = json!(title);
    app.open_topic(scope, input).await
}

async fn vote(app: &TestApp, token: &str, topic: &str, stance: &str, reason: &str) {
    app.ok(
        Some(token),
        "mutation($t: ID!, $s: Stance, $r: String) { submitOpinion(topicId: $t, stance: $s, reason: $r) { id } }",
        json!({ "t": topic, "s": stance, "r": reason }),
    )
    .await;
}

/// Asserts a request-level refusal with `code` whose message mentions `says`.
fn assert_refused(resp: &Value, code: &str, says: &str) {
    assert_eq!(error_code(resp), Some(code), "{resp:#}");
    assert!(resp.get("data").is_none_or(Value::is_null), "{resp:#}");
    let message = resp["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message}");
}

// ---------------------------------------------------------------------------
// The pages' own queries, read from the frontend sources.

/// Every `graphql(`…`)` document in the frontend's sources (the generated
/// `gql/` folder and tests left out), by file.
fn frontend_documents() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("frontend sources") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "gql" && name != "tests" {
                    walk(&path, out);
                }
            } else if name.ends_with(".ts") || name.ends_with(".vue") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut rest = text.as_str();
                while let Some(start) = rest.find("graphql(`") {
                    let body = &rest[start + "graphql(`".len()..];
                    let end = body.find('`').expect("closing backtick");
                    out.push((path.display().to_string(), body[..end].to_owned()));
                    rest = &body[end..];
                }
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/src");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

/// `fragment Name on …` definitions in `doc`, by name.
fn fragments_in(doc: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut rest = doc;
    while let Some(start) = rest.find("fragment ") {
        let text = &rest[start..];
        let name: String = text["fragment ".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let open = text.find('{').unwrap();
        let mut depth = 0;
        let mut end = open;
        for (i, c) in text[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.insert(name, text[..end].to_owned());
        rest = &text[end..];
    }
    found
}

fn operation_name(doc: &str) -> String {
    let after = doc
        .trim_start()
        .split_once(' ')
        .map_or("", |(_, rest)| rest);
    after
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The queries of the resident and admin pages, each with the fragments it
/// spreads (a page may use one defined in another document).
fn page_queries() -> Vec<(String, String)> {
    let documents = frontend_documents();
    let fragments: BTreeMap<String, String> = documents
        .iter()
        .flat_map(|(_, doc)| fragments_in(doc))
        .collect();
    documents
        .into_iter()
        .filter(|(_, doc)| doc.trim_start().starts_with("query"))
        .map(|(_, mut doc)| {
            for (name, text) in &fragments {
                if doc.contains(&format!("...{name}")) && !doc.contains(&format!("fragment {name}"))
                {
                    doc.push('\n');
                    doc.push_str(text);
                }
            }
            (operation_name(&doc), doc)
        })
        .collect()
}

/// The largest page each list is asked for by the pages (see the `first:`
/// they pass), and values for the other variables.
fn variables_for(name: &str, topic: &str, admin: &Account) -> Value {
    let first = match name {
        // The division picker and the divisions page.
        "AdminDivisions" => 200,
        // The admin topic list (30 a page; the dashboard asks 10).
        "AdminTopics" => 30,
        // The home page grows by 30 a press up to the 100 topics serves.
        "HomeTopics" => 100,
        "AdminOpinions" => 50,
        _ => 50,
    };
    // Results are asked within the topic's scope, topics within a division.
    let within = (name != "AdminTopicResults").then_some("62");
    json!({
        "code": "62",
        "parentCode": "62",
        "first": first,
        "id": topic,
        "topicId": topic,
        "within": within,
        "email": admin.email,
        "userId": admin.id,
        "level": "VILLAGE",
        "audience": { "kind": "ALL_DISSENTERS" },
    })
}

/// The heaviest of them, which must also run without any error.
const HEAVIEST: &[&str] = &[
    "DivisionChildren",
    "AdminDivisions",
    "HomeTopics",
    "AdminTopics",
    "AdminSupervisedTopics",
    "AdminOpinions",
    "AdminTopic",
    "AdminTopicResults",
    "AdminResidencyRequests",
    "AdminSuggestions",
    "Me",
];

async fn every_query_of_the_resident_and_admin_pages_passes_the_limits_at_its_page_size(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.with_role(Role::Admin, codes::GANSU).await;
    let (topic, _) = open_topic(&app, codes::XIAGUANYING, "村道硬化工程").await;
    let (_, resident) = fast_resident(&app, codes::GUODIANZI).await;
    vote(&app, &resident, &topic, "OPPOSE", "补偿标准太低").await;

    let queries = page_queries();
    let names: Vec<&str> = queries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(queries.len() >= 25, "found only {names:?}");
    for heavy in HEAVIEST {
        assert!(names.contains(heavy), "{heavy} not among {names:?}");
    }
    for (name, doc) in &queries {
        let resp = app
            .gql(
                Some(&admin.access_token),
                doc,
                variables_for(name, &topic, &admin),
            )
            .await;
        let refused = resp["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED");
        assert!(refused.is_none(), "{name} refused: {resp:#}");
        // It ran: data, or errors from resolvers (which carry a path), as
        // when an explanation is asked before the outcome.
        let ran = !resp["data"].is_null()
            || resp["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().all(|e| e["path"].is_array()));
        assert!(ran, "{name} did not run: {resp:#}");
        if HEAVIEST.contains(&name.as_str()) {
            assert!(resp.get("errors").is_none(), "{name}: {resp:#}");
        }
    }
}

async fn lists_cost_their_page_so_nested_lists_under_large_pages_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    // Ancestors of each of 500 divisions, and theirs: cheap to write, and
    // 500 × 4 lookups if it ran.
    let nested = "{ divisions(first: 500) { nodes { code name pathName ancestors { code name pathName } } } }";
    let resp = app.gql(None, nested, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED", "complex");
    // The same at a small page runs.
    let small = nested.replace("first: 500", "first: 20");
    let data = app.ok(None, &small, json!({})).await;
    assert!(!data["divisions"]["nodes"].as_array().unwrap().is_empty());

    // The page size counts when it comes in a variable too.
    let query = "query($n: Int) { topics(first: $n) { nodes { id options { id label } scope { name pathName ancestors { name pathName } } } } }";
    let resp = app.gql(None, query, json!({ "n": 100 })).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED", "complex");
    app.ok(None, query, json!({ "n": 5 })).await;

    // Large pages of the same list side by side add up.
    let aliases: String = (0..6)
        .map(|i| format!("d{i}: divisions(first: 500) {{ nodes {{ code }} }} "))
        .collect();
    let resp = app.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED", "complex");
}

async fn the_field_cap_counts_fragments_where_they_are_spread_and_typename(backend: Backend) {
    let app = spawn_app(backend).await;
    // 60 spreads of a ten-field fragment: 70 fields written, 660 run.
    let fields =
        "code fullCode name level parentCode pathName a: code b: name c: level d: fullCode";
    let spreads: String = (0..60)
        .map(|i| format!("v{i}: division(code: \"62\") {{ ...D }} "))
        .collect();
    let query = format!("{{ {spreads} }} fragment D on Division {{ {fields} }}");
    let resp = app.gql(None, &query, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED", "fields");
    // Fewer spreads of it pass.
    let spreads: String = (0..20)
        .map(|i| format!("v{i}: division(code: \"62\") {{ ...D }} "))
        .collect();
    let data = app
        .ok(
            None,
            &format!("{{ {spreads} }} fragment D on Division {{ {fields} }}"),
            json!({}),
        )
        .await;
    assert_eq!(data["v19"]["pathName"], "甘肃省");

    // __typename counts like any field, spread or written.
    let typenames = |n: usize| {
        (0..n)
            .map(|i| format!("t{i}: __typename "))
            .collect::<String>()
    };
    let resp = app
        .gql(
            None,
            &format!(
                "{{ ...T ...T }} fragment T on Query {{ {} }}",
                typenames(300)
            ),
            json!({}),
        )
        .await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED", "fields");
    let data = app
        .ok(None, &format!("{{ {} }}", typenames(400)), json!({}))
        .await;
    assert_eq!(data["t399"], "Query");
}

// ---------------------------------------------------------------------------
// Batched lookups answer as lookups one at a time did.

async fn batched_paths_ancestors_and_names_are_those_of_each_item(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.with_role(Role::Admin, codes::GANSU).await;
    let one = "query($c: String!) { division(code: $c) { code pathName ancestors { code name } } }";
    let page = app
        .ok(
            None,
            "{ divisions(parentCode: \"620123\", first: 50) { nodes { code pathName ancestors { code name } } } }",
            json!({}),
        )
        .await;
    let nodes = page["divisions"]["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 2, "{page:#}");
    for node in nodes {
        let alone = app.ok(None, one, json!({ "c": node["code"] })).await;
        assert_eq!(alone["division"], *node);
    }
    assert_eq!(
        nodes[0]["ancestors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["62", "6201", "620123"]
    );

    // Topics of two scopes, each with its own scope and options; residency
    // requests with their residents' names.
    let (a, _) = open_topic(&app, codes::XIAGUANYING, "村道硬化工程").await;
    let (b, _) = open_topic(&app, codes::CHANGJIAXIANG, "垃圾分类点选址").await;
    let topics = app
        .ok(
            None,
            "{ topics(first: 10) { nodes { id scopeCode scope { code pathName } options { id } } } }",
            json!({}),
        )
        .await;
    let nodes = topics["topics"]["nodes"].as_array().unwrap();
    for (id, scope) in [(&a, codes::XIAGUANYING), (&b, codes::CHANGJIAXIANG)] {
        let node = nodes.iter().find(|n| n["id"] == *id).expect("listed");
        assert_eq!(node["scope"]["code"], scope);
        let alone = app
            .ok(
                None,
                "query($c: String!) { division(code: $c) { pathName } }",
                json!({ "c": scope }),
            )
            .await;
        assert_eq!(node["scope"]["pathName"], alone["division"]["pathName"]);
    }
    let mut requesters = Vec::new();
    for (village, name) in [(codes::GUODIANZI, "张三"), (codes::TAIPINGBAO, "李四")] {
        let user = app.register(name).await;
        app.ok(
            Some(&user.access_token),
            "mutation($v: String!) { requestResidency(villageCode: $v) { id } }",
            json!({ "v": village }),
        )
        .await;
        requesters.push((user.id, name, village));
    }
    let requests = app
        .ok(
            Some(&admin.access_token),
            "{ residencyRequests(first: 50) { nodes { divisionCode division { code } user { id displayName } } } }",
            json!({}),
        )
        .await;
    let nodes = requests["residencyRequests"]["nodes"].as_array().unwrap();
    for (id, name, village) in requesters {
        let node = nodes
            .iter()
            .find(|n| n["user"]["id"] == id.as_str())
            .expect("listed");
        assert_eq!(node["user"]["displayName"], name);
        assert_eq!(node["division"]["code"], village);
    }

    // Suggestions with whether the viewer supports each.
    let author = app.resident(codes::GUODIANZI).await;
    let neighbour = app.resident(codes::GUODIANZI).await;
    let mut ids = Vec::new();
    for title in ["硬化村道", "修建文化广场", "增设路灯"] {
        let data = app
            .ok(
                Some(&author.access_token),
                "mutation($input: SuggestTopicInput!) { suggestTopic(input: $input) { id } }",
                json!({ "input": {
                    "title": title,
                    "body": "三组到五组的村道雨天泥泞，老人孩子出行不便。",
                    "category": "TRANSPORT_WATER",
                } }),
            )
            .await;
        ids.push(data["suggestTopic"]["id"].as_str().unwrap().to_owned());
    }
    for id in [&ids[0], &ids[2]] {
        app.ok(
            Some(&neighbour.access_token),
            "mutation($id: ID!) { supportSuggestion(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    }
    let list = "{ suggestions(first: 50) { nodes { id supportedByMe division { code } } } }";
    for (who, supported) in [(&neighbour, vec![&ids[0], &ids[2]]), (&author, vec![])] {
        let data = app.ok(Some(&who.access_token), list, json!({})).await;
        let nodes = data["suggestions"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3, "{data:#}");
        for node in nodes {
            let id = node["id"].as_str().unwrap().to_owned();
            assert_eq!(node["supportedByMe"], supported.contains(&&id), "{node}");
            assert_eq!(node["division"]["code"], codes::GUODIANZI);
        }
    }
}

// ---------------------------------------------------------------------------
// Exports: streamed whole, and safe to open in a spreadsheet.

/// GETs a download with a token; returns its status and bytes.
async fn download(app: &TestApp, token: &str, path: &str) -> (u16, Vec<u8>) {
    let resp = app
        .client
        .get(format!("{}{path}", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// The rows of a CSV file, after its BOM.
fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .expect("starts with the BOM");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body)
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_owned).collect())
        .collect()
}

async fn cells_that_would_run_as_formulas_are_neutralised_in_both_csv_files(backend: Backend) {
    let app = spawn_app(backend).await;
    let title = "=HYPERLINK(\"http://evil.example/\",\"点此查看\")";
    let (topic, organiser) = open_topic(&app, codes::XIAGUANYING, title).await;
    let hostile = [
        "=1+2",
        "+86 138 0000 0000",
        "-负担太重",
        "@SUM(A1:A9)",
        "\t=cmd|' /C calc'!A0",
        "\r=2*3",
    ];
    let mut ids = Vec::new();
    for i in 0..hostile.len() {
        let (id, token) = fast_resident(&app, codes::GUODIANZI).await;
        vote(&app, &token, &topic, "OPPOSE", &format!("reason {i}")).await;
        ids.push(id);
    }
    // Written directly: the form trims what a spreadsheet would run, but a
    // proxy record, an import or an older version may not have.
    for (id, reason) in ids.iter().zip(hostile) {
        let reason = reason.replace('\'', "''");
        app.execute(&format!(
            "UPDATE opinions SET reason = '{reason}' WHERE user_id = {id}"
        ))
        .await;
        app.execute(&format!(
            "UPDATE users SET display_name = '{reason}' WHERE id = {id}"
        ))
        .await;
    }

    let (status, bytes) = download(
        &app,
        &organiser.access_token,
        &format!("/api/topics/{topic}/opinions.csv"),
    )
    .await;
    assert_eq!(status, 200);
    let rows = read_csv(&bytes);
    assert_eq!(rows[0][3], "reason");
    assert_eq!(rows.len(), 1 + hostile.len());
    for row in &rows[1..] {
        let reason = &row[3];
        assert!(reason.starts_with('\''), "{row:?}");
        assert!(hostile.contains(&&reason[1..]), "{row:?}");
        assert_eq!(row[4], *reason, "the resident's name too");
    }

    let (status, bytes) = download(
        &app,
        &organiser.access_token,
        &format!("/api/topics/{topic}/report.csv"),
    )
    .await;
    assert_eq!(status, 200);
    let rows = read_csv(&bytes);
    assert_eq!(rows[0], ["议题", &topic, &format!("'{title}")]);
    // Numbers stay numbers.
    let overall = rows.iter().find(|r| r[0] == codes::XIAGUANYING).unwrap();
    assert_eq!(overall[2], hostile.len().to_string());
}

async fn an_export_of_many_pages_streams_every_opinion_once_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let (topic, organiser) = open_topic(&app, codes::XIAGUANYING, "村道硬化工程").await;
    let topic_id: i64 = topic.parse().unwrap();
    // More than two pages of the export, written straight in.
    let count = 2 * yishi::domain::opinions::EXPORT_PAGE as usize + 37;
    let now = Utc::now();
    let models: Vec<_> = (0..count)
        .map(|i| yishi::entities::opinions::ActiveModel {
            topic_id: Set(topic_id),
            user_id: Set(None),
            village_code: Set(codes::GUODIANZI.to_owned()),
            choice: Set("oppose".to_owned()),
            reason: Set(Some(format!("理由 {i}"))),
            proxy: Set(true),
            proxy_name: Set(Some(format!("居民{i}"))),
            revision: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in models.chunks(200) {
        yishi::entities::opinions::Entity::insert_many(chunk.to_vec())
            .exec(app.services.db.writer())
            .await
            .unwrap();
    }

    let (status, bytes) = download(
        &app,
        &organiser.access_token,
        &format!("/api/topics/{topic}/opinions.csv"),
    )
    .await;
    assert_eq!(status, 200);
    let rows = read_csv(&bytes);
    assert_eq!(rows[0][0], "id");
    let ids: Vec<i64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(ids.len(), count);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, once each"
    );
    let mut reasons: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), count);

    // Who may not read opinions gets a refusal, not a file.
    let outsider = app.with_role(Role::Organiser, codes::CHENGGUAN_TOWN).await;
    let (status, body) = download(
        &app,
        &outsider.access_token,
        &format!("/api/topics/{topic}/opinions.csv"),
    )
    .await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "FORBIDDEN");
}

async fn dissent_themes_follow_new_opinions(backend: Backend) {
    let app = spawn_app(backend).await;
    let (topic, organiser) = open_topic(&app, codes::XIAGUANYING, "村道硬化工程").await;
    let themes = "query($t: ID!) { dissentThemes(topicId: $t) { keyword count } }";
    for _ in 0..2 {
        let (_, token) = fast_resident(&app, codes::GUODIANZI).await;
        vote(&app, &token, &topic, "OPPOSE", "补偿标准太低").await;
    }
    let first = app
        .ok(Some(&organiser.access_token), themes, json!({ "t": topic }))
        .await;
    let again = app
        .ok(Some(&organiser.access_token), themes, json!({ "t": topic }))
        .await;
    assert_eq!(first, again);
    let count_of = |data: &Value, keyword: &str| {
        data["dissentThemes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["keyword"] == keyword)
            .map(|t| t["count"].as_i64().unwrap())
    };
    assert_eq!(count_of(&first, "补偿"), Some(2), "{first:#}");
    assert_eq!(count_of(&first, "耕地"), None);

    // A new dissenting opinion moves the counters: the themes follow.
    let (_, token) = fast_resident(&app, codes::TAIPINGBAO).await;
    vote(&app, &token, &topic, "OPPOSE", "占用耕地，补偿不够").await;
    let after = app
        .ok(Some(&organiser.access_token), themes, json!({ "t": topic }))
        .await;
    assert_eq!(count_of(&after, "补偿"), Some(3), "{after:#}");
    assert_eq!(count_of(&after, "耕地"), Some(1), "{after:#}");
}

db_tests!(
    every_query_of_the_resident_and_admin_pages_passes_the_limits_at_its_page_size,
    lists_cost_their_page_so_nested_lists_under_large_pages_are_refused,
    the_field_cap_counts_fragments_where_they_are_spread_and_typename,
    batched_paths_ancestors_and_names_are_those_of_each_item,
    cells_that_would_run_as_formulas_are_neutralised_in_both_csv_files,
    an_export_of_many_pages_streams_every_opinion_once_newest_first,
    dissent_themes_follow_new_opinions,
);
