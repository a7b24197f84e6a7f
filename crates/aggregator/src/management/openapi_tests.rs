//! The OpenAPI document and its validation: the document is well formed
//! (OpenAPI 3.1 skeleton, draft 2020-12 schemas, no dangling `$ref`), the
//! validator refuses wrong answers, and every documented operation is
//! driven through the real router and validated, on success and on error.

use super::openapi_contract::{check, document, validate, Validated};
use super::tests::{api, backends, call, request, send, Answer, TOKEN};
use super::*;
use axum::body::Body;
use axum::http::{header, Method, Request};
use dyad_datastore::testing::{fixtures, sqlite_harness};
use dyad_messages::draft09::TaskId;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Every `(path, method)` the document has.
fn documented_operations() -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((path.clone(), method.clone()));
        }
    }
    operations
}

/// Every `$ref` string anywhere under `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                match (name.as_str(), member) {
                    ("$ref", Value::String(reference)) => found.push(reference.clone()),
                    _ => references(member, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

/// The path parameters an operation declares, by name.
fn declared_path_parameters(operation: &Value) -> BTreeSet<String> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|parameter| match parameter["$ref"].as_str() {
            Some(reference) => document().pointer(&reference[1..]).unwrap(),
            None => parameter,
        })
        .filter(|parameter| parameter["in"] == "path")
        .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_document_is_openapi_3_1_with_draft_2020_12_schemas_and_no_dangling_reference() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["security"], json!([{"bearer": []}]));

    let mut found = Vec::new();
    references(document, &mut found);
    assert!(found.len() > 50, "the document refers to its components");
    for reference in &found {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} leaves the document"));
        assert!(document.pointer(pointer).is_some(), "dangling {reference}");
    }

    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        jsonschema::draft202012::meta::validate(schema)
            .unwrap_or_else(|error| panic!("schema {name}: {error}"));
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        assert!(
            validate(&reference, &json!(null)).is_err(),
            "schema {name} accepts null"
        );
    }

    let mut operation_ids = BTreeSet::new();
    for (path, method) in documented_operations() {
        let operation = &document["paths"][&path][&method];
        let id = operation["operationId"].as_str().unwrap();
        assert!(
            operation_ids.insert(id.to_owned()),
            "operationId {id} twice"
        );
        let responses = operation["responses"].as_object().unwrap();
        for guarded in ["401", "406", "415"] {
            assert!(
                responses.contains_key(guarded),
                "{method} {path}: the guard's {guarded} is undocumented"
            );
        }
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path}: no success"
        );
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            declared_path_parameters(operation),
            in_path,
            "{method} {path}"
        );
    }
}

/// A task as `GET /tasks/{id}` answers it, and its path.
fn a_task_answer() -> (String, Value) {
    let task = fixtures::leader_task();
    let body = serde_json::to_value(task_json::TaskResponse::from_task(&task).unwrap()).unwrap();
    (format!("/tasks/{}", task.task_id()), body)
}

#[test]
fn the_validator_refuses_answers_the_document_does_not_allow() {
    let (path, task) = a_task_answer();
    let get = |status: u16, body: &Value| {
        check(
            &Method::GET,
            &path,
            status,
            b"",
            body.to_string().as_bytes(),
        )
    };
    assert_eq!(
        get(200, &task),
        Ok(Some(Validated {
            path: "/tasks/{task_id}".to_owned(),
            method: "get".to_owned(),
            status: 200,
        })),
        "the untouched answer is valid"
    );

    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 11] = [
        ("a required member missing", |t| {
            t.as_object_mut().unwrap().remove("vdaf_verify_key");
        }),
        ("an unknown member", |t| {
            t["collector_auth_token"] = json!("x")
        }),
        ("a padded task ID", |t| {
            t["task_id"] = json!(format!("{}=", t["task_id"].as_str().unwrap()));
        }),
        ("a role no task has", |t| t["role"] = json!("Collector")),
        ("a VDAF parameter out of range", |t| {
            t["vdaf"] = json!({"Prio3Sum": {"bits": 0}})
        }),
        (
            "a vector VDAF without dp_strategy",
            |t| t["vdaf"] = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2}}),
        ),
        (
            "a negative count",
            |t| {
                t["query_type"] =
                    json!({"FixedSize": {"max_batch_size": -1, "batch_time_window_size": null}})
            },
        ),
        ("a number as a string", |t| {
            t["min_batch_size"] = json!("10")
        }),
        ("an algorithm by number", |t| {
            t["collector_hpke_config"]["kem_id"] = json!(32)
        }),
        ("a verify key of 17 bytes", |t| {
            t["vdaf_verify_key"] = json!("AAAAAAAAAAAAAAAAAAAAAAA")
        }),
        ("a relative peer URL", |t| {
            t["peer_aggregator_endpoint"] = json!("helper.example")
        }),
    ];
    for (what, mutate) in mutations {
        let mut wrong = task.clone();
        mutate(&mut wrong);
        assert!(get(200, &wrong).is_err(), "{what}: {wrong}");
    }

    let problem =
        json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no task"});
    assert!(get(404, &problem).is_ok());
    let mut no_detail = problem.clone();
    no_detail.as_object_mut().unwrap().remove("detail");
    assert!(get(404, &no_detail).is_err(), "a problem without detail");
    assert!(
        get(409, &problem).is_err(),
        "a status the route never gives"
    );
    assert!(
        check(&Method::GET, &path, 404, b"", b"no task").is_err(),
        "an error body that is not a problem document"
    );
    assert!(
        check(&Method::POST, "/task_ids", 200, b"", b"{}").is_err(),
        "a method the path does not have"
    );
    assert!(
        check(&Method::DELETE, &path, 204, b"", b"{}").is_err(),
        "a body where none is documented"
    );
    assert!(
        check(&Method::GET, "/task_ids", 200, b"", b"").is_err(),
        "no body where one is documented"
    );
    assert!(
        check(&Method::GET, "/nope", 200, b"", b"{}").is_err(),
        "success on a path the document does not have"
    );
    assert!(
        check(
            &Method::PUT,
            "/hpke_configs",
            201,
            br#"{"surprise": 1}"#,
            br#"{"config": {"id": 0, "kem_id": "X25519HkdfSha256", "kdf_id": "HkdfSha256",
                "aead_id": "Aes128Gcm", "public_key": "AAAA"}, "state": "pending"}"#,
        )
        .is_err(),
        "a request accepted that the document does not allow"
    );
    assert!(
        check(&Method::GET, "/hpke_configs/256", 200, b"", b"{}").is_err(),
        "a path parameter out of range accepted"
    );
}

/// A body of `POST /tasks` for a new task in `role`.
fn new_task(role: &str) -> Value {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut verify_key = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut verify_key);
    let collector =
        dyad_core::hpke::HpkeKeypair::generate_default(dyad_messages::draft09::HpkeConfigId(7));
    let mut body = json!({
        "peer_aggregator_endpoint": "https://peer.example/",
        "query_type": "TimeInterval",
        "vdaf": {"Prio3Histogram": {"length": 4, "chunk_length": 2,
            "dp_strategy": {"dp_strategy": "NoDifferentialPrivacy"}}},
        "role": role,
        "vdaf_verify_key": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(verify_key),
        "max_batch_query_count": 1,
        "task_expiration": null,
        "min_batch_size": 10,
        "time_precision": 3600,
        "collector_hpke_config": models::HpkeConfigJson::from_config(collector.config()).unwrap(),
    });
    if role == "Leader" {
        body["aggregator_auth_token"] = json!({"type": "Bearer", "token": "helper-token"});
        body["collector_auth_token_hash"] = json!({
            "type": "Bearer",
            "hash": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]),
        });
    }
    body
}

/// A request with one header changed from a well-behaved client's.
fn with_header(method: Method, path: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    let mut request = request(method, path, None);
    request.headers_mut().insert(name, value.parse().unwrap());
    request
}

#[tokio::test]
async fn every_documented_operation_is_validated_on_success_and_on_an_error() {
    for datastore in backends().await {
        let router = api(&datastore);
        let mut seen: Vec<Answer> = Vec::new();
        let task = fixtures::leader_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&task]).await;
        let task_path = format!("/tasks/{}", task.task_id());
        let unknown_path = format!("/tasks/{}", TaskId::random());

        // GET /: 200; a client that does not ask for the API's type: 406.
        seen.push(call(&router, Method::GET, "/", None).await);
        seen.push(
            send(
                &router,
                with_header(Method::GET, "/", header::ACCEPT, "application/json"),
            )
            .await,
        );

        // GET /openapi.json: the checked-in document; without a token: 401.
        let served = call(&router, Method::GET, "/openapi.json", None).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.body, openapi::DOCUMENT.as_bytes());
        seen.push(served);
        let mut anonymous = request(Method::GET, "/openapi.json", None);
        anonymous.headers_mut().remove(header::AUTHORIZATION);
        seen.push(send(&router, anonymous).await);
        let bearer = with_header(
            Method::GET,
            "/openapi.json",
            header::AUTHORIZATION,
            &format!("Bearer {TOKEN}x"),
        );
        seen.push(send(&router, bearer).await);

        // GET /task_ids: a page; a malformed token: 400.
        seen.push(call(&router, Method::GET, "/task_ids", None).await);
        seen.push(call(&router, Method::GET, "/task_ids?pagination_token=x", None).await);

        // POST /tasks: created (Helper, then Leader); a malformed verify key:
        // 400; the same verify key with other parameters: 409.
        let helper = new_task("Helper");
        let created = call(&router, Method::POST, "/tasks", Some(helper.clone())).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.json());
        seen.push(created);
        seen.push(call(&router, Method::POST, "/tasks", Some(new_task("Leader"))).await);
        let mut malformed = new_task("Helper");
        malformed["vdaf_verify_key"] = json!("not base64!");
        seen.push(call(&router, Method::POST, "/tasks", Some(malformed)).await);
        let mut conflicting = helper.clone();
        conflicting["min_batch_size"] = json!(11);
        seen.push(call(&router, Method::POST, "/tasks", Some(conflicting)).await);

        // GET, PATCH, DELETE /tasks/{id}.
        seen.push(call(&router, Method::GET, &task_path, None).await);
        seen.push(call(&router, Method::GET, &unknown_path, None).await);
        seen.push(call(&router, Method::GET, "/tasks/AAAA", None).await);
        let expiration = Some(json!({"task_expiration": 2_000_000_000u64}));
        seen.push(call(&router, Method::PATCH, &task_path, expiration.clone()).await);
        seen.push(call(&router, Method::PATCH, &unknown_path, expiration).await);
        let bad_patch = Some(json!({"task_expiration": "soon"}));
        seen.push(call(&router, Method::PATCH, &task_path, bad_patch).await);

        // The metrics routes: counters; an unknown task: 404.
        for metrics in ["uploads", "aggregations"] {
            seen.push(
                call(
                    &router,
                    Method::GET,
                    &format!("{task_path}/metrics/{metrics}"),
                    None,
                )
                .await,
            );
            seen.push(
                call(
                    &router,
                    Method::GET,
                    &format!("{unknown_path}/metrics/{metrics}"),
                    None,
                )
                .await,
            );
        }

        seen.push(call(&router, Method::DELETE, &task_path, None).await);
        seen.push(call(&router, Method::DELETE, "/tasks/AAAA", None).await);

        // The global HPKE keys.
        seen.push(call(&router, Method::PUT, "/hpke_configs", Some(json!({}))).await);
        seen.push(
            call(
                &router,
                Method::PUT,
                "/hpke_configs",
                Some(json!({"kem_id": "Kyber"})),
            )
            .await,
        );
        seen.push(call(&router, Method::GET, "/hpke_configs", None).await);
        seen.push(
            send(
                &router,
                with_header(
                    Method::GET,
                    "/hpke_configs",
                    header::CONTENT_TYPE,
                    "application/json",
                ),
            )
            .await,
        );
        seen.push(call(&router, Method::GET, "/hpke_configs/0", None).await);
        seen.push(call(&router, Method::GET, "/hpke_configs/9", None).await);
        let active = Some(json!({"state": "active"}));
        seen.push(call(&router, Method::PATCH, "/hpke_configs/0", active.clone()).await);
        seen.push(call(&router, Method::PATCH, "/hpke_configs/9", active).await);
        seen.push(call(&router, Method::DELETE, "/hpke_configs/0", None).await);
        seen.push(call(&router, Method::DELETE, "/hpke_configs/x", None).await);

        // Taskprov peer aggregators: added, a second time 409, a body that
        // makes no peer 400; listed; deleted, a bad role 400.
        let peer = crate::management::taskprov_peer_tests::new_peer("Leader");
        let peers = "/taskprov/peer_aggregators";
        seen.push(call(&router, Method::POST, peers, Some(peer.clone())).await);
        seen.push(call(&router, Method::POST, peers, Some(peer)).await);
        seen.push(call(&router, Method::POST, peers, Some(json!({"endpoint": 1}))).await);
        seen.push(call(&router, Method::GET, peers, None).await);
        seen.push(
            send(
                &router,
                with_header(Method::GET, peers, header::ACCEPT, "application/json"),
            )
            .await,
        );
        let named = json!({"endpoint": "https://leader.example/", "role": "Leader"});
        seen.push(call(&router, Method::DELETE, peers, Some(named)).await);
        let bad_role = json!({"endpoint": "https://leader.example/", "role": "Client"});
        seen.push(call(&router, Method::DELETE, peers, Some(bad_role)).await);

        let validated: BTreeSet<Validated> = seen
            .into_iter()
            .filter_map(|answer| answer.validated)
            .collect();
        let mut missing = Vec::new();
        for (path, method) in documented_operations() {
            let statuses: Vec<u16> = validated
                .iter()
                .filter(|v| v.path == path && v.method == method)
                .map(|v| v.status)
                .collect();
            if !statuses.iter().any(|status| (200..300).contains(status)) {
                missing.push(format!("{method} {path}: no success"));
            }
            if !statuses.iter().any(|status| (400..500).contains(status)) {
                missing.push(format!("{method} {path}: no error"));
            }
        }
        assert!(missing.is_empty(), "not validated: {missing:#?}");
    }
}

#[tokio::test]
async fn the_served_document_needs_the_token_and_the_apis_media_type() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    let plain = with_header(
        Method::GET,
        "/openapi.json",
        header::ACCEPT,
        "application/json",
    );
    let answer = send(&router, plain).await;
    assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE);
    let served = call(&router, Method::GET, "/openapi.json", None).await;
    assert_eq!(served.content_type.as_deref(), Some(MEDIA_TYPE));
    assert_eq!(served.json()["info"]["title"], "dyad management API");
}

#[test]
fn every_vdaf_and_batch_mode_dyad_writes_is_in_the_document_and_new_tasks_take_those_post_tasks_takes(
) {
    use dyad_core::task::BatchMode;
    use dyad_core::vdaf::{FixedPointBitSize, VdafInstance, VDAF_TYPES};
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let vdafs = [
        VdafInstance::Prio3Count,
        VdafInstance::Prio3Sum { bits: 64 },
        VdafInstance::Prio3SumVec {
            bits: 127,
            length: 10,
            chunk_length: 3,
        },
        VdafInstance::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        },
        VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
            proofs: 2,
            bits: 63,
            length: 5,
            chunk_length: 2,
        },
        VdafInstance::Prio3FixedPointBoundedL2VecSum {
            bitsize: FixedPointBitSize::BitSize64,
            length: 3,
        },
        VdafInstance::Poplar1 { bits: 16 },
    ];
    let mut named = BTreeSet::new();
    for vdaf in &vdafs {
        let written = task_json::vdaf_json(vdaf);
        validate(&schema("VdafInstance"), &written).unwrap();
        // POST /tasks takes every VDAF, and so does the document.
        assert!(
            validate(&schema("NewVdafInstance"), &written).is_ok(),
            "{written}"
        );
        named.insert(vdaf.type_name());
    }
    assert_eq!(named, VDAF_TYPES.into_iter().collect(), "every VDAF tried");
    let advertised = &document()["components"]["schemas"]["AggregatorDescription"]["properties"]
        ["vdafs"]["items"]["enum"];
    let offered: Vec<&str> = VDAF_TYPES.into_iter().collect();
    assert_eq!(
        advertised,
        &json!(offered),
        "GET / may name every VDAF a task may use"
    );

    for mode in [
        BatchMode::TimeInterval,
        BatchMode::FixedSize {
            max_batch_size: Some(20),
        },
        BatchMode::FixedSize {
            max_batch_size: None,
        },
    ] {
        let written = task_json::query_type_json(&mode);
        for name in ["QueryType", "NewQueryType"] {
            validate(&schema(name), &written).unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    // What a new task may leave out, and what dyad refuses.
    let histogram = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2}});
    assert!(validate(&schema("NewVdafInstance"), &histogram).is_ok());
    assert!(validate(&schema("VdafInstance"), &histogram).is_err());
    let noisy = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2, "dp_strategy":
        {"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [1]]}}}});
    assert!(validate(&schema("NewVdafInstance"), &noisy).is_ok());
    assert!(validate(&schema("VdafInstance"), &noisy).is_ok());
    let zero_digits = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2, "dp_strategy":
        {"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[], [1]]}}}});
    assert!(validate(&schema("VdafInstance"), &zero_digits).is_err());
    // Every strategy dyad writes is in the document.
    for (vdaf, strategy) in [
        (
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2,
            },
            "PureDpDiscreteLaplace:1/3",
        ),
        (
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize32,
                length: 3,
            },
            "ZCdpDiscreteGaussian:5",
        ),
    ] {
        let written = task_json::vdaf_with_dp_json(&vdaf, &strategy.parse().unwrap());
        validate(&schema("VdafInstance"), &written).unwrap();
        validate(&schema("NewVdafInstance"), &written).unwrap();
    }
    assert!(validate(&schema("NewQueryType"), &json!({"FixedSize": {}})).is_ok());
    let windowed = json!({"FixedSize": {"max_batch_size": 10, "batch_time_window_size": 3600}});
    assert!(validate(&schema("NewQueryType"), &windowed).is_err());
}
